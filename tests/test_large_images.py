"""Phone photos of 50 megapixels and more: JPEGs decode straight at a reduced scale; other formats
and impossible sizes keep the decompression-bomb guard, with our own message."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from PIL import Image

from core.errors import ImageError
from core.io.images import MAX_JPEG_PIXELS, MAX_PIXELS, load_image


def _photo(width: int, height: int, kind: str = "JPEG") -> bytes:
    """A smooth, photo-like picture (a blown-up random pattern) with a white mark at its top left."""
    pattern = np.random.default_rng(0).integers(0, 256, (height // 64, width // 64, 3), dtype=np.uint8)
    picture = Image.fromarray(pattern).resize((width, height), Image.Resampling.BILINEAR)
    picture.paste((255, 255, 255), (0, 0, width // 4, height // 4))
    buffer = io.BytesIO()
    picture.save(buffer, kind, **({"quality": 85} if kind == "JPEG" else {"compress_level": 1}))
    return buffer.getvalue()


def _jpeg_claiming(width: int, height: int) -> bytes:
    """A small real JPEG whose frame header (SOF0) claims another size: opened, never decodable."""
    data = bytearray(_photo(128, 128))
    start = data.index(b"\xff\xc0") + 5  # marker, 2-byte length, 1-byte precision, then height, width
    data[start : start + 4] = struct.pack(">HH", height, width)
    return bytes(data)


@pytest.mark.parametrize("width, height, decoded", [
    (8160, 6120, (3060, 4080)),  # 50 MP, a current phone: half size, 12.5 MP
    (14000, 10500, (5250, 7000)),  # 147 MP: a quarter per side
    (6000, 4000, (4000, 6000)),  # 24 MP: under the limit, decoded whole
])
def test_large_jpeg_photos_decode_at_a_reduced_scale(width, height, decoded):
    pixels = load_image(_photo(width, height))
    assert pixels.shape == (*decoded, 3) and pixels.dtype == np.uint8
    assert pixels.shape[0] * pixels.shape[1] <= MAX_PIXELS
    top_left = pixels[: decoded[0] // 5, : decoded[1] // 5]  # the white mark is still where it was
    assert top_left.min() >= 240


@pytest.mark.slow
def test_other_formats_keep_the_limit_with_our_message():
    with pytest.raises(ImageError) as error:
        load_image(_photo(8160, 6120, "PNG"))
    message = str(error.value)
    assert "too large: 8160×6120 = 49,939,200 pixels" in message and f"{MAX_PIXELS:,}" in message
    assert f"{MAX_JPEG_PIXELS:,} for JPEG photos" in message and "DOS" not in message


def test_impossible_jpeg_sizes_are_refused_before_decoding():
    with pytest.raises(ImageError, match="too large: 13000×13000"):
        load_image(_jpeg_claiming(13_000, 13_000))  # 169 MP: above our JPEG limit
    with pytest.raises(ImageError, match="too many pixels to open safely") as error:
        load_image(_jpeg_claiming(60_000, 60_000))  # above Pillow's own hard limit
    assert "decompression bomb DOS attack" not in str(error.value)
