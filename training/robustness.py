"""Corruption robustness: accuracy (mAP50-95 for a detector) under the 15 corruptions of CIFAR-10-C /
ImageNet-C at 5 severities -> assets/metrics/<model>_robustness.json.

    python -m training.robustness                                # the four benchmarked models
    python -m training.robustness --model cifar10_cnn            # one (--model repeats)
    python -m training.robustness --model yolo11n --limit 8 --out /tmp/smoke   # a smoke run

Each set is corrupted once per corruption and severity (core.robustness.corruptions; image i gets
seed (SEED, i), the same at every severity) and every model of that set answers the same
corrupted images through the service layer, as training.evaluate scores them:
- CIFAR-10 (cifar10_cnn, mobilenet_v2_cifar10): a fixed stratified subset of the test set,
  CIFAR_SUBSET images (CIFAR-10-C's constants, 32 px). Each image's share of right answers over
  the 75 conditions varies with a standard deviation of about 0.25, so 3,000 images put the mean
  corrupted accuracy within about ±0.9 point at 95% (each file records the interval measured on
  its own images). A model too slow for that here (SUBSET_FOR) answers a nested stratified part.
- mobilenet_v2: IMAGENET_IMAGES images of the ImageNet sample, evenly spread over its classes.
  Each is first resized as the model resizes it (shorter side 256 = 224 / 0.875), so the
  corruption lands at ImageNet-C's scale, and the model then takes its 224-px centre crop:
  ImageNet-C's geometry, and on clean images the very pixels training.evaluate scores.
- yolo11n: COCO_IMAGES images of coco128, evenly spread, at their own resolution with
  ImageNet-C's constants (as COCO-C did), written as PNG and scored by Ultralytics' validator
  (core.evaluation.detection), mAP50-95, as training.evaluate scores the whole set.
The subset sizes are what this 2-core machine could run (75 conditions per set) beside other work.

Corruption error (Hendrycks & Dietterich, 2019): E = 1 - accuracy (1 - mAP50-95 for a detector);
CE_c = Σ_s E_{s,c} / Σ_s E^baseline_{s,c} and mCE their mean over the 15 corruptions, in %; the
relative mCE does the same with the drop from clean (E_{s,c} - E_clean). CIFAR-10's baseline is
cifar10_cnn, for both CIFAR models (its mCE is 100 by construction). The other sets have one model
here, so their files give the unnormalised mean error (the mean of E_{s,c}, in %) and say so.

The key "adversarial" (robust accuracy under FGSM and PGD at ε = 1, 2, 4 /255) is written by
`python -m training.adversarial` into the same file; a rerun here keeps it. With --adversarial N
this script computes it itself (core.robustness.adversarial) on N of the benchmark's images.

A smoke run (--limit) writes nothing unless --out says where.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from core import REGISTRY, config, frameworks, load_image, service
from core.evaluation.detection import IMAGES as COCO_IMAGE_FOLDER
from core.evaluation.detection import evaluate_yolo_folder
from core.io import atomic
from core.io.datasets import CIFAR10_CLASSES, stratified_indices
from core.models.preprocess import _center_crop_geometry  # the model's own resize, so the two cannot drift
from core.models.runtimes import file_digest, short_digest
from core.robustness.corruptions import CORRUPTIONS, SEVERITIES, check, constant_set, corrupt
from training import common
from training.cifar10 import data_dir, load_cifar10_test

# ---- settings --------------------------------------------------------------------------------------
DEFAULT_MODELS = ("cifar10_cnn", "mobilenet_v2_cifar10", "mobilenet_v2", "yolo11n")
SEED = 0  # corruption draws: image i of a set gets seed (SEED, i)
CIFAR_SUBSET = 3_000  # stratified, 300 per class: the mean corrupted accuracy within about ±1 point at 95%
CIFAR_SUBSET_SEED = 0
# Models too slow here for the whole subset answer a nested stratified part of it (the baseline's
# errors for their CE are taken on the same part)
SUBSET_FOR = {"mobilenet_v2_cifar10": 500}
IMAGENET_SAMPLE = "imagenet-sample"
IMAGENET_IMAGES = 200  # of the 500-image sample, evenly spread (CPU time: 75 conditions at 224 px)
COCO_IMAGES = 40  # of coco128, evenly spread (CPU time: 75 validations at 640 px)
COCO = "coco128"
BASELINES = {"cifar10": "cifar10_cnn"}  # per set: the model whose errors normalise the CE
BATCH = 32  # images per model call: larger batches were slower on this 2-core machine
ADVERSARIAL_IMAGES = 0  # images attacked here per classifier; 0 leaves it to training.adversarial
SCHEMA_VERSION = 1
METRICS_DIR = config.METRICS_DIR


@dataclass
class EvaluationSet:
    key: str  # "cifar10", "imagenet-sample", "coco128"
    images: list[np.ndarray]
    labels: np.ndarray | None  # None for a detection set (its labels are files)
    described: dict  # what the JSON records about it
    files: list[Path] = field(default_factory=list)  # a detection set's image files, in order
    parts: dict[str, np.ndarray] = field(default_factory=dict)  # model -> positions of its images, if not all
    parts_described: dict[str, dict] = field(default_factory=dict)  # model -> what the JSON records about them

    def members(self, name: str) -> np.ndarray:
        """The positions of the images model `name` answers."""
        return self.parts.get(name, np.arange(len(self.images)))


def set_of(name: str) -> str:
    """Which evaluation set model `name` is benchmarked on."""
    spec = REGISTRY[name]
    if spec.task == "classify" and spec.labels == CIFAR10_CLASSES:
        return "cifar10"
    if spec.task == "classify" and spec.dataset == "ImageNet-1k":
        return IMAGENET_SAMPLE
    if spec.task == "detect" and spec.dataset == "COCO 2017":
        return COCO
    raise SystemExit(f"error: {name} has no corruption benchmark here (CIFAR-10, ImageNet or COCO models only).")


def load_set(key: str, names: list[str], limit: int | None) -> EvaluationSet:
    if key == "cifar10":
        return _cifar10(names, limit)
    folder = data_dir() / key if data_dir() else None
    if folder is None or not folder.is_dir():
        raise SystemExit(f"error: {key} not found ({config.DATA_ENV} should hold {key}/).")
    return _imagenet_sample(folder, limit) if key == IMAGENET_SAMPLE else _coco(folder, limit)


def _cifar10(names: list[str], limit: int | None) -> EvaluationSet:
    """The stratified subset of the CIFAR-10 test set, and each model's nested part of it."""
    test, source = load_cifar10_test()
    largest = max(10, limit) if limit else CIFAR_SUBSET  # at least one image per class
    chosen = stratified_indices(test.labels, len(test.classes), largest, CIFAR_SUBSET_SEED)
    data = EvaluationSet("cifar10", list(test.images[chosen]), test.labels[chosen],
                         {"name": "CIFAR-10 test", "source": source, "subset_seed": CIFAR_SUBSET_SEED})
    for name in names:
        size = min(largest, SUBSET_FOR.get(name, largest))
        own = stratified_indices(test.labels, len(test.classes), size, CIFAR_SUBSET_SEED)  # a subset of `chosen`
        data.parts[name] = np.searchsorted(chosen, own)
        data.parts_described[name] = {
            "images": len(own), "subset_digest": test.subset(own).digest(),
            "subset": f"stratified: {len(own) // 10} per class of the 10,000 test images "
                      f"(core.io.datasets.stratified_indices, seed {CIFAR_SUBSET_SEED})"
                      + (f", nested in the {largest:,} the set's other models answer" if size < largest else "")}
    return data


