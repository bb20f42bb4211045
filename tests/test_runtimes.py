"""The fast runtimes give the same answers as the frameworks they replace."""

from __future__ import annotations

import numpy as np
import pytest

from core import frameworks, get_model
from core.models import runtimes
from core.models.detector import YoloDetector
from core.models.registry import get_spec, model_names


@pytest.mark.parametrize("name", model_names("classify"))
def test_tflite_matches_tensorflow(name, weights_dir, photos):
    """Every Keras classifier, our mirror-averaging CIFAR-10 models included."""
    model = get_model(name)
    pixels = np.stack([model.model_input(photos[stem]) for stem in ("dog", "cat", "bus")])
    batched = model.probabilities(pixels)  # TensorFlow's compiled graph
    for one, expected in zip(pixels, batched):
        single = model.probabilities(one[None])[0]  # the TFLite interpreter
        assert np.abs(single - expected).max() < 1e-4
        assert single.argmax() == expected.argmax()


def test_onnx_matches_pytorch(yolo, photos):
    native = YoloDetector(get_spec("yolo11n"), frameworks.ultralytics().YOLO(str(yolo.weights)), yolo.weights)
    for name in ("bus", "dog", "cat"):
        fast, slow = yolo.predict(photos[name]), native.predict(photos[name])
        assert fast.labels() == slow.labels()
        for a, b in zip(fast.detections, slow.detections):
            assert abs(a.score - b.score) < 0.01
            assert np.abs(np.subtract(a.box, b.box)).max() < 2.0  # pixels


def test_exports_are_made_once_and_replace_stale_ones(tmp_path, monkeypatch):
    monkeypatch.setenv(runtimes.CACHE_ENV, str(tmp_path / "cache"))
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"version 1")
    calls = []

    def export(target):
        calls.append(target)
        target.write_text("exported")

    first = runtimes.cached_export("m", weights, ".x", export)
    assert runtimes.cached_export("m", weights, ".x", export) == first and len(calls) == 1
    weights.write_bytes(b"version 2")
    second = runtimes.cached_export("m", weights, ".x", export)
    assert second != first and not first.exists() and len(calls) == 2
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [second.name]


def test_a_failed_export_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setenv(runtimes.CACHE_ENV, str(tmp_path))
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"weights")

    def broken(target):
        target.write_text("half")
        raise RuntimeError("converter crashed")

    with pytest.raises(RuntimeError):
        runtimes.cached_export("m", weights, ".x", broken)
    assert [p.name for p in tmp_path.iterdir()] == ["w.bin"]
