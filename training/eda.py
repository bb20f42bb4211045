"""Dataset reports for the app's data page -> assets/eda/ (JSON figures + PNG image grids).

    python -m training.eda

CIFAR-10: class counts per split, image sizes, pixel statistics, a sample grid per class and a grid
of augmented samples. coco128: boxes per class, box sizes, boxes per image, image sizes. Each report
ends with findings written from the numbers.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

from core import config
from core.evaluation.detection import read_yolo_labels
from core.io import atomic
from core.viz.grids import augmentation_grid, image_grid  # the data page draws its previews with these too
from training.cifar10 import data_dir, load_cifar10

EDA_DIR = config.EDA_DIR
SAMPLES_PER_CLASS = 10
SMALL_BOX = 32 * 32  # COCO's "small" objects: under 32x32 pixels


def cifar10_report(out: Path) -> dict:
    data = load_cifar10()
    splits = {"train": data.train, "val": data.val, "test": data.test}
    counts = {name: np.bincount(split.labels, minlength=len(split.classes)).tolist() for name, split in splits.items()}
    pixels = data.train.images.reshape(-1, 3).astype(np.float64)
    report = {
        "dataset": data.source,
        "classes": list(data.train.classes),
        "counts": counts,
        "image_size": list(data.train.images.shape[1:3]),
        "pixel_mean": pixels.mean(axis=0).round(2).tolist(),
        "pixel_std": pixels.std(axis=0).round(2).tolist(),
        "class_brightness": [round(float(data.train.images[data.train.labels == c].mean()), 1)
                             for c in range(len(data.train.classes))],
    }
    report["findings"] = cifar10_findings(report)
    for name, grid in (("cifar10_samples.png", sample_grid(data.train)), ("cifar10_augmented.png",
                                                                           augmentation_grid(data.train))):
        with atomic.atomic_path(out / name) as staged:
            grid.save(staged)
    report["images"] = {"samples": "cifar10_samples.png", "augmented": "cifar10_augmented.png"}
    return report


def cifar10_findings(report: dict) -> list[str]:
    counts = report["counts"]
    balanced = all(len(set(c)) == 1 for c in counts.values())
    sizes = ", ".join(f"{name} {sum(c):,}" for name, c in counts.items())
    brightness = report["class_brightness"]
    darkest, brightest = int(np.argmin(brightness)), int(np.argmax(brightness))
    return [
        ("Balanced: every class has the same number of images in each split" if balanced else "Imbalanced classes")
        + f" ({sizes}).",
        f"All images are {report['image_size'][0]}x{report['image_size'][1]} pixels: the ImageNet models must "
        "upscale them, and fine detail is simply not there.",
        f"Mean brightness ranges from {brightness[darkest]} ({report['classes'][darkest]}) to {brightness[brightest]} "
        f"({report['classes'][brightest]}) of 255: backgrounds (sky, sea) differ by class, a shortcut a model can learn.",
        "This copy is JPEG-re-encoded (quality 75): compression artefacts on 32-pixel images, figures can differ by "
        "about a point from the official pixels.",
    ]


def sample_grid(data, rng_seed: int = 0) -> Image.Image:
    """SAMPLES_PER_CLASS random training images per class, one row per class, labelled."""
    rng = np.random.default_rng(rng_seed)
    rows = [data.images[rng.choice(np.flatnonzero(data.labels == c), SAMPLES_PER_CLASS, replace=False)]
            for c in range(len(data.classes))]
    return image_grid(rows, list(data.classes))


def coco128_report(folder: Path, names: list[str]) -> dict:
    """Box statistics from the YOLO label files (class cx cy w h, normalised to the image)."""
    images = sorted((folder / "images" / "train2017").glob("*.jpg"))
    sizes, per_class, per_image, areas, relative = [], np.zeros(len(names), int), [], [], []
    for path in images:
        width, height = Image.open(path).size
        sizes.append((width, height))
        rows = read_yolo_labels(folder / "labels" / "train2017" / f"{path.stem}.txt")
        per_image.append(len(rows))
        for cls, _, _, w, h in rows:
            per_class[int(cls)] += 1
            areas.append(w * width * h * height)
            relative.append(float(np.sqrt(w * h)))
    label_stems = {p.stem for p in (folder / "labels" / "train2017").glob("*.txt")}
    report = {
        "dataset": f"coco128 ({len(images)} images)",
        "box_counts": {names[c]: int(n) for c, n in enumerate(per_class) if n},
        "boxes_per_image": np.bincount(per_image).tolist(),
        "box_area_px": np.histogram(np.sqrt(areas), bins=[0, 8, 16, 32, 64, 96, 128, 256, 640])[0].tolist(),
        "box_area_bins": [0, 8, 16, 32, 64, 96, 128, 256, 640],
        "box_relative_size": np.histogram(relative, bins=10, range=(0, 1))[0].tolist(),
        "image_sizes": {"width": _stats([w for w, _ in sizes]), "height": _stats([h for _, h in sizes])},
        "small_boxes": int(np.sum(np.asarray(areas) < SMALL_BOX)),
        "boxes": len(areas),
        "images_without_labels": sorted(p.name for p in images if p.stem not in label_stems),
        "labels_without_images": sorted(f"{s}.txt" for s in label_stems - {p.stem for p in images}),
    }
    report["findings"] = coco128_findings(report)
    return report


def coco128_findings(report: dict) -> list[str]:
    counts = sorted(report["box_counts"].items(), key=lambda item: -item[1])
    top, total = counts[0], report["boxes"]
    rare = [name for name, n in counts if n <= 2]
    return [
        f"Imbalanced: {top[0]} has {top[1]} of {total} boxes ({top[1] / total:.0%}); {len(rare)} of "
        f"{len(counts)} classes have at most 2 boxes, so their per-class AP rests on one or two objects.",
        f"{report['small_boxes']} boxes ({report['small_boxes'] / total:.0%}) are small (under 32x32 pixels), "
        "where detectors are weakest.",
        f"{len(report['images_without_labels'])} images have no label file (every detection there is a false "
        f"positive) and {len(report['labels_without_images'])} label files have no image.",
        "These are COCO train2017 images, which COCO-trained detectors have seen: a sanity check, not a benchmark.",
    ]


def _stats(values: list[int]) -> dict:
    return {"min": int(np.min(values)), "median": float(np.median(values)), "max": int(np.max(values))}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=EDA_DIR)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    from core import get_model

    reports = {"cifar10": cifar10_report(args.out)}
    coco = data_dir() / "coco128" if data_dir() else None
    if coco is not None and coco.is_dir():
        reports["coco128"] = coco128_report(coco, list(get_model("yolo11n").labels))
    for name, report in reports.items():
        atomic.write_text(args.out / f"{name}.json", json.dumps(report, indent=1) + "\n")
        print(f"{name}:", *report["findings"], sep="\n  - ")


if __name__ == "__main__":
    main()