def _imagenet_sample(folder: Path, limit: int | None) -> EvaluationSet:
    with open(folder / "labels.csv", newline="") as stream:
        every = list(csv.DictReader(stream))
    rows = [every[i] for i in spread(len(every), limit or IMAGENET_IMAGES)]
    spec = REGISTRY["mobilenet_v2"]
    images = [at_model_scale(load_image(folder / row["filename"]), spec.input_size, spec.crop_fraction) for row in rows]
    described = {"name": "ImageNet sample", "source": f"{config.DATA_ENV}/{IMAGENET_SAMPLE}", "images": len(rows),
                 "subset": f"{len(rows)} of the {len(every)} rows of labels.csv, evenly spread (numpy linspace)",
                 "note": "one image per even class index, probably ImageNet training images: a sanity check, not a "
                         "validation figure; each resized to a shorter side of 256 px before it is corrupted"}
    return EvaluationSet(IMAGENET_SAMPLE, images, np.array([int(row["class_index"]) for row in rows]), described)


def at_model_scale(image: np.ndarray, size: int, crop_fraction: float) -> np.ndarray:
    """`image` resized as a centre-cropping model's crop is sampled (the same pixel grid and filter;
    the model's own resize of the result is then a plain crop), at most one grey level from the
    pixels the model takes from `image` itself (rounding)."""
    width, height, _, _ = _center_crop_geometry(image.shape[0], image.shape[1], size, crop_fraction)
    return np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.BILINEAR))


