"""Cached feature maps for transfer learning on a CPU: the frozen part of a network runs once per
image (and per augmented copy), and training then reads the cache instead of recomputing it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from core import frameworks
from core.models.runtimes import cache_dir
from core.models.weights import keras_cache_dir, resolve_file
from training.architectures import augmentation

KERAS_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"
CHUNK = 250  # images per forward pass while caching


@dataclass(frozen=True)
class Cached:
    """Features of the training images (one array per copy: plain, then augmented) and of the
    validation images, with their labels."""

    train_copies: tuple[np.ndarray, ...]
    train_labels: np.ndarray
    val: np.ndarray
    val_labels: np.ndarray
    num_classes: int

    def steps_per_epoch(self, batch_size: int) -> int:
        return len(self.train_labels) // batch_size

    def training_batches(self, batch_size: int, seed: int, shift: int = 0, mixup: float = 0.0):
        """Shuffled batches; each epoch every image comes from one of its copies, drawn at random,
        with `shift`, moved by up to that many cells (see random_shifts), and with `mixup`, blended
        with another image of its batch (see mixed)."""
        return _batches(self, batch_size, seed, shift, mixup)

    def validation_batches(self, batch_size: int):
        return _batches(self, batch_size, seed=None)

    def plain(self) -> Cached:
        """Only the plain copy of the training features (what the head trains on)."""
        return Cached(self.train_copies[:1], self.train_labels, self.val, self.val_labels, self.num_classes)

    def through(self, model) -> Cached:
        """The same features passed through `model` (e.g. the layers up to the pooled vector)."""
        return Cached(
            tuple(_predict(model, copy, "features") for copy in self.train_copies),
            self.train_labels,
            _predict(model, self.val, "features"),
            self.val_labels,
            self.num_classes,
        )


def submodel(model, from_layer: str, to_layer: str):
    """The layers of `model` between two named layers, sharing their weights with `model`."""
    keras = frameworks.keras()
    return keras.Model(model.get_layer(from_layer).output, model.get_layer(to_layer).output)


def resolve_no_top_weights(filename: str, explicit: Path | None) -> Path:
    keras = frameworks.keras()
    return resolve_file(
        filename,
        explicit=explicit,
        cache_dirs=[keras_cache_dir()],
        download=lambda: keras.utils.get_file(filename, KERAS_WEIGHTS_URL + filename, cache_subdir="models"),
    )


def cache_cut_features(model, cut_layer: str, data, augmented_copies: int, seed: int) -> Cached:
    """Features at `cut_layer` for the plain training images, `augmented_copies` augmented passes of
    them, and the validation images; read from disk when this exact job ran before."""
    bottom = submodel_from_input(model, cut_layer)
    key = _cache_key(model, cut_layer, data, augmented_copies, seed)
    path = cache_dir() / "features" / f"{model.name}-{cut_layer}-{key}.npz"
    if path.is_file():
        print(f"features: reading the cache {path}", flush=True)
        with np.load(path) as saved:
            copies = tuple(saved[f"train_{i}"] for i in range(augmented_copies + 1))
            val = saved["val"]
    else:
        augment = augmentation()
        copies = [_predict(bottom, data.train.images, "features (plain)")]
        for copy in range(augmented_copies):
            copies.append(_predict(bottom, data.train.images, f"features (augmented {copy + 1})", augment))
        val = _predict(bottom, data.val.images, "features (validation)")
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial.npz")
        np.savez(partial, val=val, **{f"train_{i}": c for i, c in enumerate(copies)})
        partial.replace(path)
    return Cached(tuple(copies), data.train.labels, val, data.val.labels, len(data.train.classes))


def submodel_from_input(model, to_layer: str):
    keras = frameworks.keras()
    return keras.Model(model.input, model.get_layer(to_layer).output)


def _predict(model, inputs: np.ndarray, what: str, augment=None) -> np.ndarray:
    """Run `model` over `inputs` in chunks with a progress bar; float16 halves the cache."""
    outputs = []
    for start in tqdm(range(0, len(inputs), CHUNK), desc=what, unit="chunk", mininterval=10):
        chunk = inputs[start : start + CHUNK].astype(np.float32)
        if augment is not None:
            chunk = np.asarray(augment(chunk, training=True))
        # predict() runs a compiled graph: three times faster than calling the model eagerly
        outputs.append(model.predict(chunk, batch_size=CHUNK, verbose=0).astype(np.float16))
    return np.concatenate(outputs)


def _cache_key(model, cut_layer: str, data, augmented_copies: int, seed: int) -> str:
    keras = frameworks.keras()
    weights_digest = hashlib.sha256(b"".join(np.asarray(w).tobytes() for w in model.get_weights())).hexdigest()
    parts = [data.train.digest(), data.val.digest(), weights_digest, str(model.input_shape), cut_layer,
             str(augmented_copies), str(seed), keras.__version__, str(model.get_layer("upscale").get_config()),
             str(augmentation().get_config())]  # a changed augmentation must not reuse old copies
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def random_shifts(maps: np.ndarray, shift: int, rng: np.random.Generator) -> np.ndarray:
    """Each feature map of the batch moved by up to `shift` cells along each axis, the border filled
    by reflection. Convolutions commute with translation, so this is the translation augmentation
    done after the frozen layers instead of before them (exactly, away from the border): at
    block_2_add of a 128-px MobileNetV2 a cell is 4 input pixels, one CIFAR-10 pixel. The cached
    copies then stand for many more augmented images than were computed."""
    if not shift:
        return maps
    padded = np.pad(maps, ((0, 0), (shift, shift), (shift, shift), (0, 0)), mode="reflect")
    height, width = maps.shape[1:3]
    rows, columns = rng.integers(0, 2 * shift + 1, (2, len(maps)))
    return np.stack([one[r : r + height, c : c + width] for one, r, c in zip(padded, rows, columns)])


def mixed(maps: np.ndarray, targets: np.ndarray, alpha: float, rng: np.random.Generator):
    """Manifold mixup (Verma et al., 2019): the batch blended with a shuffled copy of itself, maps
    and targets by the same weight, drawn from Beta(alpha, alpha) once per batch. Mixing the cached
    hidden maps rather than pixels regularises the layers above them, which is where the fine-tune
    overfits; an alpha of 0 leaves the batch as it is."""
    if not alpha:
        return maps, targets
    weight = rng.beta(alpha, alpha)
    partner = rng.permutation(len(maps))
    return weight * maps + (1 - weight) * maps[partner], weight * targets + (1 - weight) * targets[partner]


def _batches(cached: Cached, batch_size: int, seed: int | None, shift: int = 0, mixup: float = 0.0):
    keras = frameworks.keras()

    class Batches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.rng = np.random.default_rng(seed)
            self.new_epoch()

        def new_epoch(self):
            labels = cached.train_labels if seed is not None else cached.val_labels
            count = len(labels)
            self.order = self.rng.permutation(count) if seed is not None else np.arange(count)
            self.copy = self.rng.integers(0, len(cached.train_copies), count) if seed is not None else None

        def __len__(self):
            if seed is None:
                return -(-len(cached.val_labels) // batch_size)
            return cached.steps_per_epoch(batch_size)

        def __getitem__(self, index):
            rows = self.order[index * batch_size : (index + 1) * batch_size]
            one_hot = np.eye(cached.num_classes, dtype=np.float32)
            if seed is None:
                return cached.val[rows].astype(np.float32), one_hot[cached.val_labels[rows]]
            stacked = np.stack([cached.train_copies[c][r] for c, r in zip(self.copy[rows], rows)])
            maps = random_shifts(stacked, shift, self.rng).astype(np.float32)
            return mixed(maps, one_hot[cached.train_labels[rows]], mixup, self.rng)

        def on_epoch_end(self):
            if seed is not None:
                self.new_epoch()

    return Batches()
