"""Find CIFAR-10 and split it: 45,000 train / 5,000 validation (fixed seed) / 10,000 test.

Looked up in this order: the official python batches in $VISION_DATA_DIR/cifar-10-batches-py; a
folder per class in $VISION_DATA_DIR/cifar10/{train,test}/<class>/; Keras' own download.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core import frameworks
from core.io.datasets import CIFAR10_CLASSES, LabelledImages, load_cifar10_batches, load_image_folder, stratified_split

VALIDATION_SIZE = 5_000
SPLIT_SEED = 2024


@dataclass(frozen=True)
class Cifar10:
    train: LabelledImages
    val: LabelledImages
    test: LabelledImages
    source: str  # which copy was used: figures depend on it (the folder copy is JPEG-re-encoded)


def data_dir() -> Path:
    return Path(os.environ.get("VISION_DATA_DIR", "data")).expanduser()


def load_cifar10(limit_per_class: int | None = None) -> Cifar10:
    """All of CIFAR-10, or the first `limit_per_class` images of each class (folder copy only)."""
    train, test, source = _find(limit_per_class)
    holdout = VALIDATION_SIZE if limit_per_class is None else len(train) // 10
    train_part, val = stratified_split(train, holdout, SPLIT_SEED)
    return Cifar10(train_part, val, test, source)


def load_cifar10_test(limit_per_class: int | None = None) -> tuple[LabelledImages, str]:
    """Only the test split (evaluation never needs the training images)."""
    _, test, source = _find(limit_per_class, test_only=True)
    return test, source


def _find(limit: int | None, test_only: bool = False) -> tuple[LabelledImages | None, LabelledImages, str]:
    folder = data_dir() / "cifar10"
    if not (data_dir() / "cifar-10-batches-py").is_dir() and (folder / "test").is_dir():
        test = load_image_folder(folder / "test", limit_per_class=limit)
        train = None if test_only else load_image_folder(folder / "train", limit_per_class=limit)
        _check_classes(test)
        return train, test, "CIFAR-10 image folders (JPEG re-encoded copy, ~30 dB PSNR vs official pixels)"
    train, test, source = _load_arrays()
    if limit is not None:
        train, test = _first_per_class(train, limit), _first_per_class(test, limit)
    return train, test, source


def _load_arrays() -> tuple[LabelledImages, LabelledImages, str]:
    batches = data_dir() / "cifar-10-batches-py"
    if batches.is_dir():
        return (*load_cifar10_batches(batches), "CIFAR-10 official python batches")
    (x_train, y_train), (x_test, y_test) = frameworks.keras().datasets.cifar10.load_data()
    train = LabelledImages(x_train, y_train.ravel().astype(np.int64), CIFAR10_CLASSES)
    return train, LabelledImages(x_test, y_test.ravel().astype(np.int64), CIFAR10_CLASSES), "CIFAR-10 via Keras download"


def _check_classes(data: LabelledImages) -> None:
    if data.classes != CIFAR10_CLASSES:
        raise ValueError(f"Expected the CIFAR-10 class folders {CIFAR10_CLASSES}, found {data.classes}.")


def _first_per_class(data: LabelledImages, count: int) -> LabelledImages:
    keep = np.concatenate([np.flatnonzero(data.labels == c)[:count] for c in range(len(data.classes))])
    return data.subset(keep)