def spread(total: int, count: int) -> list[int]:
    """`count` indices evenly spread over range(total), the first and last included."""
    return sorted({round(i) for i in np.linspace(0, total - 1, min(count, total))})


def _coco(folder: Path, limit: int | None) -> EvaluationSet:
    every = sorted((folder / COCO_IMAGE_FOLDER).glob("*.jpg"))
    files = [every[i] for i in spread(len(every), limit or COCO_IMAGES)]
    described = {"name": "coco128", "source": f"{config.DATA_ENV}/{COCO}", "images": len(files),
                 "subset": f"{len(files)} of its {len(every)} images in file order, evenly spread (numpy linspace)",
                 "note": "COCO train2017 images that COCO-trained detectors have seen: a sanity check; corrupted at "
                         "their own resolution, written as PNG, validated by Ultralytics at 640 px"}
    return EvaluationSet(COCO, [load_image(path) for path in files], None, described, files)


# ---- scoring ---------------------------------------------------------------------------------------

def classifier_correct(name: str, images: list[np.ndarray], labels: np.ndarray) -> np.ndarray:
    """Whether each image's top-1 answer is its label, through the service as every front end."""
    predictions = service.iter_predictions(name, images, batch_size=BATCH)
    return np.array([r.probabilities.argmax() for r in predictions]) == labels


def detector_map(name: str, data: EvaluationSet, images: list[np.ndarray]) -> float:
    """mAP50-95 of detector `name` on `images` (data's images, perhaps corrupted), by the same
    validator as training.evaluate: written as lossless PNG beside a copy of the set's labels."""
    model = service.load(name)
    source = data.files[0].parents[2]  # <set>/images/train2017/<file>
    with tempfile.TemporaryDirectory(prefix="vision-robustness-") as temp:
        root = Path(temp) / "data"
        (root / COCO_IMAGE_FOLDER).mkdir(parents=True)
        shutil.copytree(source / "labels", root / "labels", ignore=shutil.ignore_patterns("*.cache"))
        for path, image in zip(data.files, images):
            Image.fromarray(image).save(root / COCO_IMAGE_FOLDER / f"{path.stem}.png", compress_level=1)
        return evaluate_yolo_folder(model.weights, root, dict(enumerate(model.labels)))["map50_95"]


CLEAN = ("clean", 0)  # the condition key of the uncorrupted images


@dataclass
class Scores:
    """One model's answers on one set: the metric clean and per corruption and severity."""

    clean: float = 0.0
    table: dict[str, list[float]] = field(default_factory=lambda: {c: [] for c in CORRUPTIONS})
    # a classifier's answer per image (right or wrong) per condition (corruption, severity), for
    # the interval and for restricting a baseline to another model's images
    correct: dict[tuple[str, int], np.ndarray] = field(default_factory=dict)
    seconds: float = 0.0  # spent in the model and its scoring, in this process
    corrupting_by_corruption: dict[str, float] = field(default_factory=dict)  # read from checkpoints


def score(name: str, data: EvaluationSet, images: list[np.ndarray], scores: Scores, condition: tuple[str, int]) -> float:
    start = time.perf_counter()
    if data.labels is None:
        value = detector_map(name, data, images)
    else:
        members = data.members(name)
        correct = classifier_correct(name, [images[i] for i in members], data.labels[members])
        scores.correct[condition] = correct
        value = float(correct.mean())
    scores.seconds += time.perf_counter() - start
    return round(value, 5)


def restricted(scores: Scores, members: np.ndarray, part: np.ndarray) -> Scores:
    """A classifier's scores on `part` of the images it answered (`members`, a superset)."""
    where = np.searchsorted(members, part)
    table = {c: [round(float(scores.correct[(c, s)][where].mean()), 5) for s in SEVERITIES] for c in CORRUPTIONS}
    return Scores(clean=round(float(scores.correct[CLEAN][where].mean()), 5), table=table)


