"""YOLO served by ONNX Runtime alone: our letterbox, the network, Ultralytics' NMS rules in numpy.

The server never imports PyTorch for a detection (PyTorch and its CUDA libraries cost about
900 MB of resident memory on a CPU). The export (core.models.yolo_export, in a process of its
own) also exposes the feature maps that feed the Detect head, so EigenCAM needs no PyTorch
either. tests/test_yolo_onnx.py checks the answers against Ultralytics' own predictor.
"""

from __future__ import annotations

import ast
import json
import time
from pathlib import Path

import numpy as np

from core.config import CONFIDENCE, NMS_IOU, inference_threads
from core.models.preprocess import letterbox
from core.models.registry import ModelSpec
from core.models.runtimes import short_digest
from core.results import Detection, Detections

MAX_DETECTIONS = 300  # Ultralytics' max_det
MAX_CANDIDATES = 30_000  # Ultralytics' max_nms: the most boxes NMS looks at
CLASS_OFFSET = 7680  # Ultralytics' max_wh: shifting each class this far apart makes NMS per class


class OnnxYolo:
    """A loaded YOLO export; shared by every session of the process. ONNX Runtime's `run` is
    thread-safe, so concurrent calls need no lock."""

    def __init__(self, spec: ModelSpec, export: Path, weights: Path):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = inference_threads()
        self.spec = spec
        self.weights = weights  # the file the export was made from (an int8 variant's: the variant itself)
        self.export = self.served_file = export
        self.version = short_digest(weights)
        self._session = onnxruntime.InferenceSession(str(export), options, providers=["CPUExecutionProvider"])
        metadata = self._session.get_modelmeta().custom_metadata_map
        names = ast.literal_eval(metadata["names"])  # written by Ultralytics as a Python dict literal
        self.labels = tuple(names[i] for i in range(len(names)))
        self.stride = int(metadata.get("stride", 32))
        self.feature_layers: dict[str, int] = json.loads(metadata["feature_layers"])  # written by our export
        self._input = self._session.get_inputs()[0].name
        self._predictions = self._session.get_outputs()[0].name
        self.predict(np.zeros((spec.input_size, spec.input_size, 3), np.uint8))  # warm-up: first runs are slow

    def predict(self, image: np.ndarray, conf: float = CONFIDENCE, iou: float = NMS_IOU,
                imgsz: int | None = None) -> Detections:
        options = {"conf": conf, "iou": iou, "imgsz": imgsz or self.spec.input_size}
        start = time.perf_counter()
        canvas, placement = letterbox(image, options["imgsz"], square=False, stride=self.stride)
        output = self._run(canvas, self._predictions)[0]
        boxes, scores, class_ids = non_max_suppression(output, conf, iou)
        boxes = placement.boxes_to_original(boxes)
        latency_ms = (time.perf_counter() - start) * 1000
        detections = tuple(Detection(self.labels[c], int(c), float(s), tuple(b.tolist()))
                           for b, s, c in zip(boxes, scores, class_ids))
        height, width = image.shape[:2]
        return Detections(self.spec.name, detections, (width, height), latency_ms, classes=self.labels,
                          version=self.version, options=options)

    def feature_map(self, canvas: np.ndarray, layer: str) -> np.ndarray:
        """The activations (channels × h × w) of feature layer `layer` ("P5/32") for a letterbox canvas."""
        return self._run(canvas, layer)[0]

    def _run(self, canvas: np.ndarray, output: str) -> np.ndarray:
        pixels = canvas.transpose(2, 0, 1)[None].astype(np.float32) / 255  # NCHW, RGB in [0, 1]
        return self._session.run([output], {self._input: pixels})[0]


def non_max_suppression(output: np.ndarray, conf: float, iou: float,
                        max_detections: int = MAX_DETECTIONS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes (x1, y1, x2, y2 on the canvas), scores and class ids from one image's raw output
    (4 + classes rows: centre x, centre y, width, height, then each class's score), highest score
    first, as Ultralytics' non_max_suppression keeps them: the best class of each anchor above
    `conf`, then greedy suppression per class of boxes overlapping a better one by more than `iou`."""
    class_scores = output[4:]
    class_ids = class_scores.argmax(axis=0)
    scores = np.take_along_axis(class_scores, class_ids[None], axis=0)[0]
    chosen = np.flatnonzero(scores > conf)
    chosen = chosen[np.argsort(-scores[chosen], kind="stable")][:MAX_CANDIDATES]
    centre, size = output[:2, chosen].T, output[2:4, chosen].T
    boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    kept = _greedy_suppression(boxes + class_ids[chosen, None] * CLASS_OFFSET, iou)[:max_detections]
    return boxes[kept], scores[chosen][kept], class_ids[chosen][kept]


def _greedy_suppression(boxes: np.ndarray, threshold: float) -> np.ndarray:
    """Indices of the boxes kept (they come sorted by score): each suppresses the later ones that
    overlap it by an IoU above `threshold` (torchvision.ops.nms's rule)."""
    remaining, kept = np.arange(len(boxes)), []
    while remaining.size:
        best, rest = remaining[0], remaining[1:]
        kept.append(best)
        remaining = rest[box_iou(boxes[rest], boxes[best]) <= threshold]
    return np.array(kept, dtype=np.int64)


def box_iou(boxes: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Intersection over union of each of `boxes` (N × 4, x1 y1 x2 y2) with `box` (0 for two empty boxes)."""
    top_left, bottom_right = np.maximum(boxes[:, :2], box[:2]), np.minimum(boxes[:, 2:], box[2:])
    overlap = np.prod(np.clip(bottom_right - top_left, 0, None), axis=1)
    areas = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    return overlap / np.maximum(areas + np.prod(box[2:] - box[:2]) - overlap, 1e-9)
