"""EigenCAM for the YOLO detector, through the grad-cam package (pytorch-grad-cam).

EigenCAM (Muhammad & Yeasin 2020) projects a layer's activations on their first principal
component: no gradients, no target class, so it suits a detector. Two traps handled here:
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

PAD_VALUE = 114  # Ultralytics' letterbox grey
_hooks_lock = threading.Lock()  # the package hooks the shared network while it runs: one call at a time


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """`image` scaled to fit size x size, centred on grey, as Ultralytics feeds YOLO. Returns the
    canvas and the image's region on it (left, top, width, height)."""
    height, width = image.shape[:2]
    scale = size / max(height, width)
    new_width, new_height = max(1, round(width * scale)), max(1, round(height * scale))
    canvas = np.full((size, size, 3), PAD_VALUE, np.uint8)
    left, top = (size - new_width) // 2, (size - new_height) // 2
    resized = Image.fromarray(image).resize((new_width, new_height), Image.Resampling.BILINEAR)
    canvas[top : top + new_height, left : left + new_width] = np.asarray(resized)
    return canvas, (left, top, new_width, new_height)


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

    canvas, (left, top, width, height) = letterbox(image, size)
    scale = width / image.shape[1]
    inside = np.zeros((size, size), bool)
    for x1, y1, x2, y2 in boxes:
        inside[int(top + y1 * scale) : int(np.ceil(top + y2 * scale)), int(left + x1 * scale) : int(np.ceil(left + x2 * scale))] = True

    class Oriented(EigenCAM):
        def get_cam_image(self, input_tensor, target_layer, targets, activations, grads, eigen_smooth):
            return np.stack([orient(p, inside) for p in get_2d_projection(activations)])

    tensor = torch.from_numpy(canvas).permute(2, 0, 1)[None].float() / 255
    with _hooks_lock, Oriented(_PredictionsOnly(network), [network.model[layer_index]]) as cam:
        heatmap = cam(tensor, targets=[_sum_of_outputs])[0]
    original = heatmap[top : top + height, left : left + width]
    return np.asarray(Image.fromarray(original.astype(np.float32)).resize(image.shape[1::-1], Image.Resampling.BILINEAR))


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
