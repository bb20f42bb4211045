"""EigenCAM for the YOLO detector, on the activations the detector hands out (core.models.yolo_onnx).

EigenCAM (Muhammad & Yeasin 2020) projects a layer's activations on their first principal
component: no gradients, no target class, so it suits a detector. It is written here in numpy
rather than run through the grad-cam package because that package needs PyTorch in the server,
which costs about 900 MB of memory; tests/test_explain.py checks that both give the same map. The
network is fed the square canvas of core.models.preprocess.letterbox. A principal component's sign
is arbitrary, and on yolo11n it often lights the background: we orient it so that the map is
higher inside the detected boxes than outside (with no box, so that its largest magnitude is
positive, as Seg-Eigen-CAM does).
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from core.models.preprocess import letterbox

EPSILON = 1e-7  # the grad-cam package's, so the two scale a flat map alike


def eigencam(detector, image: np.ndarray, layer: str, boxes: list[tuple[float, ...]]) -> np.ndarray:
    """The EigenCAM map of `image` (RGB uint8) at the detector's feature layer `layer` ("P5/32"),
    oriented by `boxes` (x1, y1, x2, y2 in original pixels), as an H × W float map in [0, 1] over
    the original image."""
    # The full square, as the map has always been made. On the predictor's stride-padded canvas (the
    # same image pixels, less grey) yolo11n's first component explains worse: at P5/32 blurring its
    # top fifth drops the bus by 0.16 instead of 0.65, below random blobs (0.23).
    canvas, placement = letterbox(image, detector.spec.input_size)
    inside = np.zeros(canvas.shape[:2], bool)
    for x1, y1, x2, y2 in placement.boxes_to_canvas(boxes):
        inside[int(y1) : int(np.ceil(y2)), int(x1) : int(np.ceil(x2))] = True
    projection = orient(first_component(detector.feature_map(canvas, layer)), inside)
    height, width = canvas.shape[:2]
    on_canvas = _scaled(cv2.resize(_scaled(np.maximum(projection, 0)), (width, height)))
    return placement.map_to_original(on_canvas)


def first_component(activations: np.ndarray) -> np.ndarray:
    """Each position's activations (channels × h × w) projected on their first principal component
    (centred over the positions, as the grad-cam package does): an h × w map of either sign."""
    channels = activations.shape[0]
    rows = np.nan_to_num(activations.reshape(channels, -1).T.astype(np.float64))
    rows -= rows.mean(axis=0)
    _, _, components = np.linalg.svd(rows, full_matrices=False)  # the thin SVD: no positions × positions matrix
    return (rows @ components[0]).reshape(activations.shape[1:]).astype(np.float32)


def orient(projection: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Flip the component's sign so it is higher inside the boxes than outside."""
    mask = np.asarray(Image.fromarray(inside.astype(np.uint8) * 255).resize(projection.shape[::-1])) > 127
    if mask.any() and (~mask).any():
        flip = projection[mask].mean() < projection[~mask].mean()
    else:
        flip = abs(projection.min()) > abs(projection.max())
    return -projection if flip else projection


def _scaled(values: np.ndarray) -> np.ndarray:
    """Shifted and scaled to [0, 1]."""
    values = values - values.min()
    return (values / (EPSILON + values.max())).astype(np.float32)
