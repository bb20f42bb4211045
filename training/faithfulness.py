"""How faithful is each explanation method, on average? Deletion and insertion AUCs over the
ImageNet sample, against random maps -> assets/metrics/<model>_faithfulness.json.

    python -m training.faithfulness                                  # mobilenet_v2, every method, 500 images
    python -m training.faithfulness --method gradcam --limit 50      # one method, 50 images spread over the classes

Each image's top class is explained by each method, as the app does by default, and scored as the
app scores it (core.explain.faithfulness: the target's probability as the map's top-ranked pixels
are blurred away, or revealed on the blurred image, in 16 steps). The random maps' curves are made
once per image and shared by the methods, so every method is compared with the same baseline. A
faithful method has a deletion AUC below random's and an insertion AUC above it.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from core import config, load_image, service
from core.explain.classifier import class_score, map_on_input
from core.explain.faithfulness import BLUR_SHARE, RANDOM_MAPS, STEPS, area, faithfulness, random_baseline
from core.explain.methods import METHODS
from core.io import atomic
from core.io.datasets import image_files_record
from training import common

# --- settings --------------------------------------------------------------------------------------
MODEL = "mobilenet_v2"
IMAGENET_SAMPLE = "imagenet-sample"  # in $VISION_DATA_DIR: 500 photos, one per even class index, labels.csv
CANVASES = {  # what removed pixels become; "blur" is what the app uses
    "blur": None,  # core.explain.faithfulness.blurred
    "black": lambda pixels: np.zeros_like(pixels),  # Petsiuk et al.'s deletion
    "grey": lambda pixels: np.full_like(pixels, 128),
}
SCHEMA_VERSION = 1
AUCS = ("deletion_auc", "insertion_auc")


def sample_rows(limit: int | None) -> list[dict]:
    """The sample's rows (filename, class_index, ...); `limit` of them spread evenly over the list,
    which is sorted by class, so a subset still spans animals, objects and scenes."""
    folder = config.data_dir() / IMAGENET_SAMPLE if config.data_dir() else None
    if folder is None or not (folder / "labels.csv").is_file():
        raise SystemExit(f"No ImageNet sample here: set {config.DATA_ENV} to a folder holding {IMAGENET_SAMPLE}/.")
    with open(folder / "labels.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    if limit and limit < len(rows):
        rows = [rows[i] for i in np.linspace(0, len(rows) - 1, limit).round().astype(int)]
    return [{**row, "path": folder / row["filename"]} for row in rows]


def score_image(model, row: dict, methods: list[str], canvas: str) -> dict:
    """One image: its top class, and each method's AUCs against the shared random baseline."""
    pixels = model.model_input(load_image(row["path"]))
    probabilities = model.probabilities(pixels[None])[0]
    index = int(np.argmax(probabilities))
    score = class_score(model, index)
    make_canvas = CANVASES[canvas]
    baseline = random_baseline(pixels, score, canvas=make_canvas(pixels) if make_canvas else None)
    found = {"image": row["filename"], "target": model.labels[index], "probability": round(float(probabilities[index]), 4),
             "correct": index == int(row["class_index"]),
             "random": {"deletion_auc": area(baseline.fractions, baseline.deletion),
                        "insertion_auc": area(baseline.fractions, baseline.insertion)}}
    for method in methods:
        start = time.perf_counter()
        heatmap = map_on_input(model, pixels, METHODS[method], index, model.spec.gradcam_layer)
        result = faithfulness(heatmap, pixels, score, baseline)
        found[method] = {"deletion_auc": result.deletion_auc, "insertion_auc": result.insertion_auc,
                         "seconds": time.perf_counter() - start}
    return found


def summarise(rows: list[dict], methods: list[str]) -> pd.DataFrame:
    """Per method and for random maps: mean AUCs, their standard errors, and how often the method
    beats random on the same image (deletion lower, insertion higher)."""
    table = []
    for method in [*methods, "random"]:
        aucs = pd.DataFrame([row[method] for row in rows])
        random = pd.DataFrame([row["random"] for row in rows])
        line = {"method": method}
        for auc in AUCS:
            line[auc] = aucs[auc].mean()
            line[f"{auc}_sem"] = aucs[auc].std(ddof=1) / np.sqrt(len(aucs)) if len(aucs) > 1 else float("nan")
        if method != "random":
            line["beats_random_deletion"] = (aucs["deletion_auc"] < random["deletion_auc"]).mean()
            line["beats_random_insertion"] = (aucs["insertion_auc"] > random["insertion_auc"]).mean()
            line["seconds_per_image"] = aucs["seconds"].mean()
        table.append(line)
    return pd.DataFrame(table).set_index("method")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=MODEL, help="an ImageNet classifier of the registry")
    parser.add_argument("--method", action="append", help="repeatable (default: every method the model offers)")
    parser.add_argument("--limit", type=int, help="use this many images, spread over the sample (default: all 500)")
    parser.add_argument("--canvas", choices=list(CANVASES), default="blur",
                        help="what removed pixels become (the app blurs; black and grey are for comparison)")
    parser.add_argument("--out", type=Path, help="the JSON file (default assets/metrics/<model>_faithfulness.json; "
                                                 "with another canvas, <model>_faithfulness_<canvas>.json)")
    args = parser.parse_args(argv)

    if service.model_info(args.model).dataset != "ImageNet-1k":
        parser.error(f"{args.model} is not an ImageNet classifier: the sample's labels would mean nothing to it")
    offered = service.methods(args.model)
    methods = args.method or list(offered)
    unknown = [m for m in methods if m not in offered]
    if unknown:
        parser.error(f"{args.model} offers {', '.join(offered)}, not {', '.join(unknown)}")
    model = service.load(args.model)
    images = sample_rows(args.limit)
    started = time.perf_counter()
    rows = [score_image(model, row, methods, args.canvas) for row in tqdm(images, desc="images", unit="img")]
    table = summarise(rows, methods)

    suffix = "" if args.canvas == "blur" else f"_{args.canvas}"
    out = args.out or config.METRICS_DIR / f"{args.model}_faithfulness{suffix}.json"
    report = {
        "schema_version": SCHEMA_VERSION,
        "model": args.model,
        "version": model.version,
        "dataset": f"ImageNet sample ({len(rows)} of its images; each explained for the model's top class, "
                   f"right on {sum(r['correct'] for r in rows)} of them)",
        "settings": {"steps": STEPS, "random_maps": RANDOM_MAPS, "canvas": args.canvas,
                     "blur_radius": f"{BLUR_SHARE:.4g} of the input's side" if args.canvas == "blur" else None,
                     "layer": model.spec.gradcam_layer, "score": "the top class's probability"},
        "summary": json.loads(table.round(4).reset_index().to_json(orient="records")),
        "wall_time_s": round(time.perf_counter() - started, 1),
        "git_commit": common.git_commit(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "per_image": [_rounded(row) for row in rows],
        "test_set": image_files_record(IMAGENET_SAMPLE, [row["filename"] for row in images]),
    }
    atomic.write_text(out, json.dumps(report, indent=1) + "\n")
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(table.round(3))
    print(f"{len(rows)} images, {args.canvas} canvas -> {out}")


def _rounded(row: dict) -> dict:
    return {key: {k: round(v, 4) for k, v in value.items()} if isinstance(value, dict) else value
            for key, value in row.items()}


if __name__ == "__main__":
    main()
