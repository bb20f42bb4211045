"""Each model is loaded once per process and shared, whatever thread asks for it first."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Union

from core.models.registry import get_spec

if TYPE_CHECKING:  # the real imports happen lazily, in _load
    from core.models.classifier import KerasClassifier
    from core.models.detector import YoloDetector

Model = Union["KerasClassifier", "YoloDetector"]

_models: dict[tuple[str, str | None], Model] = {}
_locks: dict[tuple[str, str | None], threading.Lock] = {}
_locks_guard = threading.Lock()


def get_model(name: str, weights_path: str | None = None) -> Model:
    """The loaded model `name`, loaded on first use (may raise WeightsNotFoundError).

    `weights_path` overrides where the weights come from; by default they are resolved as the
    README describes.
    """
    spec = get_spec(name)
    key = (name, weights_path)
    with _locks_guard:
        lock = _locks.setdefault(key, threading.Lock())
    with lock:  # one load per model; other models load in parallel
        if key not in _models:
            _models[key] = _load(spec, weights_path)
    return _models[key]


def is_loaded(name: str) -> bool:
    return (name, None) in _models


def _load(spec, weights_path: str | None) -> Model:
    if spec.framework == "ultralytics":
        from core.models.detector import load_yolo_detector

        return load_yolo_detector(spec, weights_path)
    from core.models.classifier import load_keras_classifier

    return load_keras_classifier(spec, weights_path)
