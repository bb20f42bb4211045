"""Ultralytics YOLO detectors behind one interface: RGB uint8 image in, Detections out."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from core import frameworks
from core.config import CONFIDENCE, NMS_IOU, fast_runtime
from core.models.registry import ModelSpec
from core.models.runtimes import cached_export, export_onnx, short_digest
from core.models.weights import model_file, reading
from core.results import Detection, Detections


class YoloDetector:
    """A loaded YOLO model; shared by every session of the process.

    It runs the ONNX export of the checkpoint through ultralytics (same letterbox and NMS) unless
    VISION_RUNTIME=native. Ultralytics' predictor keeps per-call state, so calls are serialised
    with a lock (the machine's cores are busy with one call anyway).
    """

    def __init__(self, spec: ModelSpec, yolo, weights: Path):
        self.spec = spec
        self.weights = weights  # the PyTorch checkpoint, for explanations
        self.version = short_digest(weights)
        names = yolo.names  # a property that builds a predictor for exported models: read it once
        self.labels = tuple(names[i] for i in range(len(names)))
        self._yolo = yolo
        self._lock = threading.Lock()
        self._network = None
        self.predict(np.zeros((spec.input_size, spec.input_size, 3), np.uint8))  # warm-up: build the predictor

    def predict(self, image: np.ndarray, conf: float = CONFIDENCE, iou: float = NMS_IOU,
                imgsz: int | None = None) -> Detections:
        options = {"conf": conf, "iou": iou, "imgsz": imgsz or self.spec.input_size}
        bgr = np.ascontiguousarray(image[:, :, ::-1])  # ultralytics reads arrays in OpenCV's BGR order
        with self._lock:
            start = time.perf_counter()
            result = self._yolo.predict(bgr, **options, verbose=False)[0]
            latency_ms = (time.perf_counter() - start) * 1000
        found = detections_from_ultralytics(result, self.spec.name, latency_ms)
        return replace(found, classes=self.labels, version=self.version, options=options)

    def network(self):
        """The PyTorch network of the checkpoint (loaded on first use, for explanations)."""
        with self._lock:
            if self._network is None:
                self._network = frameworks.ultralytics().YOLO(str(self.weights)).model.eval()
        return self._network


def detections_from_ultralytics(result, model: str, latency_ms: float) -> Detections:
    """Convert one ultralytics Results object (boxes already in original-image pixels)."""
    boxes = result.boxes
    xyxy = boxes.xyxy.cpu().numpy().astype(float)
    scores = boxes.conf.cpu().numpy().astype(float)
    class_ids = boxes.cls.cpu().numpy().astype(int)
    order = np.argsort(-scores, kind="stable")
    detections = tuple(
        Detection(result.names[class_ids[i]], int(class_ids[i]), float(scores[i]), tuple(xyxy[i].tolist()))
        for i in order
    )
    height, width = result.orig_shape
    return Detections(model, detections, (int(width), int(height)), latency_ms)


def load_yolo_detector(spec: ModelSpec, weights_path: str | None = None) -> YoloDetector:
    ultralytics = frameworks.ultralytics()
    path = model_file(spec, explicit=weights_path, download=_download(spec))
    with reading(spec, path):
        runnable = path
        if fast_runtime():
            runnable = cached_export(spec.name, path, ".onnx", lambda target: export_onnx(path, target, spec.input_size))
        return YoloDetector(spec, ultralytics.YOLO(str(runnable), task="detect"), path)


def _download(spec: ModelSpec):
    from ultralytics.utils import SETTINGS
    from ultralytics.utils.downloads import attempt_download_asset

    # Ultralytics fetches its own release assets by file name into its weights folder, with a progress bar.
    return lambda: attempt_download_asset(str(Path(SETTINGS["weights_dir"]) / spec.weights))
