"""Labelled image datasets as arrays: a folder per class (any names, any image size), or CIFAR-10."""

from __future__ import annotations

import hashlib
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.io.images import load_image
from core.models.preprocess import fit_to_input

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


@dataclass(frozen=True)
class LabelledImages:
    images: np.ndarray  # N×H×W×3 uint8, RGB
    labels: np.ndarray  # N int64 class indices
    classes: tuple[str, ...]
    files: tuple[str, ...] = ()  # where each image came from, when known

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, indices: np.ndarray) -> LabelledImages:
        files = tuple(self.files[i] for i in indices) if self.files else ()
        return LabelledImages(self.images[indices], self.labels[indices], self.classes, files)

    def digest(self) -> str:
        """A short content hash of pixels, labels and class names, recorded with every model."""
        digest = hashlib.sha256()
        for part in (self.images, self.labels, np.array(self.classes)):
            digest.update(np.ascontiguousarray(part).tobytes())
        return digest.hexdigest()[:16]


def load_image_folder(root: str | os.PathLike, size: int | None = None, limit_per_class: int | None = None) -> LabelledImages:
    """Images under root/<class>/..., classes in sorted order, files in natural order.

    `size` resizes every image to size×size (needed when images differ in size).
    """
    root = Path(root)
    classes, paths, labels = image_folder_files(root, limit_per_class)
    images = []
    for path in paths:
        pixels = load_image(path)
        images.append(fit_to_input(pixels, size) if size else pixels)
    files = tuple(str(path.relative_to(root)) for path in paths)
    return LabelledImages(np.stack(images), np.array(labels, np.int64), classes, files)


def image_folder_files(root: Path, limit_per_class: int | None = None) -> tuple[tuple[str, ...], list[Path], list[int]]:
    """Class names, image paths and labels of a folder-per-class set, in load_image_folder's order
    (so index i of an evaluation is paths[i])."""
    classes = tuple(sorted(p.name for p in root.iterdir() if p.is_dir()))
    if not classes:
        raise FileNotFoundError(f"No class folders under {root}.")
    paths, labels = [], []
    for index, name in enumerate(classes):
        found = sorted((p for p in (root / name).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=_natural)
        paths.extend(found[:limit_per_class])
        labels.extend([index] * len(found[:limit_per_class]))
    return classes, paths, labels


def load_cifar10_batches(folder: str | os.PathLike) -> tuple[LabelledImages, LabelledImages]:
    """The official python batches (cifar-10-batches-py): train and test, in the official order."""
    folder = Path(folder)

    def read(names: list[str]) -> tuple[np.ndarray, np.ndarray]:
        batches = [pickle.loads((folder / name).read_bytes(), encoding="bytes") for name in names]
        pixels = np.concatenate([b[b"data"] for b in batches]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        return np.ascontiguousarray(pixels), np.concatenate([b[b"labels"] for b in batches]).astype(np.int64)

    train = read([f"data_batch_{i}" for i in range(1, 6)])
    test = read(["test_batch"])
    return LabelledImages(*train, CIFAR10_CLASSES), LabelledImages(*test, CIFAR10_CLASSES)


def stratified_split(data: LabelledImages, holdout: int, seed: int) -> tuple[LabelledImages, LabelledImages]:
    """Split off `holdout` examples, the same share of every class, reproducibly."""
    rng = np.random.default_rng(seed)
    per_class = holdout // len(data.classes)
    held = np.concatenate([rng.permutation(np.flatnonzero(data.labels == c))[:per_class] for c in range(len(data.classes))])
    kept = np.setdiff1d(np.arange(len(data)), held)
    return data.subset(kept), data.subset(np.sort(held))


def _natural(path: Path) -> tuple:
    """0002.jpg before 0010.jpg, so a file's number is its rank."""
    stem = path.stem
    return (0, int(stem), "") if stem.isdigit() else (1, 0, stem)
