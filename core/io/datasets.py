"""Labelled image datasets as arrays: a folder per class (any names, any image size), or CIFAR-10;
and the record of which images an evaluation used, so that image i can be read again."""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core import config
from core.io.images import load_image
from core.models.preprocess import fit_to_input

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR10_BATCHES = "cifar-10-batches-py"  # the official python batches, under the data folder
CIFAR10_FOLDERS = "cifar10"  # a folder per class under train/ and test/ (our JPEG copy)
# Where keras.datasets.cifar10.load_data() unpacks its download, under $KERAS_HOME
KERAS_CIFAR10 = "datasets/cifar-10-batches-py-target/cifar-10-batches-py"
KERAS_HOME = "KERAS_HOME"


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
        pixels, labels = zip(*(_decode_batch(folder / name) for name in names))
        return np.concatenate(pixels), np.concatenate(labels)

    train = read([f"data_batch_{i}" for i in range(1, 6)])
    test = read(["test_batch"])
    return LabelledImages(*train, CIFAR10_CLASSES), LabelledImages(*test, CIFAR10_CLASSES)


def local_cifar10(root: Path | None = None) -> tuple[str, Path] | None:
    """Which copy of CIFAR-10 the data folder (default $VISION_DATA_DIR) holds: ("batches", folder)
    for the official batches, ("folders", folder) for a folder per class, preferred in that order;
    None when it holds neither (or no data folder is set). Never downloads."""
    root = root if root is not None else config.data_dir()
    if root is None:
        return None
    if (root / CIFAR10_BATCHES).is_dir():
        return "batches", root / CIFAR10_BATCHES
    if (root / CIFAR10_FOLDERS / "test").is_dir():
        return "folders", root / CIFAR10_FOLDERS
    return None


def local_cifar10_train(limit_per_class: int) -> LabelledImages | None:
    """The first `limit_per_class` training images of each class from the local copy (the first
    official batch is enough for that), or None without a local copy."""
    found = local_cifar10()
    if found is None:
        return None
    kind, folder = found
    if kind == "folders":
        return load_image_folder(folder / "train", limit_per_class=limit_per_class)
    pixels, labels = _decode_batch(folder / "data_batch_1")
    keep = np.concatenate([np.flatnonzero(labels == c)[:limit_per_class] for c in range(len(CIFAR10_CLASSES))])
    return LabelledImages(pixels[keep], labels[keep], CIFAR10_CLASSES)


# What training/evaluate.py writes as "test_set" in a metrics file: where image i of the evaluation
# is. "base" names the folder the path is under (a variable, not this machine's path), and image i
# is `files[i]` under the path ("files"), or row i of one pickled CIFAR-10 batch ("cifar10_batch").
def image_files_record(path: str, files: list[str] | tuple[str, ...], base: str = config.DATA_ENV) -> dict:
    return {"kind": "files", "base": base, "path": path, "images": len(files), "files": list(files)}


def cifar10_batch_record(path: str, images: int, base: str = config.DATA_ENV) -> dict:
    return {"kind": "cifar10_batch", "base": base, "path": path, "images": images}


def recorded_image(record: dict, index: int) -> np.ndarray:
    """Image `index` of a recorded test set, as RGB uint8. FileNotFoundError, with a message that
    says which folder or variable is missing, when the images are not on this machine."""
    if not 0 <= index < record["images"]:
        raise IndexError(f"Image {index} is not in the recorded test set of {record['images']} images.")
    location = _recorded_base(record["base"]) / record["path"]
    if record["kind"] not in ("files", "cifar10_batch"):
        raise ValueError(f"Unknown kind {record['kind']!r} of a recorded test set.")
    if record["kind"] == "cifar10_batch":
        if not location.is_file():
            raise FileNotFoundError(f"The evaluated CIFAR-10 batch is not here: {location}.")
        return _read_batch(location)[0][index].copy()  # the kept batch must not be changed by a caller
    path = location / record["files"][index]
    if not path.is_file():
        raise FileNotFoundError(f"The evaluated images are not here: {path} is missing.")
    return load_image(path)


def _recorded_base(base: str) -> Path:
    if base == KERAS_HOME:
        return config.keras_cache_dir().parent  # $KERAS_HOME/models -> $KERAS_HOME
    if base != config.DATA_ENV:
        raise ValueError(f"Unknown base {base!r} in a recorded test set.")
    root = config.data_dir()
    if root is None:
        raise FileNotFoundError(f"{config.DATA_ENV} is not set, and the evaluated images are under it.")
    return root


@functools.lru_cache(maxsize=2)
def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """_decode_batch, kept: a gallery reads a dozen images of the same batch at each rerun."""
    return _decode_batch(path)


def _decode_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One official batch (10,000 images) as N×32×32×3 RGB pixels and int64 labels."""
    batch = pickle.loads(path.read_bytes(), encoding="bytes")
    pixels = batch[b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(pixels), np.asarray(batch[b"labels"], np.int64)


def stratified_split(data: LabelledImages, holdout: int, seed: int) -> tuple[LabelledImages, LabelledImages]:
    """Split off `holdout` examples, the same share of every class, reproducibly."""
    held = stratified_indices(data.labels, len(data.classes), holdout, seed)
    kept = np.setdiff1d(np.arange(len(data)), held)
    return data.subset(kept), data.subset(held)


def stratified_indices(labels: np.ndarray, classes: int, count: int, seed: int) -> np.ndarray:
    """The sorted indices of `count` examples, the same number of every class, reproducibly. Each
    class's order is one seeded permutation whatever `count` is, so a smaller count picks a subset
    of a larger one's picks (nested subsets, for models that can afford fewer images)."""
    rng = np.random.default_rng(seed)
    per_class = count // classes
    return np.sort(np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in range(classes)]))


def _natural(path: Path) -> tuple:
    """0002.jpg before 0010.jpg, so a file's number is its rank."""
    stem = path.stem
    return (0, int(stem), "") if stem.isdigit() else (1, 0, stem)
