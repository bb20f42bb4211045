"""Geometry round trips on odd sizes: a bright square put through a model's resizing and mapped back
lands where it was, and the regions we report are the pixels the models are actually fed."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from core import frameworks, get_spec
from core.explain.base import to_original
from core.models.preprocess import fit_to_input, input_region, letterbox

SHAPES = [(37, 211), (211, 37), (480, 640), (1079, 1921)]  # (height, width): thin, tall, 4:3, odd 16:9
BACKGROUND, BRIGHT = 20, 235
PAD = 114  # Ultralytics' letterbox grey
CLASSIFIER_SPECS = {  # the registry's real entries, and MobileNetV2's geometry stretched instead of cropped
    "mobilenet_v2 (centre crop 224)": lambda: get_spec("mobilenet_v2"),
    "cifar10_cnn (stretch 32)": lambda: get_spec("cifar10_cnn"),
    "stretch 224": lambda: replace(get_spec("mobilenet_v2"), resize="stretch"),
}


def _square_in(left: float, top: float, width: float, height: float) -> tuple[int, int, int, int]:
    """A square of at least 8 px, off-centre (so a flip or a transposition would show), inside a region."""
    side = max(8, int(min(width, height) // 4))
    x1, y1 = int(left + width * 0.55) - side // 2, int(top + height * 0.4) - side // 2
    return x1, y1, x1 + side, y1 + side


def _square_image(shape: tuple[int, int], box: tuple[int, int, int, int]) -> np.ndarray:
    image = np.full((*shape, 3), BACKGROUND, np.uint8)
    x1, y1, x2, y2 = box
    image[y1:y2, x1:x2] = BRIGHT
    return image


def _brightness(pixels: np.ndarray) -> np.ndarray:
    """0 on the background, 1 on the square: a stand-in for a heatmap."""
    return (pixels[:, :, 0].astype(np.float32) - BACKGROUND) / (BRIGHT - BACKGROUND)


def _bounds(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])


def _tolerance(original_side: int, input_side: int) -> float:
    """A pixel or two; where one input pixel covers many original ones (1921 -> 32), a tenth of it."""
    return max(2.0, 0.1 * original_side / input_side)


def _photo(photos, shape: tuple[int, int]) -> np.ndarray:
    """The bus photo resized to `shape`: real texture at an odd size."""
    return np.asarray(Image.fromarray(photos["bus"]).resize(shape[::-1], Image.Resampling.BILINEAR))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("spec_name", CLASSIFIER_SPECS)
def test_a_square_through_fit_to_input_and_back_lands_where_it_was(spec_name, shape):
    spec = CLASSIFIER_SPECS[spec_name]()
    box = _square_in(*input_region(shape, spec.input_size, spec.resize, spec.crop_fraction))
    image = _square_image(shape, box)
    pixels = fit_to_input(image, spec.input_size, spec.resize, spec.crop_fraction)
    assert pixels.shape == (spec.input_size, spec.input_size, 3) and pixels.dtype == np.uint8
    back = to_original(_brightness(pixels), image.shape, spec)
    assert back.shape == shape
    error = np.abs(_bounds(back > 0.5) - box).max()
    assert error <= _tolerance(max(shape), spec.input_size), (_bounds(back > 0.5), box)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("size, crop_fraction", [(224, 0.875), (224, 1.0), (32, 0.875)])
def test_centre_crop_region_is_the_pixels_fit_to_input_keeps(photos, shape, size, crop_fraction):
    """fit_to_input samples the crop straight from the original: to one grey level, the pixels of
    the textbook recipe (resize the shorter side, then cut the centre square at input_region)."""
    image = _photo(photos, shape)
    cropped = fit_to_input(image, size, "center-crop", crop_fraction).astype(int)
    left, top, width, height = input_region(shape, size, "center-crop", crop_fraction)
    scale = size / width
    resized = np.asarray(Image.fromarray(image).resize(
        (round(shape[1] * scale), round(shape[0] * scale)), Image.Resampling.BILINEAR)).astype(int)

    def square_at(dx: int, dy: int) -> np.ndarray:
        x, y = round(left * scale) + dx, round(top * scale) + dy
        return resized[y:y + size, x:x + size]

    assert np.abs(cropped - square_at(0, 0)).max() <= 1
    # The comparison can fail: the square moved by one pixel along the long side is another picture.
    step = (1, 0) if shape[1] > shape[0] else (0, 1)
    assert np.abs(cropped - square_at(*step)).mean() > 0.5


@pytest.mark.parametrize("function", [fit_to_input, input_region])
def test_unknown_resize_modes_are_refused(function):
    first = np.zeros((40, 60, 3), np.uint8) if function is fit_to_input else (40, 60)
    assert function(first, 32, "stretch") is not None
    with pytest.raises(ValueError, match="Unknown resize mode 'letterbox'"):
        function(first, 32, "letterbox")


def _region(canvas: np.ndarray, placement) -> np.ndarray:
    return canvas[placement.top : placement.top + placement.height, placement.left : placement.left + placement.width]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("size, square", [(640, True), (320, True), (640, False)], ids=["640", "320", "640 by stride"])
def test_letterbox_round_trips_boxes_and_maps(shape, size, square):
    box = _square_in(0, 0, shape[1], shape[0])
    canvas, placement = letterbox(_square_image(shape, box), size, square=square)
    assert canvas.dtype == np.uint8 and max(canvas.shape[:2]) == size
    assert canvas.shape[:2] == (size, size) if square else canvas.shape[0] % 32 == canvas.shape[1] % 32 == 0
    inside = np.zeros(canvas.shape[:2], bool)
    _region(inside, placement)[:] = True
    assert (canvas[~inside] == PAD).all() and (canvas[inside] != PAD).any()
    assert min(placement.left, placement.top) == 0 and max(placement.width, placement.height) == size  # fits one way

    on_canvas = placement.boxes_to_canvas(box)[0]
    assert np.abs(_bounds(canvas[:, :, 0] > (BACKGROUND + BRIGHT) / 2) - on_canvas).max() <= 1
    assert np.allclose(placement.boxes_to_original(on_canvas)[0], box)

    heatmap = np.where(inside, _brightness(canvas), 0)
    back = placement.map_to_original(heatmap)
    assert back.shape == shape
    assert np.abs(_bounds(back > 0.5) - box).max() <= _tolerance(max(shape), size)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("square", [True, False], ids=["square", "by stride"])
def test_canvas_boxes_map_back_as_ultralytics_maps_them(shape, square):
    frameworks.ultralytics()
    from ultralytics.utils.ops import scale_boxes

    canvas, placement = letterbox(np.zeros((*shape, 3), np.uint8), 640, square=square)
    rng = np.random.default_rng(0)
    corners = np.sort(rng.uniform(-20, 660, (50, 2, 2)), axis=1)  # some boxes reach outside the image
    boxes = corners.transpose(0, 2, 1).reshape(50, 4)[:, [0, 2, 1, 3]]  # x1, y1, x2, y2
    expected = scale_boxes(canvas.shape[:2], boxes.copy(), shape)
    assert np.allclose(placement.boxes_to_original(boxes), expected, atol=1e-6)


@pytest.mark.parametrize("shape", SHAPES + [(1, 3000), (397, 611)], ids=str)
@pytest.mark.parametrize("size, square", [(640, True), (320, True), (640, False), (320, False)],
                         ids=["640", "320", "640 by stride", "320 by stride"])
def test_our_letterbox_is_ultralytics_letterbox_pixel_for_pixel(shape, size, square):
    """YOLO is served without Ultralytics, so our canvas must be the one Ultralytics' predictor
    makes (the same rounding of sizes and padding, the same resampling), or every box would move."""
    frameworks.ultralytics()
    from ultralytics.data.augment import LetterBox

    rng = np.random.default_rng(sum(shape))
    image = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    transform = LetterBox(new_shape=(size, size), auto=not square, stride=32)
    params = transform.get_params({"img": image})
    expected = transform.apply_image({"img": image}, params)["img"]
    canvas, placement = letterbox(image, size, square=square)
    assert canvas.shape == expected.shape and np.array_equal(canvas, expected)
    assert (placement.left, placement.top) == (params["left"], params["top"])
    assert (placement.width, placement.height) == tuple(params["new_unpad"])


def test_the_square_canvas_holds_the_pixels_of_the_served_canvas(photos):
    """EigenCAM looks at the square canvas, detection at the stride-padded one: the same image pixels."""
    image = np.ascontiguousarray(photos["bus"][101:498, 13:624])  # an odd crop, 397×611
    canvas, placement = letterbox(image, 640, square=False)
    square, on_square = letterbox(image, 640)
    assert square.shape[:2] == (640, 640) and np.array_equal(_region(square, on_square), _region(canvas, placement))
