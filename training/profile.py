"""Reference profiles for drift monitoring: `python -m training.profile [--model NAME]`.

Each model's profile is computed on labelled data it was not trained on, so that live traffic of
the same kind looks like it (a model is more confident on its own training images, and a profile
built on them would raise false alarms):
- the CIFAR-10 models: the 5,000-image validation split (held out of training with a fixed seed);
  the tests' clean windows then come from the test set, the same distribution but other images;
- mobilenet_v2: the 500-image ImageNet sample (probably ImageNet training images: see its caveat);
- the detectors: coco128 (COCO train2017 images, which the detectors may have seen).

Records are made by the same functions as the prediction log's, on the same inputs.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
from pathlib import Path

import numpy as np
from tqdm import tqdm

from core import monitoring, service
from core.io.datasets import CIFAR10_CLASSES
from core.io.images import load_image
from core.models.registry import REGISTRY
from core.monitoring import profiles
from core.monitoring.writer import Pending
from training.cifar10 import data_dir, load_cifar10

BATCH = 64


def reference_images(name: str) -> tuple[list | np.ndarray, dict] | None:
    """The images of model `name`'s reference, and what they are; None when they are not here."""
    spec = REGISTRY[name]
    if spec.labels == CIFAR10_CLASSES:
        data = load_cifar10()
        return data.val.images, {"name": f"CIFAR-10 validation split ({len(data.val)} images, {data.source})",
                                 "images": len(data.val), "digest": data.val.digest()}
    folder = data_dir()
    if folder is None:
        return None
    if spec.dataset == "ImageNet-1k" and (folder / "imagenet-sample").is_dir():
        with open(folder / "imagenet-sample" / "labels.csv", newline="") as stream:
            files = [folder / "imagenet-sample" / row["filename"] for row in csv.DictReader(stream)]
        note = "probably ImageNet training images: a high-confidence reference"
        return files, _folder_record("ImageNet sample", files, note)
    if spec.task == "detect" and (folder / "coco128").is_dir():
        files = sorted((folder / "coco128" / "images" / "train2017").glob("*.jpg"))
        return files, _folder_record("coco128", files, "COCO train2017 images, which the detector may have seen")
    return None


def _folder_record(title: str, files: list[Path], note: str) -> dict:
    digest = hashlib.sha256("\n".join(path.name for path in files).encode()).hexdigest()[:16]
    return {"name": f"{title} ({len(files)} images)", "images": len(files), "digest": digest, "note": note}


def profile(name: str) -> Path | None:
    found = reference_images(name)
    if found is None:
        print(f"{name}: no reference data here (set VISION_DATA_DIR); skipped")
        return None
    images, data = found
    model = service.load(name)
    rows, vectors = [], []
    for image in tqdm(images, desc=f"{name} profile", unit="img"):
        pixels = image if isinstance(image, np.ndarray) else load_image(image)
        result = service.predict(name, pixels)
        rows.append(_row(result, pixels))
        if getattr(result, "features", None) is not None:
            vectors.append(result.features)
    built = profiles.build(name, model.version, REGISTRY[name].task, data, rows,
                           np.stack(vectors) if vectors else None)
    path = profiles.save(built)
    print(f"{name}: {len(rows)} reference records -> {path}")
    return path


def _row(result, pixels: np.ndarray) -> dict:
    """The columns the prediction log would record of this prediction (no embedding: the
    projection is fitted on these very images)."""
    record = monitoring.pending(result, pixels)
    return monitoring.finish(Pending(record.row, record.thumbnail))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", help="a registered model (default: every one)")
    args = parser.parse_args(argv)
    for name in args.model or list(REGISTRY):
        profile(name)


if __name__ == "__main__":
    main()