def benchmark(data: EvaluationSet, names: list[str], corruptions: tuple[str, ...] = CORRUPTIONS,
              checkpoints: Path | None = None) -> tuple[dict[str, Scores], float, float]:
    """Every model of `names` on data's clean and corrupted images: their scores, the seconds spent
    corrupting (shared) and the wall time spent. Prints a line per corruption. With `checkpoints`
    (a folder), each corruption's answers are saved there as they come, and answers already
    saved are read instead of recomputed: a run killed half-way resumes, and several processes
    can share the corruptions (--corruptions) before one run writes the files."""
    start = time.perf_counter()
    scores = {name: Scores() for name in names}
    for name in names:
        scores[name].clean = score(name, data, data.images, scores[name], CLEAN)
    print(f"{data.key}: {len(data.images)} images; clean " + ", ".join(f"{n} {s.clean:.4f}" for n, s in scores.items()),
          flush=True)
    corrupting = 0.0
    for corruption in corruptions:
        began = time.perf_counter()
        if checkpoints and all(_restore(checkpoints, name, corruption, scores[name]) for name in names):
            print(f"  {corruption:<18} read from {checkpoints}", flush=True)
            corrupting += scores[names[0]].corrupting_by_corruption[corruption]
            continue
        shared, before = 0.0, {name: scores[name].seconds for name in names}
        for name in names:
            scores[name].table[corruption] = []
        for severity in SEVERITIES:
            tick = time.perf_counter()
            corrupted = [corrupt(image, corruption, severity, seed=(SEED, i)) for i, image in enumerate(data.images)]
            shared += time.perf_counter() - tick
            for name in names:
                scores[name].table[corruption].append(score(name, data, corrupted, scores[name], (corruption, severity)))
        corrupting += shared
        if checkpoints:
            for name in names:
                _save(checkpoints, name, corruption, scores[name], shared, scores[name].seconds - before[name])
        values = "  ".join(f"{name} " + " ".join(f"{v:.3f}" for v in scores[name].table[corruption]) for name in names)
        print(f"  {corruption:<18} {values}  ({time.perf_counter() - began:.0f} s)", flush=True)
    return scores, corrupting, time.perf_counter() - start


def checkpoint_folder(data: EvaluationSet) -> Path:
    """Where a set's answers are saved as they come: named by what defines them (the images, the
    models' parts and the corruption seed), so a change of any starts afresh."""
    defined = json.dumps([data.described, data.parts_described, SEED, len(data.images)], sort_keys=True, default=str)
    return config.cache_dir() / "robustness" / f"{data.key}-{hashlib.sha256(defined.encode()).hexdigest()[:12]}"


def _checkpoint_file(folder: Path, name: str, corruption: str) -> Path:
    """Named by the model's version too: a retrained model never reads its predecessor's answers."""
    return folder / f"{name}-{short_digest(service.load(name).weights)}.{corruption}.npz"


def _save(folder: Path, name: str, corruption: str, scores: Scores, corrupting_s: float, scoring_s: float) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {f"correct_{s}": scores.correct[(corruption, s)] for s in SEVERITIES if (corruption, s) in scores.correct}
    with atomic.atomic_path(_checkpoint_file(folder, name, corruption)) as staged:
        np.savez(staged, table=np.array(scores.table[corruption]), corrupting_s=corrupting_s, scoring_s=scoring_s,
                 **arrays)


def _restore(folder: Path, name: str, corruption: str, scores: Scores) -> bool:
    path = _checkpoint_file(folder, name, corruption)
    if not path.is_file():
        return False
    with np.load(path) as saved:
        scores.table[corruption] = [float(v) for v in saved["table"]]
        for s in SEVERITIES:
            if f"correct_{s}" in saved:
                scores.correct[(corruption, s)] = saved[f"correct_{s}"]
        scores.corrupting_by_corruption[corruption] = float(saved["corrupting_s"])
        scores.seconds += float(saved["scoring_s"])  # spent by the process that computed them
    return True


# ---- corruption error ------------------------------------------------------------------------------

def corruption_errors(table: dict[str, list[float]], baseline: dict[str, list[float]]) -> dict[str, float]:
    """CE_c in %: the model's errors summed over severities over the baseline's."""
    return {c: round(100 * sum(1 - v for v in table[c]) / sum(1 - v for v in baseline[c]), 3) for c in CORRUPTIONS}


