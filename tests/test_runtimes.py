"""The fast runtimes give the same answers as the frameworks they replace."""

from __future__ import annotations

import os

import numpy as np
import pytest

from core import get_model
from core.models import runtimes
from core.models.registry import model_names


@pytest.mark.parametrize("name", model_names("classify", variants=False))
def test_tflite_matches_tensorflow(name, weights_dir, photos):
    """Every Keras classifier, our mirror-averaging CIFAR-10 models included."""
    model = get_model(name)
    pixels = np.stack([model.model_input(photos[stem]) for stem in ("dog", "cat", "bus")])
    batched = model.probabilities(pixels)  # TensorFlow's compiled graph
    for one, expected in zip(pixels, batched):
        single = model.probabilities(one[None])[0]  # the TFLite interpreter
        assert np.abs(single - expected).max() < 1e-4
        assert single.argmax() == expected.argmax()


def test_one_thread_interpreters_serve_concurrent_calls_with_the_same_answers(weights_dir, photos):
    """VISION_THREADS=1 (what the API runs with): one interpreter per core, calls side by side."""
    from concurrent.futures import ThreadPoolExecutor

    model = get_model("cifar10_cnn")
    # This model's own export (other tests export other cifar10_cnn weights into the same cache).
    export = runtimes.cached_export("cifar10_cnn", model.weights, ".tflite",
                                    lambda target: runtimes.export_tflite(model.with_features, target))
    runner = runtimes.TfliteRunner(export, classes=10, threads=1)
    assert runner._idle.qsize() == max(1, os.cpu_count())
    inputs = [model.model_input(photos[stem])[None] for stem in ("dog", "cat", "bus")] * 8
    alone = [model._single(one) for one in inputs]  # the model's own interpreter, one call at a time
    with ThreadPoolExecutor(4) as threads:
        together = list(threads.map(runner, inputs))
    assert all(np.array_equal(x, y) for a, b in zip(alone, together) for x, y in zip(a, b, strict=True))
    assert runner._idle.qsize() == max(1, os.cpu_count())  # every interpreter returned


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
