"""Image loading: every supported format ends as RGB uint8 H×W×3; every bad input gets its message."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from core.io.images import MIN_SIDE, ImageError, load_image


def _encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _rgba(photo):
    image = photo.convert("RGBA")
    image.putalpha(Image.linear_gradient("L").resize(photo.size))
    return image


def _png16(photo):
    grey16 = (np.asarray(photo.convert("L"), np.uint16) * 257).astype(np.uint16)
    return Image.fromarray(grey16)


def _exif_rotated(photo):
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    return _encode(photo, "JPEG", exif=exif.tobytes())


# name, bytes maker, expected (height, width)
FORMATS = [
    ("jpeg", lambda p: _encode(p, "JPEG"), (108, 81)),
    ("png", lambda p: _encode(p, "PNG"), (108, 81)),
    ("png-rgba", lambda p: _encode(_rgba(p), "PNG"), (108, 81)),
    ("png-palette", lambda p: _encode(p.convert("P", palette=Image.Palette.ADAPTIVE), "PNG"), (108, 81)),
    ("png-palette-transparent", lambda p: _encode(p.convert("P"), "PNG", transparency=0), (108, 81)),
    ("png-16bit-grey", lambda p: _encode(_png16(p), "PNG"), (108, 81)),
    ("png-greyscale", lambda p: _encode(p.convert("L"), "PNG"), (108, 81)),
    ("webp", lambda p: _encode(p, "WEBP"), (108, 81)),
    ("bmp", lambda p: _encode(p, "BMP"), (108, 81)),
    ("tiff", lambda p: _encode(p, "TIFF"), (108, 81)),
    ("gif-animated", lambda p: _encode(p, "GIF", save_all=True, append_images=[p.rotate(90)]), (108, 81)),
    ("jpeg-cmyk", lambda p: _encode(p.convert("CMYK"), "JPEG"), (108, 81)),
    ("jpeg-exif-rotated", _exif_rotated, (81, 108)),
]


@pytest.mark.parametrize("name, make, shape", FORMATS, ids=[f[0] for f in FORMATS])
def test_every_format_becomes_rgb_uint8(photo, name, make, shape):
    pixels = load_image(make(photo))
    assert pixels.dtype == np.uint8 and pixels.shape == (*shape, 3)
    assert 20 < pixels.mean() < 235, "a conversion left the image blank"


def test_colours_survive_the_round_trip(photo):
    reference = np.asarray(photo, np.float32)
    for fmt in ("PNG", "BMP", "TIFF", "WEBP"):
        decoded = load_image(_encode(photo, fmt, **({"lossless": True} if fmt == "WEBP" else {})))
        assert np.abs(decoded - reference).max() == 0, fmt
    cmyk = load_image(_encode(photo.convert("CMYK"), "JPEG", quality=95))
    assert np.abs(cmyk - reference).mean() < 8  # CMYK JPEG is lossy, but not inverted or swapped


def test_transparent_pixels_become_white(photo):
    image = photo.convert("RGBA")
    image.putalpha(0)
    assert (load_image(_encode(image, "PNG")) == 255).all()


def test_sixteen_bit_keeps_its_range(photo):
    pixels = load_image(_encode(_png16(photo), "PNG"))
    expected = np.asarray(photo.convert("L"))
    assert np.array_equal(pixels[:, :, 0], expected)


def test_every_source_type(photo, photo_paths, tmp_path):
    data = _encode(photo, "PNG")
    path = tmp_path / "photo.png"
    path.write_bytes(data)
    sources = [data, bytearray(data), memoryview(data), io.BytesIO(data), path, str(path), photo, np.asarray(photo)]
    for source in sources:  # PNG is lossless: every way in gives the very same pixels
        assert np.array_equal(load_image(source), np.asarray(photo)), type(source)


def test_arrays_of_other_types(photo):
    rgb = np.asarray(photo)
    assert np.array_equal(load_image(rgb.astype(np.float32) / 255.0), rgb)
    assert np.array_equal(load_image(rgb.astype(np.uint16) * 257), rgb)
    assert load_image(rgb[:, :, 0]).shape == (108, 81, 3)
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    assert np.array_equal(load_image(rgba), rgb)


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge size: Pillow reads the size, a decoder would expand it."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    first_rows = zlib.compress(bytes(width + 1) * 4)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", first_rows) + chunk(b"IEND", b"")


def _half(data: bytes) -> bytes:
    """A download or upload cut off half-way."""
    return data[: len(data) // 2]


# name, bytes maker, words the message must contain
BAD_INPUTS = [
    ("empty", lambda p: b"", "empty"),
    ("not-an-image", lambda p: b"name,score\nbus,0.9\n" * 20, "not an image"),
    ("truncated-jpeg", lambda p: _half(_encode(p, "JPEG")), "truncated or corrupt"),
    ("truncated-png", lambda p: _half(_encode(p, "PNG")), "truncated or corrupt"),
    ("too-many-pixels", lambda p: _png_claiming(10_000, 5_000), "too large"),
    ("decompression-bomb", lambda p: _png_claiming(30_000, 30_000), "too many pixels"),
    ("too-small", lambda p: _encode(p.resize((MIN_SIDE - 1, 40)), "PNG"), "too small"),
]


@pytest.mark.parametrize("name, make, words", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_gets_a_clear_message(photo, name, make, words):
    with pytest.raises(ImageError, match=words) as error:
        load_image(make(photo))
    message = str(error.value)
    assert message.endswith(".") and "Traceback" not in message


def test_missing_file_and_bad_array(tmp_path):
    with pytest.raises(ImageError, match="No such file"):
        load_image(tmp_path / "missing.jpg")
    with pytest.raises(ImageError, match="shape"):
        load_image(np.zeros((10, 10, 5), np.uint8))
    with pytest.raises(ImageError, match="Cannot read an image from a int"):
        load_image(42)
