"""The EDA reports: computed on the real data, and the committed ones consistent with it."""

from __future__ import annotations

import json

import numpy as np

from core.models.weights import PROJECT_ROOT
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
    assert samples.height == len(data.classes) * eda.CELL
    augmented = np.asarray(eda.augmentation_grid(data))
    assert augmented.shape[0] == eda.AUGMENTED_IMAGES * eda.CELL


def test_committed_cifar10_report_matches_the_split():
    report = json.loads((COMMITTED / "cifar10.json").read_text())
    assert {name: sum(counts) for name, counts in report["counts"].items()} == {"train": 45000, "val": 5000, "test": 10000}
    assert all((COMMITTED / name).is_file() for name in report["images"].values())
