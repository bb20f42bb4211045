"""Small typed results, one type per task, converted from each framework once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import numpy as np


@dataclass(frozen=True)
class ClassScore:
    label: str
    index: int
    score: float

    def to_dict(self) -> dict:
        return {"label": self.label, "index": self.index, "score": round(self.score, 6)}


@dataclass(frozen=True)
class Classification:
    """A classifier's answer for one image: the top-k classes and the full probability vector,
    with what produced it (model, version, label vocabulary, options)."""

    model: str
    top_k: tuple[ClassScore, ...]
    probabilities: np.ndarray = field(repr=False)  # one per class, sums to 1
    model_input: np.ndarray = field(repr=False)  # the RGB uint8 pixels the model received
    latency_ms: float
    task: str = "classify"
    classes: tuple[str, ...] = field(default=(), repr=False)  # the model's label vocabulary, index order
    version: str = ""  # a short digest of the weights file
    options: dict = field(default_factory=dict, compare=False)  # e.g. {"top_k": 5}
    features: np.ndarray | None = field(default=None, repr=False, compare=False)  # the penultimate layer
    prediction_id: str = field(default="", compare=False)  # set when the prediction log recorded it

    @property
    def top(self) -> ClassScore:
        return self.top_k[0]

    def with_top_k(self, k: int) -> Classification:
        """The same answer reporting the k most probable classes."""
        top_k = top_k_scores(self.probabilities, self.classes, k)
        return replace(self, top_k=top_k, options={**self.options, "top_k": len(top_k)})

    def rows(self) -> list[dict]:
        """{"label", "score"} per reported class, for tables."""
        return [{"label": s.label, "score": round(s.score, 3)} for s in self.top_k]

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "task": self.task,
            "version": self.version,
            "top_k": [score.to_dict() for score in self.top_k],
            "latency_ms": round(self.latency_ms, 3),
            **logged_as(self.prediction_id),
        }


@dataclass(frozen=True)
class Detection:
    label: str
    class_id: int
    score: float
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels of the original image

    def to_dict(self) -> dict:
        return {
            "label": self.label,
            "class_id": self.class_id,
            "score": round(self.score, 6),
            "box": [round(value, 2) for value in self.box],
        }


@dataclass(frozen=True)
class Detections:
    """A detector's answer for one image, highest score first."""

    model: str
    detections: tuple[Detection, ...]
    image_size: tuple[int, int]  # width, height of the original image
    latency_ms: float
    task: str = "detect"
    classes: tuple[str, ...] = field(default=(), repr=False)  # every label the detector knows, class-id order
    version: str = ""  # a short digest of the weights file
    options: dict = field(default_factory=dict, compare=False)  # e.g. {"conf": 0.25, "iou": 0.7, "imgsz": 640}
    prediction_id: str = field(default="", compare=False)  # set when the prediction log recorded it

    def __len__(self) -> int:
        return len(self.detections)

    def labels(self) -> list[str]:
        """The label of each detection, highest score first."""
        return [detection.label for detection in self.detections]

    def only(self, wanted: Iterable[str]) -> Detections:
        """The detections whose label is in `wanted`."""
        wanted = set(wanted)
        return replace(self, detections=tuple(d for d in self.detections if d.label in wanted))

    def rows(self) -> list[dict]:
        """{"label", "score"} per detection, for tables."""
        return [{"label": d.label, "score": round(d.score, 3)} for d in self.detections]

    def count_text(self) -> str:
        """"1 object", "5 objects": how many boxes, for captions."""
        return f"{len(self)} object{'' if len(self) == 1 else 's'}"

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "task": self.task,
            "version": self.version,
            "detections": [detection.to_dict() for detection in self.detections],
            "latency_ms": round(self.latency_ms, 3),
            **logged_as(self.prediction_id),
        }


def logged_as(prediction_id: str) -> dict:
    """The id to send feedback with, in a result's JSON, when the prediction log recorded it."""
    return {"prediction_id": prediction_id} if prediction_id else {}


def label_counts(labels: Iterable[str]) -> str:
    """"person ×4, bus ×1": how many of each label, the most frequent first."""
    return ", ".join(f"{label} ×{n}" for label, n in Counter(labels).most_common())


def top_k_scores(probabilities: np.ndarray, labels: tuple[str, ...], k: int) -> tuple[ClassScore, ...]:
    """The k most probable classes, highest first (ties keep the lower class index first)."""
    k = max(1, min(k, len(probabilities)))
    order = np.argsort(-probabilities, kind="stable")[:k]
    return tuple(ClassScore(labels[i], int(i), float(probabilities[i])) for i in order)
