"""The EDA reports: computed on the real data, and the committed ones consistent with it."""

from __future__ import annotations

import json
import random

import numpy as np

from core.io.augmentation import AUGMENTED_IMAGES, augmentation, augmented_rows
from core.models.weights import PROJECT_ROOT
from core.viz.grids import CELL, augmentation_grid
from training import eda
from training.cifar10 import load_cifar10

COMMITTED = PROJECT_ROOT / "assets" / "eda"


def test_coco128_report_counts_boxes_and_quirks(data_dir, yolo):
    report = eda.coco128_report(data_dir / "coco128", list(yolo.labels))
    assert report["boxes"] == sum(report["box_counts"].values()) == sum(report["box_area_px"])
    assert report["images_without_labels"] == ["000000000250.jpg", "000000000508.jpg"]
    assert report["labels_without_images"] == ["000000000656.txt", "000000000659.txt"]
    assert max(report["box_counts"], key=report["box_counts"].get) == "person"
    assert len(report["findings"]) >= 3
    assert report == json.loads((COMMITTED / "coco128.json").read_text())  # the committed report is current


def test_grids_have_one_row_per_class_and_per_augmented_image(data_dir):
    data = load_cifar10(limit_per_class=20).train
    samples = eda.sample_grid(data)
    assert samples.height == len(data.classes) * CELL
    augmented = np.asarray(eda.augmentation_grid(data))
    assert augmented.shape[0] == AUGMENTED_IMAGES * CELL


def test_a_seeded_augmentation_is_reproducible_and_leaves_global_seeds_alone(data_dir):
    """The data page draws previews in a server every user shares: a draw must depend on its seed
    only, and must not reset Python's or NumPy's global generators (keras.utils.set_random_seed did)."""
    data = load_cifar10(limit_per_class=20).train
    random.seed(123)
    np.random.seed(123)
    python_state, numpy_state = random.getstate(), np.random.get_state()[1].copy()
    first, again = (np.asarray(augmentation_grid(data, seed=7)) for _ in range(2))
    other = np.asarray(augmentation_grid(data, seed=8))
    assert random.getstate() == python_state and np.array_equal(np.random.get_state()[1], numpy_state)
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    rows, labels = augmented_rows(data, seed=7)
    assert len(rows) == len(labels) == AUGMENTED_IMAGES and rows[0].dtype == np.uint8
    assert all(not np.array_equal(row[0], view) for row in rows for view in row[1:3])  # the draws change pixels


def test_a_seed_draws_what_keras_global_seed_drew(data_dir):
    """augmentation(seed=s) draws what augmentation() drew after keras.utils.set_random_seed(s), the
    way the committed grid was made: `python -m training.eda` keeps producing the same file."""
    from core import frameworks

    images = load_cifar10(limit_per_class=2).train.images.astype(np.float32)
    frameworks.keras().utils.set_random_seed(3)
    globally = np.asarray(augmentation()(images, training=True))
    assert np.array_equal(np.asarray(augmentation(seed=3)(images, training=True)), globally)


def test_committed_cifar10_report_matches_the_split():
    report = json.loads((COMMITTED / "cifar10.json").read_text())
    assert {name: sum(counts) for name, counts in report["counts"].items()} == {"train": 45000, "val": 5000, "test": 10000}
    assert all((COMMITTED / name).is_file() for name in report["images"].values())
