"""The /robustness page's hand controls (core.robustness.perturb) and the severity sweep."""

from __future__ import annotations

import numpy as np
import pytest

from core import service
from core.errors import InvalidOptionError
from core.robustness.perturb import CONTROLS, SWEEP_STEPS, perturb


@pytest.fixture(scope="module")
def cat(photos):
    return photos["cat"]


def test_every_control_at_rest_gives_the_image_back_exactly(cat):
    assert np.array_equal(service.perturb(cat), cat)
    assert np.array_equal(perturb(cat, **{name: control.identity for name, control in CONTROLS.items()}), cat)


@pytest.mark.parametrize("name", list(CONTROLS))
def test_each_control_changes_the_image_and_keeps_its_shape(cat, name):
    changed = perturb(cat, **{name: CONTROLS[name].sweep[-1]})
    assert changed.dtype == np.uint8 and changed.shape == cat.shape
    assert np.abs(changed.astype(np.int16) - cat).mean() > 2
    assert len(CONTROLS[name].sweep) == SWEEP_STEPS and CONTROLS[name].sweep[0] == CONTROLS[name].identity


def test_noise_is_the_same_for_a_seed_and_differs_between_seeds(cat):
    assert np.array_equal(perturb(cat, noise=20, seed=1), perturb(cat, noise=20, seed=1))
    assert not np.array_equal(perturb(cat, noise=20, seed=1), perturb(cat, noise=20, seed=2))


def test_the_occlusion_patch_lands_where_it_is_put():
    image = np.zeros((100, 200, 3), np.uint8)
    covered = perturb(image, occlusion_size=20, occlusion_x=0.25, occlusion_y=0.5) == 128
    rows, columns = np.nonzero(covered.all(axis=2))
    assert (rows.min(), rows.max(), columns.min(), columns.max()) == (40, 59, 40, 59)  # 20 px around (50, 50)


@pytest.mark.parametrize("controls, says", [
    ({"blur": -1}, "blur must be a number from 0 to 5"), ({"jpeg_quality": 0}, "jpeg_quality"),
    ({"rotation": "90"}, "rotation"), ({"occlusion_x": 1.5}, "occlusion_x must be a number from 0 to 1"),
    ({"sharpness": 2}, "Unknown perturbation sharpness"),
])
def test_bad_controls_are_invalid_option_errors(cat, controls, says):
    with pytest.raises(InvalidOptionError, match=says):
        service.perturb(cat, **controls)


def test_a_sweep_starts_at_the_clean_answer_and_blur_lowers_it(weights_dir, cat):
    points = service.sweep("cifar10_cnn", cat, "blur")
    clean = service.predict("cifar10_cnn", cat).top
    assert [p.severity for p in points] == list(range(SWEEP_STEPS))
    assert points[0].clean_label == clean.label and points[0].confidence == pytest.approx(clean.score, abs=1e-4)
    assert points[-1].confidence < points[0].confidence
    with pytest.raises(InvalidOptionError, match="Unknown perturbation"):
        service.sweep("cifar10_cnn", cat, "fog")


def test_the_sweep_chart_and_the_visible_perturbation():
    from core.robustness.perturb import SweepPoint
    from core.viz.perturbation import amplified, sweep_figure

    points = [SweepPoint("m", "jpeg_quality", i, level, "cat", 0.9 - i / 10, "cat", 0.9) for i, level in
              enumerate(CONTROLS["jpeg_quality"].sweep)]
    figure = sweep_figure({"m": points, "n": points})
    assert [trace.name for trace in figure.data] == ["m", "n"] and figure.data[0].y[0] == pytest.approx(90)
    assert list(figure.layout.xaxis.ticktext) == ["100", "50", "30", "20", "10", "5"]  # worse to the right
    change = np.array([[[0, 2, -2]]], np.int16)
    assert amplified(change).tolist() == [[[128, 255, 1]]]  # unchanged is mid-grey, the largest change saturates
    assert amplified(change, 8).shape == (8, 8, 3)
