"""YOLO detectors behind one interface: RGB uint8 image in, Detections out.

By default a detector is its ONNX export served by ONNX Runtime (core.models.yolo_onnx): no
PyTorch in the process. VISION_RUNTIME=native runs the PyTorch checkpoint through Ultralytics
instead (UltralyticsYolo), the reference the tests compare the export with. Both give EigenCAM
the same thing: the activations of a feature layer for a letterbox canvas.
"""

from __future__ import annotations

import threading
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

import numpy as np

from core import frameworks
from core.config import CONFIDENCE, NMS_IOU, downloaded_weights_dir, fast_runtime
from core.io.atomic import atomic_path
from core.models.registry import ModelSpec
from core.models.runtimes import cached_export, export_onnx, short_digest
from core.models.weights import model_file, reading
from core.models.yolo_onnx import OnnxYolo
from core.results import Detection, Detections

DOWNLOAD_TIMEOUT_S = 60


class UltralyticsYolo:
    """The PyTorch checkpoint through Ultralytics' predictor (VISION_RUNTIME=native). The predictor
    keeps per-call state and the hooks are set on the shared network, so calls are serialised."""

    def __init__(self, spec: ModelSpec, weights: Path):
        from core.models.yolo_export import feature_layers

        self.spec = spec
        self.weights = self.served_file = weights
        self.version = short_digest(weights)
        self._yolo = frameworks.ultralytics().YOLO(str(weights), task="detect")
        self._network = self._yolo.model.eval()
        self.labels = tuple(self._network.names[i] for i in range(len(self._network.names)))
        self.stride = int(self._network.stride.max())
        self.feature_layers = feature_layers(self._network)
        self._lock = threading.Lock()
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

    def feature_map(self, canvas: np.ndarray, layer: str) -> np.ndarray:
        """The activations (channels × h × w) of feature layer `layer` ("P5/32") for a letterbox canvas."""
        torch = frameworks.torch()
        kept = []
        module = self._network.model[self.feature_layers[layer]]
        tensor = torch.from_numpy(np.ascontiguousarray(canvas)).permute(2, 0, 1)[None].float() / 255
        with self._lock, torch.no_grad():
            hook = module.register_forward_hook(lambda _module, _inputs, output: kept.append(output))
            try:
                self._network(tensor)
            finally:
                hook.remove()
        return kept[0][0].numpy()


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


def load_yolo_detector(spec: ModelSpec, weights_path: str | None = None) -> OnnxYolo | UltralyticsYolo:
    path = model_file(spec, explicit=weights_path, download=_download(spec))
    with reading(spec, path):
        if not fast_runtime():
            return UltralyticsYolo(spec, path)
        export = cached_export(spec.name, path, ".onnx", lambda target: export_onnx(path, target, spec.input_size))
        return OnnxYolo(spec, export, path)


def _download(spec: ModelSpec):
    """Fetch the release file named by the registry into our cache, atomically (Ultralytics' own
    download would resolve a relative weights/ folder and import PyTorch into the server)."""
    if not spec.weights_url:
        return None

    def download() -> Path:
        target = downloaded_weights_dir() / spec.weights
        with urllib.request.urlopen(spec.weights_url, timeout=DOWNLOAD_TIMEOUT_S) as response, \
                atomic_path(target) as staged:
            staged.write_bytes(response.read())
        return target

    return download