def relative_corruption_errors(table: dict, clean: float, baseline: dict,
                               baseline_clean: float) -> dict[str, float | None]:
    """Relative CE_c in %: the drop from clean, summed over severities, over the baseline's drop
    (None where the baseline does not drop)."""
    errors = {}
    for c in CORRUPTIONS:
        theirs = sum(baseline_clean - v for v in baseline[c])
        errors[c] = round(100 * sum(clean - v for v in table[c]) / theirs, 3) if theirs > 0 else None
    return errors


def mce_section(scores: Scores, baseline_name: str | None, baseline: Scores | None, metric: str) -> dict:
    if baseline is None:
        errors = [1 - v for c in CORRUPTIONS for v in scores.table[c]]
        drops = [scores.clean - v for c in CORRUPTIONS for v in scores.table[c]]
        return {"value": round(100 * float(np.mean(errors)), 3), "relative": round(100 * float(np.mean(drops)), 3),
                "baseline": None, "normalised": False,
                "definition": f"unnormalised: the mean of the error (1 - {metric}) over the 15 corruptions and 5 "
                              f"severities, in %; relative: the mean drop from clean {metric}, in points. No baseline "
                              "model is benchmarked on this set here."}
    ce = corruption_errors(scores.table, baseline.table)
    relative = relative_corruption_errors(scores.table, scores.clean, baseline.table, baseline.clean)
    known = [v for v in relative.values() if v is not None]
    return {"value": round(float(np.mean(list(ce.values()))), 3),
            "relative": round(float(np.mean(known)), 3) if known else None,
            "baseline": baseline_name, "normalised": True,
            "definition": f"Hendrycks & Dietterich (2019): CE_c = Σ_s E_s,c / Σ_s E_s,c of {baseline_name}, E = 1 - "
                          f"{metric}, both on this model's images; mCE is their mean over the 15 corruptions, in % "
                          f"({baseline_name}'s own is 100 "
                          "by construction); relative mCE uses E_s,c - E_clean",
            "per_corruption": ce, "relative_per_corruption": relative}


def interval95(scores: Scores) -> float | None:
    """Half-width of the 95% interval of the mean corrupted accuracy over the sampled images: each
    image's share of correct answers over the 75 conditions varies from image to image."""
    answers = [correct for condition, correct in scores.correct.items() if condition != CLEAN]
    if not answers or len(answers[0]) < 2:
        return None
    shares = np.mean(answers, axis=0)
    return round(float(1.96 * shares.std(ddof=1) / np.sqrt(len(shares))), 5)


# ---- the report ------------------------------------------------------------------------------------

def report(name: str, data: EvaluationSet, scores: Scores, baseline: tuple[str, Scores] | None,
           corrupting_s: float, total_s: float) -> dict:
    model = service.load(name)
    metric = "accuracy" if data.labels is not None else "map50_95"
    by_severity = [round(float(np.mean([scores.table[c][s] for c in CORRUPTIONS])), 5) for s in range(len(SEVERITIES))]
    return {
        "schema_version": SCHEMA_VERSION,
        "model": name,
        "task": REGISTRY[name].task,
        "metric": metric,
        "dataset": {**data.described, **data.parts_described.get(name, {}), "corruption_seed": SEED,
                    "constants": f"{constant_set(data.images[0].shape)} (core.robustness.corruptions)"},
        "clean": round(scores.clean, 5),
        "corruptions": {c: scores.table[c] for c in CORRUPTIONS},  # the metric at severities 1-5
        "mean_corrupted": round(float(np.mean(by_severity)), 5),
        "mean_corrupted_ci95": interval95(scores),
        "mean_by_severity": by_severity,
        "mce": mce_section(scores, *(baseline or (None, None)), metric),
        "provenance": {"model_file": model.weights.name, "model_sha256": file_digest(model.weights),
                       "model_version": getattr(model, "version", None), "git_commit": common.git_commit(),
                       "evaluated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "hardware": common.hardware(),
                       "script": "training/robustness.py"},
        # CPU-bound wall times; with checkpoints shared by several processes, "corrupting" and "this
        # model" add up what each process spent, "this run" is the process that wrote the file
        "wall_time_s": {"this model": round(scores.seconds, 1), "corrupting (shared by the set's models)":
                        round(corrupting_s, 1), "this run": round(total_s, 1)},
    }


