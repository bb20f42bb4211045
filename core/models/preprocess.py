"""Geometry that turns an RGB uint8 image into a model's square input, in RGB uint8.

Pixel scaling and normalisation are not here: they live inside each saved model, so training and
serving cannot disagree. What is here is only what a person could look at: "what the model sees".
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def fit_to_input(image: np.ndarray, size: int, mode: str = "stretch", crop_fraction: float = 1.0) -> np.ndarray:
    """Resize `image` (H×W×3 uint8) to size×size×3 uint8.

    "stretch" resizes both sides to `size`; "center-crop" resizes the shorter side to
    size / crop_fraction and keeps the centre square, as ImageNet models were evaluated.
    """
    picture = Image.fromarray(image)
    if mode == "stretch":
        return np.asarray(picture.resize((size, size), Image.Resampling.BILINEAR))
    if mode == "center-crop":
        return np.asarray(_center_crop(picture, size, crop_fraction))
    raise ValueError(f"Unknown resize mode {mode!r}; use 'stretch' or 'center-crop'.")


def _center_crop(picture: Image.Image, size: int, crop_fraction: float) -> Image.Image:
    width, height = picture.size
    shorter = max(size, round(size / crop_fraction))
    scale = shorter / min(width, height)
    new_width, new_height = max(size, round(width * scale)), max(size, round(height * scale))
    resized = picture.resize((new_width, new_height), Image.Resampling.BILINEAR)
    left, top = (new_width - size) // 2, (new_height - size) // 2
    return resized.crop((left, top, left + size, top + size))


def input_region(shape: tuple[int, int], size: int, mode: str = "stretch", crop_fraction: float = 1.0) -> tuple[float, ...]:
    """Where the model's input comes from in the original image (height, width = `shape`):
    (left, top, width, height) in original pixels. The whole image when stretched."""
    height, width = shape
    if mode == "stretch":
        return 0.0, 0.0, float(width), float(height)
    shorter = max(size, round(size / crop_fraction))
    scale = shorter / min(width, height)
    new_width, new_height = max(size, round(width * scale)), max(size, round(height * scale))
    scale_x, scale_y = new_width / width, new_height / height
    left, top = (new_width - size) // 2, (new_height - size) // 2
    return left / scale_x, top / scale_y, size / scale_x, size / scale_y
