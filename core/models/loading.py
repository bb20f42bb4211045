"""Each model is loaded once per process and shared, whatever thread asks for it first.

A load that fails is remembered for RETRY_AFTER_S: every widget and request asking in the meantime
gets the same error at once instead of retrying a slow load (a page asks for a model many times),
and a file put right is picked up soon after without restarting the server.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Union

from core.errors import VisionError
from core.models.registry import get_spec

if TYPE_CHECKING:  # the real imports happen lazily, in _load
    from core.models.classifier import KerasClassifier
    from core.models.detector import YoloDetector

Model = Union["KerasClassifier", "YoloDetector"]

RETRY_AFTER_S = 30.0

_models: dict[tuple[str, str | None], Model] = {}
_failures: dict[tuple[str, str | None], tuple[float, VisionError]] = {}  # key -> (when, error)
_locks: dict[tuple[str, str | None], threading.Lock] = {}
_locks_guard = threading.Lock()


def get_model(name: str, weights_path: str | None = None) -> Model:
    """The loaded model `name`, loaded on first use (may raise WeightsNotFoundError or
    WeightsDamagedError).

    `weights_path` overrides where the weights come from; by default they are resolved as the
    README describes.
    """
    spec = get_spec(name)
    key = (name, weights_path)
    with _locks_guard:
        lock = _locks.setdefault(key, threading.Lock())
    with lock:  # one load per model; other models load in parallel
        if key in _models:
            return _models[key]
        failed = _failures.get(key)
        if failed and time.monotonic() - failed[0] < RETRY_AFTER_S:
            raise failed[1]
        try:
            _models[key] = _load(spec, weights_path)
        except VisionError as error:
            _failures[key] = (time.monotonic(), error)
            raise
        _failures.pop(key, None)
    return _models[key]


def is_loaded(name: str) -> bool:
    return (name, None) in _models


def _load(spec, weights_path: str | None) -> Model:
    if spec.variant_of:  # built from the shared source model (loaded first, like any model)
        from core.models.variants import load_variant

        return load_variant(spec, get_model(spec.variant_of, weights_path))
    if spec.framework == "ultralytics":
        from core.models.detector import load_yolo_detector

        return load_yolo_detector(spec, weights_path)
    from core.models.classifier import load_keras_classifier

    return load_keras_classifier(spec, weights_path)