def adversarial_section(name: str, data: EvaluationSet, images: int) -> dict | None:
    """Robust accuracy under FGSM/PGD at ε = 1, 2, 4 /255 from core.robustness.adversarial, on
    `images` images spread over the set; None for a detector, or when that module is absent."""
    if data.labels is None or images <= 0:
        return None
    try:
        from core.robustness import adversarial
    except ImportError:
        return None
    picked = spread(len(data.images), images)
    chosen, labels = [data.images[i] for i in picked], data.labels[picked]
    described = f"{data.described['name']}: {len(picked)} of the benchmark's images, evenly spread"
    if hasattr(adversarial, "adversarial_section"):
        return adversarial.adversarial_section(name, chosen, labels, described)
    results = adversarial.robust_accuracy(name, chosen, labels, (1 / 255, 2 / 255, 4 / 255))
    return {"dataset": described, "robust_accuracy": {f"{e * 255:g}/255": r for e, r in results.items()}}


def write(path: Path, content: dict) -> None:
    atomic.write_text(path, json.dumps(content, indent=1) + "\n")


def _recorded(path: Path) -> dict:
    """An earlier benchmark file's content ({} when there is none or it cannot be read)."""
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def run_set(key: str, names: list[str], limit: int | None, out: Path | None, adversarial_images: int,
            corruptions: tuple[str, ...] = CORRUPTIONS) -> None:
    baseline_name = BASELINES.get(key)
    if baseline_name and baseline_name not in names:
        print(f"{key}: {baseline_name}, the baseline of the corruption error, runs too (on the same images)")
        names = [baseline_name, *names]
    data = load_set(key, names, limit)
    checkpoints = checkpoint_folder(data)
    scores, corrupting, total = benchmark(data, names, corruptions, checkpoints)
    if corruptions != CORRUPTIONS:
        print(f"{key}: {len(corruptions)} corruptions saved in {checkpoints}; a run of all of them writes the files")
        return
    for name in names:
        baseline = None
        if baseline_name:  # on this model's images, which are among the baseline's
            baseline = (baseline_name, restricted(scores[baseline_name], data.members(baseline_name), data.members(name)))
        content = report(name, data, scores[name], baseline, corrupting, total)
        section = adversarial_section(name, data, adversarial_images)
        if section is None and out is not None:  # keep what training.adversarial wrote
            section = _recorded(out / f"{name}_robustness.json").get("adversarial")
        if section is not None:
            content["adversarial"] = section
        mce = content["mce"]
        print(f"{name}: clean {content['clean']:.4f}, mean corrupted {content['mean_corrupted']:.4f}"
              + (f" ±{content['mean_corrupted_ci95']:.4f}" if content["mean_corrupted_ci95"] else "")
              + f", mCE {mce['value']:.1f}"
              + (f" (baseline {mce['baseline']})" if mce["baseline"] else " (unnormalised)")
              + f"; {total:.0f} s")
        if out is not None:
            write(out / f"{name}_robustness.json", content)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", help=f"a model to benchmark (default: {', '.join(DEFAULT_MODELS)})")
    parser.add_argument("--limit", type=int, help="only this many images per set (a smoke run; writes only with --out)")
    parser.add_argument("--out", type=Path, help=f"where the JSON files go (default {METRICS_DIR}, unless --limit)")
    parser.add_argument("--corruptions", help="only these (comma-separated), saved as checkpoints for a later full "
                                              "run: several processes can share the work")
    parser.add_argument("--adversarial", type=int, default=ADVERSARIAL_IMAGES, metavar="N",
                        help="also attack N images per classifier (core.robustness.adversarial); by default the "
                             "section training.adversarial wrote into the file is kept")
    args = parser.parse_args(argv)
    names = args.model or list(DEFAULT_MODELS)
    unknown = [name for name in names if name not in REGISTRY]
    if unknown:
        raise SystemExit(f"error: unknown model(s) {', '.join(unknown)}; registered: {', '.join(REGISTRY)}")
    out = args.out if args.out or args.limit else METRICS_DIR
    frameworks.torch()  # Ultralytics' validator (PyTorch) runs after Keras models: PyTorch must come first
    by_set: dict[str, list[str]] = {}
    for name in names:
        by_set.setdefault(set_of(name), []).append(name)
    corruptions = tuple(args.corruptions.split(",")) if args.corruptions else CORRUPTIONS
    for corruption in corruptions:
        check(corruption, 1)
    for key, members in by_set.items():
        run_set(key, members, args.limit, out, args.adversarial, corruptions)


if __name__ == "__main__":
    main()
