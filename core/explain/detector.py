"""EigenCAM explanations of the YOLO detector, with the same faithfulness curves as the classifiers:
the score is the confidence of the explained box (the best same-class box overlapping it by IoU
0.5 or more, 0 when it is gone). Each point of a curve is one detector run (they do not batch), so a
detector's curves have fewer points and random maps than a classifier's."""

from __future__ import annotations

import re
import time

import numpy as np

from core.errors import InvalidOptionError
from core.explain.base import Explanation, Target, normalise, resize_map
from core.explain.eigencam import eigencam
from core.explain.faithfulness import Faithfulness, faithfulness, shared_baseline
from core.models.preprocess import letterbox
from core.models.yolo_onnx import box_iou

FAITHFULNESS_CONFIDENCE = 0.01  # re-detect with a low threshold so a weakened box is still seen
MATCH_IOU = 0.5
# 2 + 2 * 7 * (1 + 2) = 44 detector runs per explanation (a classifier's 16 steps and 4 maps would be 152)
DETECTOR_STEPS = 8
DETECTOR_RANDOM_MAPS = 2


def layer_choices(detector) -> list[str]:
    """The feature maps that feed the Detect head, deepest (the default) first."""
    return list(detector.feature_layers)[::-1]


def layer_name(detector, layer: str | None) -> str:
    """Accept a name from layer_choices ("P5/32") or the network's "model.model[N]" of one of them."""
    layers = detector.feature_layers
    layer = layer or detector.spec.gradcam_layer or list(layers)[-1]
    if layer in layers:
        return layer
    match = re.fullmatch(r"model\.model\[(-?\d+)\]", layer)
    # The Detect head is the last layer, so the network has one layer more than its deepest feature map.
    named = {index: name for name, index in layers.items()}
    index = int(match.group(1)) % (max(named) + 2) if match else None
    if index not in named:
        choices = ", ".join(layers)
        raise InvalidOptionError(f"Unknown layer {layer!r} for {detector.spec.name}; choose one of {choices}.")
    return named[index]


def explain_detection(detector, image: np.ndarray, method, target, layer: str | None, box: int | None,
                      with_faithfulness: bool) -> Explanation:
    """`box` picks one detection to explain; by default every detection orients the map and the
    most confident one is scored. (`method` is EigenCAM's table entry; a target class is not taken.)"""
    if target is not None:
        raise InvalidOptionError(f"target chooses a class; {detector.spec.name} is a detector (use box).")
    detections = detector.predict(image).detections
    if box is not None and not 0 <= box < len(detections):
        raise InvalidOptionError(f"There are {len(detections)} detections; box {box} does not exist.")
    name = layer_name(detector, layer)
    explained = detections[box] if box is not None else (max(detections, key=lambda d: d.score) if detections else None)
    orienting = [explained.box] if box is not None else [d.box for d in detections]
    start = time.perf_counter()
    heatmap = eigencam(detector, image, name, orienting)
    if box is not None:
        heatmap = normalise(heatmap * _box_mask(heatmap.shape, explained.box))  # only the chosen box
    latency_ms = (time.perf_counter() - start) * 1000
    if explained is None:
        nothing = Target("(nothing detected)", -1, 0.0)
        return Explanation(detector.spec.name, method.name, nothing, name, heatmap, None, latency_ms,
                           "No detection: the map shows what the layer responds to most.", version=detector.version)
    score = box_faithfulness(detector, image, heatmap, explained) if with_faithfulness else None
    chosen = Target(explained.label, explained.class_id, explained.score)
    note = "restricted to the chosen box" if box is not None else "oriented by every detected box"
    return Explanation(detector.spec.name, method.name, chosen, name, heatmap, score, latency_ms, note, explained.box,
                       version=detector.version)


def box_faithfulness(detector, image: np.ndarray, heatmap: np.ndarray, explained) -> Faithfulness:
    """The curves on the image at the size the detector scales it to: the very pixels its letterbox
    makes (so the same answers), and at most 640 pixels a side to copy for each point, not 40 megapixels."""
    letterboxed, placement = letterbox(image, detector.spec.input_size, square=False, stride=detector.stride)
    top, left = placement.top, placement.left
    pixels = np.ascontiguousarray(letterboxed[top : top + placement.height, left : left + placement.width])
    on_input = resize_map(heatmap, pixels.shape[:2])
    gain_x, gain_y = placement.gain
    box = np.array(explained.box) * [gain_x, gain_y, gain_x, gain_y]

    def score(batch):
        return [_box_confidence(detector, one, explained.class_id, box) for one in batch]

    target = (id(detector), detector.spec.name, explained.class_id, tuple(round(float(v), 1) for v in box))
    baseline = shared_baseline(target, pixels, score, DETECTOR_STEPS, DETECTOR_RANDOM_MAPS)
    return faithfulness(on_input, pixels, score, baseline)


def _box_mask(shape: tuple[int, int], box) -> np.ndarray:
    mask = np.zeros(shape, np.float32)
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    mask[max(0, y1) : y2, max(0, x1) : x2] = 1
    return mask


def _box_confidence(detector, image: np.ndarray, class_id: int, box: np.ndarray) -> float:
    found = detector.predict(np.ascontiguousarray(image, dtype=np.uint8), conf=FAITHFULNESS_CONFIDENCE).detections
    same_class = [d for d in found if d.class_id == class_id]
    overlaps = box_iou(np.array([d.box for d in same_class]).reshape(-1, 4), box)
    return max((d.score for d, iou in zip(same_class, overlaps) if iou >= MATCH_IOU), default=0.0)

