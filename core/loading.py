"""Each model is loaded once per process and shared, whatever thread asks for it first."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Union

from core.registry import get_spec

if TYPE_CHECKING:  # the real imports happen lazily, in _load
    from core.classifier import KerasClassifier
    from core.detector import YoloDetector

Model = Union["KerasClassifier", "YoloDetector"]

_models: dict[str, Model] = {}
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def get_model(name: str) -> Model:
    """The loaded model `name`, loading it on first use (may raise WeightsNotFoundError)."""
    spec = get_spec(name)
    with _locks_guard:
        lock = _locks.setdefault(name, threading.Lock())
    with lock:  # one load per model; other models load in parallel
        if name not in _models:
            _models[name] = _load(spec)
    return _models[name]


def is_loaded(name: str) -> bool:
    return name in _models


def _load(spec) -> Model:
    if spec.framework == "ultralytics":
        from core.detector import load_yolo_detector

        return load_yolo_detector(spec)
    from core.classifier import load_keras_classifier

    return load_keras_classifier(spec)
