"""Knowledge distillation targets: a trained teacher's probabilities on the training images, mixed
into the student's labels (Hinton et al., 2015, with the soft and hard terms as one target).

The teacher sees each training image once, unaugmented, and its answers are cached under a key of
teacher weights + training data, so a second run (or a tuning trial) pays nothing. The student
then trains on augmented copies against the unaugmented image's soft label: flips and two-pixel
shifts hardly change what a 91% teacher thinks of a CIFAR image.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from core import config, frameworks
from core.io import atomic
from core.io.datasets import LabelledImages


def teacher_probabilities(teacher: Path, images: LabelledImages) -> np.ndarray:
    """The teacher's class probabilities for every image, from the cache or computed once."""
    cached = _cache_file(teacher, images)
    if cached.is_file():
        return np.load(cached)
    print(f"teacher {teacher.name}: labelling {len(images)} training images once", flush=True)
    from training.common import predict_probabilities

    model = frameworks.keras().saving.load_model(teacher, compile=False)
    # minutes for a large teacher on a CPU: Keras' progress line, one per batch in a log file
    probabilities = predict_probabilities(model, images, batch_size=256, verbose=1).astype(np.float32)
    with atomic.atomic_path(cached) as staged, open(staged, "wb") as file:
        np.save(file, probabilities)
    return probabilities


def distilled_targets(labels: np.ndarray, classes: int, soft: np.ndarray, weight: float,
                      temperature: float) -> np.ndarray:
    """(1 - weight) x one-hot label + weight x the teacher's probabilities at `temperature` (a
    higher temperature spreads them over more classes: the "dark knowledge" of which wrong answers
    are nearly right)."""
    softened = np.power(np.clip(soft, 1e-12, 1.0), 1.0 / temperature)
    softened /= softened.sum(axis=1, keepdims=True)
    hard = np.eye(classes, dtype=np.float32)[labels]
    return ((1 - weight) * hard + weight * softened).astype(np.float32)


def agreement(soft: np.ndarray, labels: np.ndarray) -> float:
    """How often the teacher's top answer is the label (its accuracy on the training images)."""
    return float((soft.argmax(axis=1) == labels).mean())


def _cache_file(teacher: Path, images: LabelledImages) -> Path:
    weights = hashlib.sha256(teacher.read_bytes()).hexdigest()[:16]
    return config.cache_dir() / "teacher" / f"{teacher.stem}-{weights}-{images.digest()}.npy"
