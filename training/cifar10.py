"""Find CIFAR-10 and split it: 45,000 train / 5,000 validation (fixed seed) / 10,000 test.

Looked up in this order: the official python batches in $VISION_DATA_DIR/cifar-10-batches-py; a
folder per class in $VISION_DATA_DIR/cifar10/{train,test}/<class>/; Keras' own download (never
with VISION_OFFLINE set: then a missing local copy is an error naming VISION_DATA_DIR).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core import config, frameworks
from core.io.datasets import (CIFAR10_BATCHES, CIFAR10_CLASSES, CIFAR10_FOLDERS, KERAS_CIFAR10, KERAS_HOME,
                              LabelledImages, cifar10_batch_record, image_files_record, load_cifar10_batches,
                              load_image_folder, local_cifar10, stratified_split)

VALIDATION_SIZE = 5_000
SPLIT_SEED = 2024


@dataclass(frozen=True)
class Cifar10:
    train: LabelledImages
    val: LabelledImages
    test: LabelledImages
    source: str  # which copy was used: figures depend on it (the folder copy is JPEG-re-encoded)


def data_dir() -> Path | None:
    """$VISION_DATA_DIR, or None when unset (then there is no local data)."""
    return config.data_dir()


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


def recorded_test_split(test: LabelledImages) -> dict:
    """Where image i of the full test split (as load_cifar10_test returned it) can be read again,
    for the metrics file: the dashboard shows the images behind each confusion cell from there."""
    if test.files:  # the folder copy: its files in evaluation order
        return image_files_record(f"{CIFAR10_FOLDERS}/test", test.files)
    if local_cifar10() is not None:  # the official batches: image i is row i of test_batch
        return cifar10_batch_record(f"{CIFAR10_BATCHES}/test_batch", len(test))
    return cifar10_batch_record(f"{KERAS_CIFAR10}/test_batch", len(test), base=KERAS_HOME)


def _find(limit: int | None, test_only: bool = False) -> tuple[LabelledImages | None, LabelledImages, str]:
    found = local_cifar10()
    if found is not None and found[0] == "folders":
        folder = found[1]
        test = load_image_folder(folder / "test", limit_per_class=limit)
        train = None if test_only else load_image_folder(folder / "train", limit_per_class=limit)
        _check_classes(test)
        return train, test, "CIFAR-10 image folders (JPEG re-encoded copy, ~30 dB PSNR vs official pixels)"
    train, test, source = _load_arrays(found[1] if found else None)
    if limit is not None:
        train, test = _first_per_class(train, limit), _first_per_class(test, limit)
    return train, test, source


def _load_arrays(batches: Path | None) -> tuple[LabelledImages, LabelledImages, str]:
    if batches is not None:
        return (*load_cifar10_batches(batches), "CIFAR-10 official python batches")
    if config.offline():
        where = f"{config.DATA_ENV}={data_dir()}" if data_dir() else f"{config.DATA_ENV} is not set"
        raise FileNotFoundError(f"No local CIFAR-10 ({where}) and {config.OFFLINE_ENV} forbids Keras' download: "
                                f"set {config.DATA_ENV} to a folder holding {CIFAR10_BATCHES}/ or "
                                f"{CIFAR10_FOLDERS}/{{train,test}}/.")
    (x_train, y_train), (x_test, y_test) = frameworks.keras().datasets.cifar10.load_data()
    train = LabelledImages(x_train, y_train.ravel().astype(np.int64), CIFAR10_CLASSES)
    return train, LabelledImages(x_test, y_test.ravel().astype(np.int64), CIFAR10_CLASSES), "CIFAR-10 via Keras download"


def _check_classes(data: LabelledImages) -> None:
    if data.classes != CIFAR10_CLASSES:
        raise ValueError(f"Expected the CIFAR-10 class folders {CIFAR10_CLASSES}, found {data.classes}.")


def _first_per_class(data: LabelledImages, count: int) -> LabelledImages:
    keep = np.concatenate([np.flatnonzero(data.labels == c)[:count] for c in range(len(data.classes))])
    return data.subset(keep)
