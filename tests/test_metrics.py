"""Metrics: hand-checkable cases, and the committed metrics files against their schema."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.evaluation.metrics import SCHEMA_VERSION, calibration, classification_metrics, misclassified_by_cell
from core.evaluation.reports import NOT_REPORTS
from core.models.weights import PROJECT_ROOT

NAMES = ("a", "b", "c")


def test_perfect_and_confident_is_calibrated():
    labels = np.array([0, 1, 2, 1])
    probabilities = np.eye(3)[labels]
    report = classification_metrics(labels, probabilities, NAMES)
    assert report["accuracy"] == 1 and report["macro_f1"] == 1 and report["calibration"]["ece"] == 0
    assert report["confusion_matrix"] == [[1, 0, 0], [0, 2, 0], [0, 0, 1]] and report["misclassified"] == {}


def test_hand_computed_case():
    labels = np.array([0, 0, 1, 2])
    probabilities = np.array([[0.9, 0.1, 0.0], [0.3, 0.7, 0.0], [0.2, 0.8, 0.0], [0.0, 0.4, 0.6]])
    report = classification_metrics(labels, probabilities, NAMES)
    assert report["accuracy"] == 0.75
    per_class = {row["label"]: row for row in report["per_class"]}
    assert per_class["a"]["recall"] == 0.5 and per_class["b"]["precision"] == 0.5 and per_class["c"]["f1"] == 1
    assert report["misclassified"] == {"0,1": [1]}
    # ECE by hand: bins (0.6], (0.7], (0.8], (0.9] each hold one image; |acc - conf| = .4,.7,.2,.1 -> mean 0.35
    assert report["calibration"]["ece"] == pytest.approx(0.35)
    assert sum(b["count"] for b in report["calibration"]["bins"]) == 4


def test_confidence_histogram_splits_correct_and_wrong():
    labels = np.array([0, 1])
    histogram = calibration(labels, np.array([[0.95, 0.05], [0.55, 0.45]]))["confidence_histogram"]
    assert sum(histogram["correct"]) == 1 and sum(histogram["wrong"]) == 1


def test_misclassified_cells_keep_indices():
    assert misclassified_by_cell(np.array([2, 2, 0]), np.array([1, 2, 1])) == {"2,1": [0], "0,1": [2]}


@pytest.mark.parametrize("path", [p for p in sorted((PROJECT_ROOT / "assets" / "metrics").glob("*.json"))
                                  if not p.name.endswith(NOT_REPORTS)], ids=lambda p: p.stem)
def test_committed_metrics_follow_the_schema(path):
    report = json.loads(path.read_text())
    assert report["schema_version"] == SCHEMA_VERSION and report["model"] == path.stem
    assert report["performance"]["latency_p50_ms"] > 0 and len(report["provenance"]["model_sha256"]) == 64
    if report["task"] == "detect":
        d = report["detection"]
        assert 0 < d["map50_95"] < d["map50"] <= 1 and d["per_class"] and d["thresholds"]["confidence"] == 0.001
        assert abs(d["cross_check"]["map50_95"] - d["map50_95"]) <= 0.005  # two implementations agree
        return
    c = report["classification"]
    assert 0 <= c["accuracy"] <= 1 and 0 <= c["calibration"]["ece"] <= 1
    assert sum(b["count"] for b in c["calibration"]["bins"]) == c["images"]
    wrong = sum(len(v) for v in c["misclassified"].values())
    assert wrong == round(c["images"] * (1 - c["accuracy"]))
