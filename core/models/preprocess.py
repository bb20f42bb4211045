"""Geometry that turns an RGB uint8 image into a model's square input, in RGB uint8, and back.

Pixel scaling and normalisation are not here: they live inside each saved model, so training and
serving cannot disagree. What is here is only what a person could look at: "what the model sees",
and where each of its pixels came from in the original image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image


LETTERBOX_GREY = 114  # Ultralytics' padding value


def fit_to_input(image: np.ndarray, size: int, mode: str = "stretch", crop_fraction: float = 1.0) -> np.ndarray:
    """Resize `image` (H×W×3 uint8) to size×size×3 uint8.

    "stretch" resizes both sides to `size`; "center-crop" resizes the shorter side to
    size / crop_fraction and keeps the centre square, as ImageNet models were evaluated.
    """
    picture = Image.fromarray(image)
    if mode == "stretch":
        return np.asarray(picture.resize((size, size), Image.Resampling.BILINEAR))
    # The crop's region of the original, resampled straight to the square: the same pixels as
    # resizing the whole image and cropping (at most one grey level apart, from rounding), for
    # ~60% of the work (bus.jpg, 810x1080: the resized image would be 256x341)
    left, top, width, height = input_region(image.shape[:2], size, mode, crop_fraction)
    box = (left, top, left + width, top + height)
    return np.asarray(picture.resize((size, size), Image.Resampling.BILINEAR, box=box))


def input_region(shape: tuple[int, int], size: int, mode: str = "stretch", crop_fraction: float = 1.0) -> tuple[float, ...]:
    """Where the model's input comes from in the original image (height, width = `shape`):
    (left, top, width, height) in original pixels. The whole image when stretched."""
    height, width = shape
    if mode == "stretch":
        return 0.0, 0.0, float(width), float(height)
    if mode != "center-crop":  # a letterbox is not a region of the image: see Placement
        raise ValueError(f"Unknown resize mode {mode!r}; use 'stretch' or 'center-crop'.")
    new_width, new_height, left, top = _center_crop_geometry(height, width, size, crop_fraction)
    scale_x, scale_y = new_width / width, new_height / height
    return left / scale_x, top / scale_y, size / scale_x, size / scale_y


def _center_crop_geometry(height: int, width: int, size: int, crop_fraction: float) -> tuple[int, int, int, int]:
    """The one computation behind fit_to_input and input_region, so the two cannot drift apart:
    the resized image's (width, height) and the crop's (left, top) on it."""
    shorter = max(size, round(size / crop_fraction))
    scale = shorter / min(width, height)
    # Each side is at least `size`, so a very thin image still fills the square after rounding.
    new_width, new_height = max(size, round(width * scale)), max(size, round(height * scale))
    return new_width, new_height, (new_width - size) // 2, (new_height - size) // 2


@dataclass(frozen=True)
class Placement:
    """Where an image (original height × width) lies on its letterbox canvas, in canvas pixels."""

    left: int
    top: int
    width: int
    height: int
    original: tuple[int, int]  # (height, width) of the original image

    @property
    def gain(self) -> tuple[float, float]:
        """Canvas pixels per original pixel, (x, y); per axis, because each side is rounded."""
        return self.width / self.original[1], self.height / self.original[0]

    @property
    def _gains(self) -> np.ndarray:  # per box coordinate x1, y1, x2, y2
        return np.tile(self.gain, 2)

    @property
    def _offsets(self) -> np.ndarray:
        return np.array([self.left, self.top, self.left, self.top], np.float64)

    def boxes_to_canvas(self, boxes) -> np.ndarray:
        """(N, 4) boxes x1, y1, x2, y2 in original pixels onto the canvas."""
        return _as_boxes(boxes) * self._gains + self._offsets

    def boxes_to_original(self, boxes) -> np.ndarray:
        """(N, 4) canvas boxes back to original pixels, clipped to the image (as Ultralytics'
        scale_boxes does for the detector's own output)."""
        height, width = self.original
        return np.clip((_as_boxes(boxes) - self._offsets) / self._gains, 0, [width, height, width, height])

    def map_to_original(self, values: np.ndarray) -> np.ndarray:
        """A float map over the canvas cut to the image and resized back over the original (bilinear)."""
        inside = np.asarray(values, np.float32)[self.top : self.top + self.height, self.left : self.left + self.width]
        height, width = self.original
        return np.asarray(Image.fromarray(inside).resize((width, height), Image.Resampling.BILINEAR))


def _as_boxes(boxes) -> np.ndarray:
    return np.asarray(boxes, np.float64).reshape(-1, 4)


def letterbox(image: np.ndarray, size: int, square: bool = True, stride: int = 32) -> tuple[np.ndarray, Placement]:
    """`image` scaled to fit size×size and centred on grey exactly as Ultralytics' LetterBox does
    (the same rounding, OpenCV's bilinear resize, grey 114), so the canvas holds the very pixels
    YOLO was trained and validated on; and where the image lies on it.

    `square=True` pads to the full size×size. `square=False` pads only up to a multiple of
    `stride` (640×480 for a 4:3 photo), as Ultralytics' predictor does for dynamic-shape models:
    the same pixels with less grey around them. OpenCV does not care about channel order, so RGB
    stays RGB. (tests/test_geometry.py compares every pixel with Ultralytics' own LetterBox.)
    """
    import cv2

    image = np.ascontiguousarray(image)  # OpenCV refuses views with negative or odd strides
    height, width = image.shape[:2]
    scale = min(size / height, size / width)
    new_width, new_height = max(round(width * scale), 1), max(round(height * scale), 1)
    pad_x, pad_y = size - new_width, size - new_height
    if not square:
        pad_x, pad_y = pad_x % stride, pad_y % stride
    # Ultralytics splits odd padding with these roundings; the boxes' mapping back relies on them.
    left, right = round(pad_x / 2 - 0.1), round(pad_x / 2 + 0.1)
    top, bottom = round(pad_y / 2 - 0.1), round(pad_y / 2 + 0.1)
    if (new_width, new_height) != (width, height):
        image = cv2.resize(image, (new_width, new_height), interpolation=cv2.INTER_LINEAR)
    canvas = cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(LETTERBOX_GREY,) * 3)
    return canvas, Placement(left, top, new_width, new_height, (height, width))
