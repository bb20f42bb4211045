"""EigenCAM for the YOLO detector, through the grad-cam package (pytorch-grad-cam).

EigenCAM (Muhammad & Yeasin 2020) projects a layer's activations on their first principal
component: no gradients, no target class, so it suits a detector. The network is fed the canvas
Ultralytics itself makes (core.models.preprocess.letterbox). Two traps handled here:
- the package picks a class by arg-max of the output when `targets` is None, which fails on YOLO's
  tuple output: we wrap the network to return its prediction tensor and pass a target anyway;
- a principal component's sign is arbitrary, and on yolo11n it often lights the background. We
  orient it so that the map is higher inside the detected boxes than outside (with no box, so that
  its largest magnitude is positive, as Seg-Eigen-CAM does).
"""

from __future__ import annotations

import functools
import threading

import numpy as np
from PIL import Image

from core import frameworks
from core.models.preprocess import letterbox

_hooks_lock = threading.Lock()  # the package hooks the shared network while it runs: one call at a time


def feature_layers(network) -> dict[str, int]:
    """The layers whose outputs feed YOLO's Detect head, named by stride: {"P3/8": 16, ...}."""
    detect = network.model[-1]
    strides = [int(s) for s in getattr(detect, "stride", [8, 16, 32])]
    return {f"P{int(np.log2(s))}/{s}": int(index) for index, s in zip(detect.f, strides)}


def eigencam(network, image: np.ndarray, layer_index: int, boxes: list[tuple[float, ...]], size: int = 640) -> np.ndarray:
    """The EigenCAM map of `image` (RGB uint8) at `network.model[layer_index]`, oriented by `boxes`
    (x1, y1, x2, y2 in original pixels), as an H x W float map in [0, 1] over the original image."""
    torch = frameworks.torch()
    from pytorch_grad_cam import EigenCAM
    from pytorch_grad_cam.utils.svd_on_activations import get_2d_projection

    # The full square, as the map has always been made. On the predictor's stride-padded canvas (the
    # same image pixels, less grey) yolo11n's first component explains worse: at P5/32 blurring its
    # top fifth drops the bus by 0.16 instead of 0.65, below random blobs (0.23).
    canvas, placement = letterbox(image, size)
    inside = np.zeros(canvas.shape[:2], bool)
    for x1, y1, x2, y2 in placement.boxes_to_canvas(boxes):
        inside[int(y1) : int(np.ceil(y2)), int(x1) : int(np.ceil(x2))] = True

    class Oriented(EigenCAM):
        def get_cam_image(self, input_tensor, target_layer, targets, activations, grads, eigen_smooth):
            return np.stack([orient(p, inside) for p in get_2d_projection(activations)])

    tensor = torch.from_numpy(canvas).permute(2, 0, 1)[None].float() / 255
    with _hooks_lock, Oriented(_PredictionsOnly(network), [network.model[layer_index]]) as cam:
        heatmap = cam(tensor, targets=[_sum_of_outputs])[0]
    return placement.map_to_original(heatmap)


def orient(projection: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Flip the component's sign so it is higher inside the boxes than outside."""
    mask = np.asarray(Image.fromarray(inside.astype(np.uint8) * 255).resize(projection.shape[::-1])) > 127
    if mask.any() and (~mask).any():
        flip = projection[mask].mean() < projection[~mask].mean()
    else:
        flip = abs(projection.min()) > abs(projection.max())
    return -projection if flip else projection


def _sum_of_outputs(output):
    return output.sum()  # never used for gradients (EigenCAM has none); it only stops the arg-max


@functools.cache  # defined once, on first use, so torch loads only when needed
def _predictions_only_class():
    torch = frameworks.torch()

    class PredictionsOnly(torch.nn.Module):
        """YOLO's network returning only its prediction tensor (it returns a tuple in eval mode)."""

        def __init__(self, network):
            super().__init__()
            self.network = network

        def forward(self, x):
            output = self.network(x)
            return output[0] if isinstance(output, (tuple, list)) else output

    return PredictionsOnly


def _PredictionsOnly(network):  # noqa: N802 - reads like the class it builds
    return _predictions_only_class()(network)
