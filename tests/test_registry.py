"""The whole registry: every entry loads, runs on a small image and returns its task's type."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core import REGISTRY, get_model, get_spec
from core.models.registry import UnknownModelError, spec_from_sidecar
from core.results import Classification, Detections

RESULT_TYPES = {"classify": Classification, "detect": Detections}


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_model_loads_and_runs(name, weights_dir, photos):
    spec = get_spec(name)
    model = get_model(name)
    assert get_model(name) is model, "a model must be loaded once per process"
    small = photos["cat"][::8, ::8]  # a small, non-square real image
    result = model.predict(small)
    assert isinstance(result, RESULT_TYPES[spec.task])
    assert result.model == name and result.latency_ms > 0
    assert len(model.labels) == spec.num_classes


def test_unknown_model_names_the_registered_ones():
    with pytest.raises(UnknownModelError) as error:
        get_spec("resnet9000")
    assert "resnet9000" in str(error.value) and "mobilenet_v2" in str(error.value)


def test_sidecar_makes_an_entry(tmp_path):
    sidecar = tmp_path / "tiny.json"
    sidecar.write_text(json.dumps({"name": "tiny", "labels": ["a", "b"], "input_size": 32, "gradcam_layer": "conv"}))
    spec = spec_from_sidecar(sidecar)
    assert (spec.name, spec.task, spec.num_classes, spec.input_size) == ("tiny", "classify", 2, 32)
    assert spec.weights == "tiny.keras" and spec.gradcam_layer == "conv"


def test_models_are_shared_across_threads(mobilenet, yolo, photos):
    """Sessions of the Streamlit server call the same models from several threads at once."""
    from concurrent.futures import ThreadPoolExecutor

    jobs = [(mobilenet, photos["dog"]), (yolo, photos["bus"]), (mobilenet, photos["bus"])] * 3
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda job: job[0].predict(job[1]), jobs))
    answers = [r.top.label if r.task == "classify" else "bus" in r.labels() for r in results]
    assert answers == ["Samoyed", True, "minibus"] * 3
    assert all(np.isfinite(r.probabilities).all() for r in results if r.task == "classify")
