"""Turn whatever the user gives us into one image convention: RGB, uint8, H×W×3.

Every conversion happens here, at the edge: EXIF rotation, alpha, palettes, CMYK, 16-bit and
greyscale pixels. Everything past this module can rely on the convention.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import IO, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import ImageError

MAX_PIXELS = 40_000_000  # the most pixels we decode (about 7,300 × 5,500): a decompression-bomb guard
# A JPEG (what phones and cameras write) may declare up to this many: it is decoded straight at a
# reduced scale (Pillow's draft mode: 1/2, 1/4 or 1/8 per side) to MAX_PIXELS or fewer, so a
# 50 MP phone photo or a 150 MP panorama costs little time and memory. Below Pillow's own hard
# limit (2 × Image.MAX_IMAGE_PIXELS, about 179 million), which stays in force.
MAX_JPEG_PIXELS = 160_000_000
JPEG_FORMATS = ("JPEG", "MPO")  # MPO: the multi-picture JPEGs some phones write
MIN_SIDE = 8  # smaller images carry no usable content for any of our models
BACKGROUND = (255, 255, 255)  # transparent pixels are shown on white, as a viewer would
SUPPORTED = "JPEG, PNG, WebP, BMP, TIFF, GIF or HEIC"

ImageSource = Union[str, os.PathLike, bytes, bytearray, memoryview, IO[bytes], Image.Image, np.ndarray]


_heif_registered = False


def load_image(source: ImageSource, *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode `source` (path, bytes, file object, PIL image or array) to RGB uint8 H×W×3."""
    if isinstance(source, np.ndarray):
        return _check_size(array_to_rgb(source), max_pixels)
    if isinstance(source, Image.Image):
        return _check_size(pil_to_rgb(source), max_pixels)
    return _check_size(pil_to_rgb(_open(source, max_pixels)), max_pixels)


def _open(source: ImageSource, max_pixels: int) -> Image.Image:
    data = _read_bytes(source)
    if not data:
        raise ImageError("The file is empty (0 bytes).")
    with warnings.catch_warnings():
        # We apply our own pixel limit; Pillow's warning would only repeat it.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = _pil_open(data)
        except Image.DecompressionBombError as error:
            limit = 2 * Image.MAX_IMAGE_PIXELS
            message = f"The image declares more than {limit:,} pixels: too many pixels to open safely."
            raise ImageError(message) from error
        except Exception as error:  # Pillow and its plugins raise many types for foreign data
            raise ImageError(f"The file is not an image we can read ({SUPPORTED} are).") from error
    if image.format in JPEG_FORMATS:  # checked before decoding, so a bomb is never expanded
        _check_pixels(image.size, MAX_JPEG_PIXELS if max_pixels == MAX_PIXELS else max_pixels)
        _decode_at_most(image, max_pixels)
    else:
        _check_pixels(image.size, max_pixels)
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageError(f"The image data is truncated or corrupt ({error}).") from error
    return image


def _decode_at_most(image: Image.Image, max_pixels: int) -> None:
    """Ask the JPEG decoder for the largest scale (1, 1/2, 1/4, 1/8 per side) that keeps the image
    within `max_pixels`; the image then decodes at that size."""
    width, height = image.size
    scale = 1
    while width * height / scale**2 > max_pixels and scale < 8:
        scale *= 2
    if scale > 1:
        image.draft("RGB", (-(-width // scale), -(-height // scale)))


def _pil_open(data: bytes) -> Image.Image:
    """Image.open, with HEIC/HEIF (phone photos) added the first time Pillow needs it."""
    global _heif_registered
    try:
        return Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        if _heif_registered:
            raise
        from pi_heif import register_heif_opener  # imported only when needed: it costs start-up time

        register_heif_opener()
        _heif_registered = True
        return Image.open(io.BytesIO(data))


def _read_bytes(source: ImageSource) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise ImageError(f"No such file: {path}.")
        return path.read_bytes()
    if hasattr(source, "read"):
        if hasattr(source, "seek"):
            source.seek(0)  # an upload may already have been read once
        return source.read()
    raise ImageError(f"Cannot read an image from a {type(source).__name__}.")


def pil_to_rgb(image: Image.Image) -> np.ndarray:
    """Apply EXIF orientation, then convert any Pillow mode to RGB uint8."""
    try:
        image = ImageOps.exif_transpose(image)
    except Exception:  # a malformed EXIF block must not cost the user their image
        pass
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit PNG or TIFF
        return array_to_rgb(np.asarray(image).astype(np.uint16))
    if image.mode == "F":
        return array_to_rgb(np.asarray(image))
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        background = Image.new("RGBA", image.size, BACKGROUND + (255,))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))


def array_to_rgb(array: np.ndarray) -> np.ndarray:
    """Convert a greyscale, RGB or RGBA array of any common dtype to RGB uint8 H×W×3."""
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise ImageError(f"An image array must be H×W, H×W×3 or H×W×4; got shape {array.shape}.")
    pixels = _to_uint8(array)
    if pixels.shape[2] == 1:
        pixels = np.repeat(pixels, 3, axis=2)
    elif pixels.shape[2] == 4:
        alpha = pixels[:, :, 3:4].astype(np.float32) / 255.0
        blended = pixels[:, :, :3] * alpha + np.array(BACKGROUND, np.float32) * (1.0 - alpha)
        pixels = np.rint(blended).astype(np.uint8)
    return np.ascontiguousarray(pixels)


def _to_uint8(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == bool:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.floating):
        finite = np.nan_to_num(array.astype(np.float64), nan=0.0, posinf=1.0, neginf=0.0)
        scale = 255.0 if finite.max(initial=0.0) <= 1.0 else 1.0  # [0, 1] floats or 0-255 floats
        return np.clip(np.rint(finite * scale), 0, 255).astype(np.uint8)
    if array.dtype == np.uint16:  # 16-bit PNG, TIFF or sensor data: 65535 maps to 255
        return np.rint(array / 257.0).astype(np.uint8)
    if np.issubdtype(array.dtype, np.integer):
        # Other integer types: an 8-bit range stored in a wider type stays as it is.
        wide = array.astype(np.int64)
        divisor = 257.0 if wide.max(initial=0) > 255 else 1.0
        return np.clip(np.rint(wide / divisor), 0, 255).astype(np.uint8)
    raise ImageError(f"Unsupported pixel type {array.dtype}.")


def _check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width * height > max_pixels:
        raise ImageError(
            f"The image is too large: {width}×{height} = {width * height:,} pixels; the limit is "
            f"{max_pixels:,} ({MAX_JPEG_PIXELS:,} for JPEG photos, which are decoded at a reduced size)."
        )
    if min(width, height) < MIN_SIDE:
        raise ImageError(
            f"The image is too small: {width}×{height} pixels; each side must be at least {MIN_SIDE}."
        )


def _check_size(pixels: np.ndarray, max_pixels: int) -> np.ndarray:
    _check_pixels((pixels.shape[1], pixels.shape[0]), max_pixels)
    return pixels
