"""Deletion and insertion curves (core.explain.faithfulness) on real weights and photos: where the
curves start and end, that they tell a map from its negation, the JSON the CLI prints, and that
Grad-CAM beats random maps on average over the ImageNet sample (training/faithfulness.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from core.explain.classifier import class_score, map_on_input
from core.explain.detector import DETECTOR_STEPS
from core.explain.faithfulness import STEPS, Faithfulness, area, blurred, faithfulness, pixel_rank, random_baseline
from core.explain.methods import METHODS, explain
from core.models.weights import PROJECT_ROOT
from core.viz.explain_charts import faithfulness_figure

AUC_KEYS = {"deletion_auc", "insertion_auc", "random_deletion_auc", "random_insertion_auc"}


def _curves(deletion, insertion, random_deletion, random_insertion) -> Faithfulness:
    fractions = tuple(np.linspace(0, 1, len(deletion)))
    return Faithfulness(fractions, tuple(deletion), tuple(insertion), tuple(random_deletion), tuple(random_insertion))


@pytest.mark.parametrize("scores, expected", [([1, 1, 1], 1.0), ([1, 0.5, 0], 0.5), ([0, 0, 1], 0.25), ([0.4, 0.4], 0.4)])
def test_area_is_the_trapezoid_rule_on_zero_to_one(scores, expected):
    assert area(np.linspace(0, 1, len(scores)), scores) == pytest.approx(expected)


def test_pixel_rank_highest_first_and_ties_in_reading_order():
    assert pixel_rank(np.zeros((2, 3))).tolist() == [[0, 1, 2], [3, 4, 5]]
    assert pixel_rank(np.array([[0.1, 0.9], [0.5, 0.9]])).tolist() == [[3, 0], [2, 1]]


@pytest.mark.parametrize("deletion, insertion, meaning", [
    ([0.8, 0.1, 0.0], [0.0, 0.7, 0.8], "finds what the score depends on"),
    ([0.8, 0.5, 0.0], [0.0, 0.3, 0.8], "no better than random"),
    ([0.8, 0.9, 0.0], [0.0, 0.1, 0.8], "no better than random"),  # the score rose as its pixels went
    ([0.8, 0.1, 0.0], [0.0, 0.3, 0.8], "revealing them first helps no more than random"),
    ([0.8, 0.5, 0.0], [0.0, 0.7, 0.8], "removing them first hurts no more than random"),
])
def test_verdict_reads_both_curves_against_random(deletion, insertion, meaning):
    result = _curves(deletion, insertion, [0.8, 0.5, 0.0], [0.0, 0.3, 0.8])
    verdict = result.verdict()
    assert verdict.startswith(f"deletion AUC {result.deletion_auc:.2f} vs 0.45 for random maps: ") and meaning in verdict


def test_curves_start_at_the_unmodified_score_and_end_at_the_blurred_images(mobilenet, photos):
    result = explain(mobilenet, photos["dog"], "gradcam")
    f = result.faithfulness
    pixels = mobilenet.model_input(photos["dog"])
    unmodified, canvas = mobilenet.probabilities(np.stack([pixels, blurred(pixels)]))[:, result.target.index]
    assert len(f.fractions) == STEPS + 1 and f.fractions[0] == 0 and f.fractions[-1] == 1
    assert f.deletion[0] == f.insertion[-1] == f.random_deletion[0] == pytest.approx(unmodified, abs=1e-4)
    assert f.deletion[-1] == f.insertion[0] == f.random_insertion[0] == pytest.approx(canvas, abs=1e-4)
    assert f.deletion[0] == pytest.approx(result.target.score, abs=1e-3) and canvas < 0.1 * unmodified
    for key in AUC_KEYS:
        assert 0 <= getattr(f, key) <= 1
    assert f.deletion_auc < f.random_deletion_auc and f.insertion_auc > f.random_insertion_auc
    assert "finds what the score depends on" in f.verdict()


def test_the_negated_map_deletes_worse_than_grad_cam(mobilenet, photos):
    """Removing the pixels Grad-CAM rates lowest first must hurt the score less, on the same baseline."""
    pixels = mobilenet.model_input(photos["bus"])
    index = int(np.argmax(mobilenet.probabilities(pixels[None])[0]))
    score = class_score(mobilenet, index)
    heatmap = map_on_input(mobilenet, pixels, METHODS["gradcam"], index, mobilenet.spec.gradcam_layer)
    baseline = random_baseline(pixels, score)
    grad_cam, negated = faithfulness(heatmap, pixels, score, baseline), faithfulness(-heatmap, pixels, score, baseline)
    assert grad_cam.deletion_auc < grad_cam.random_deletion_auc < negated.deletion_auc
    assert grad_cam.insertion_auc > negated.insertion_auc


def test_detector_curves_follow_the_box_confidence(yolo, photos):
    result = explain(yolo, photos["bus"])
    f = result.faithfulness
    assert len(f.fractions) == DETECTOR_STEPS + 1
    assert f.deletion[0] == pytest.approx(result.target.score, abs=1e-4)  # the very pixels the detector saw
    assert f.deletion[-1] < 0.5 * f.deletion[0] and f.deletion_auc < f.random_deletion_auc


def test_chart_draws_the_four_curves_with_their_aucs(mobilenet, photos):
    f = explain(mobilenet, photos["dog"], "gradcam").faithfulness
    figure = faithfulness_figure(f)
    assert [trace.name.split(" (")[0] for trace in figure.data] == [
        "deletion", "random deletion", "insertion", "random insertion"]
    assert figure.data[0].name == f"deletion (AUC {f.deletion_auc:.2f})"
    assert list(figure.data[2].y) == list(f.insertion) and figure.data[0].x[-1] == 100


@pytest.mark.slow
def test_cli_explain_json_carries_the_curves(photo_paths):
    done = subprocess.run(
        [sys.executable, "-m", "core", "explain", str(photo_paths["dog"]), "--model", "mobilenet_v2", "--json"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, env=os.environ.copy(), timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    row = json.loads(done.stdout.strip().splitlines()[-1])
    found = row["faithfulness"]
    assert set(found) >= AUC_KEYS | {"verdict", "curves"}
    assert all(0 <= found[key] <= 1 for key in AUC_KEYS)
    assert found["random_deletion_auc"] > found["deletion_auc"] and found["verdict"].startswith("deletion AUC")
    curves = found["curves"]
    assert set(curves) == {"fraction", "deletion", "insertion", "random_deletion", "random_insertion"}
    assert all(len(values) == STEPS + 1 for values in curves.values())
    assert curves["deletion"][0] == pytest.approx(row["target"]["score"], abs=1e-3)


@pytest.mark.slow
def test_grad_cam_deletes_better_than_random_over_50_imagenet_images(weights_dir, data_dir, tmp_path):
    """The issue's check, through the script that writes the committed figures."""
    from training import faithfulness as script

    out = tmp_path / "faithfulness.json"
    script.main(["--method", "gradcam", "--limit", "50", "--out", str(out)])
    report = json.loads(out.read_text())
    summary = {row["method"]: row for row in report["summary"]}
    assert len(report["per_image"]) == 50 and report["settings"]["canvas"] == "blur"
    assert summary["gradcam"]["deletion_auc"] < summary["random"]["deletion_auc"]
    assert summary["gradcam"]["insertion_auc"] > summary["random"]["insertion_auc"]
