"""An optimised variant against its source model, measured in one run (training.evaluate uses it).

Both answer the same test images through the served files (a classifier's TFLite files; a
detector's ONNX files, validated alike); the figures compared are the metric (accuracy, or
mAP50-95), top-1 agreement, the served file's size and the latency of single images, timed call by
call alternately so that the machine's load falls on both alike.
"""

from __future__ import annotations

import numpy as np
from tqdm import tqdm

from core import REGISTRY, service
from core.explain.base import map_correlation, peak_distance
from core.models.variants import variant_sidecar
from core.models.yolo_onnx import box_iou

LATENCY_RUNS = 50
DRIFT_IMAGES = 100  # explanations compared per variant


def probabilities(name: str, images) -> np.ndarray:
    predictions = service.iter_predictions(name, images, batch_size=64)
    return np.stack([r.probabilities for r in tqdm(predictions, total=len(images), desc=name, unit="img")])


def classifier_comparison(name: str, images, labels: np.ndarray, variant_probabilities: np.ndarray) -> dict:
    """The "variant" section of a classifier variant's metrics file."""
    source = REGISTRY[name].variant_of
    source_probabilities = probabilities(source, images)
    accuracy = float(np.mean(variant_probabilities.argmax(1) == labels))
    source_accuracy = float(np.mean(source_probabilities.argmax(1) == labels))
    return {
        **_described(name),
        "agreement_top1": round(float(np.mean(variant_probabilities.argmax(1) == source_probabilities.argmax(1))), 5),
        "source_accuracy": round(source_accuracy, 5),
        "accuracy_change_points": round(100 * (accuracy - source_accuracy), 3),
        **_speed_and_size(name, source, images),
        "explanation_drift": explanation_drift(name, images, source_probabilities.argmax(1)),
    }


def detector_comparison(name: str, detection: dict, source_detection: dict, images: list[np.ndarray]) -> dict:
    """The "variant" section of a detector variant's metrics file, given both served files' scores
    on the same set (training.evaluate validates each the same way)."""
    source = REGISTRY[name].variant_of
    agreement = [_same_top_detection(service.predict(name, image), service.predict(source, image)) for image in images]
    return {
        **_described(name),
        "source_map50_95": source_detection["map50_95"],
        "map50_95_change": round(detection["map50_95"] - source_detection["map50_95"], 5),
        "agreement_top1": round(float(np.mean(agreement)), 5),
        **_speed_and_size(name, source, images),
        "explanation_drift": explanation_drift(name, images),
    }


def explanation_drift(name: str, images, targets: np.ndarray | None = None) -> dict:
    """How far the variant's heatmaps move from its source's on up to DRIFT_IMAGES images spread
    over the set: a gradient-free method on both (Score-CAM for classifiers, explaining the source's
    top class; EigenCAM for detectors), their Pearson correlation, and the distance between their
    peaks as a share of the image's diagonal."""
    source, method = REGISTRY[name].variant_of, ("scorecam" if targets is not None else "eigencam")
    picked = np.linspace(0, len(images) - 1, min(DRIFT_IMAGES, len(images))).astype(int)
    correlations, distances = [], []
    for i in tqdm(picked, desc=f"{name} vs {source} ({method})", unit="img"):
        target = None if targets is None else int(targets[i])
        ours, theirs = (service.explain(model, images[i], method, target=target, faithfulness=False).heatmap
                        for model in (name, source))
        correlations.append(map_correlation(ours, theirs))
        distances.append(peak_distance(ours, theirs))
    return {"method": method, "images": len(picked), "mean_correlation": round(float(np.nanmean(correlations)), 4),
            "mean_peak_distance": round(float(np.mean(distances)), 4)}


def _same_top_detection(a, b) -> bool:
    """Whether two detectors agree on an image: both find nothing, or their most confident boxes
    have the same label and overlap by an IoU of 0.5 or more."""
    if not a.detections or not b.detections:
        return not a.detections and not b.detections
    first, second = a.detections[0], b.detections[0]
    overlap = box_iou(np.array([first.box]), np.array(second.box))[0]
    return first.label == second.label and overlap >= 0.5


def _described(name: str) -> dict:
    made = variant_sidecar(service.load(name)) or {}
    return {"of": REGISTRY[name].variant_of, "method": made.get("method"), "calibration": made.get("calibration")}


def _speed_and_size(name: str, source: str, images) -> dict:
    """Single-image latency of both, alternately call by call, and the served files' sizes."""
    for image in images[:5]:  # warm-up
        service.predict(name, image)
        service.predict(source, image)
    ours, theirs = [], []
    for i in range(LATENCY_RUNS):
        image = images[i % len(images)]
        ours.append(service.predict(name, image).latency_ms)
        theirs.append(service.predict(source, image).latency_ms)
    variant_bytes = service.load(name).served_file.stat().st_size
    source_bytes = service.load(source).served_file.stat().st_size
    return {
        "latency_p50_ms": round(float(np.median(ours)), 3),
        "latency_p95_ms": round(float(np.percentile(ours, 95)), 3),
        "source_latency_p50_ms": round(float(np.median(theirs)), 3),
        "source_latency_p95_ms": round(float(np.percentile(theirs, 95)), 3),
        "latency_ratio": round(float(np.median(ours) / np.median(theirs)), 3),
        "size_bytes": variant_bytes,
        "source_size_bytes": source_bytes,
        "size_ratio": round(variant_bytes / source_bytes, 3),
    }
