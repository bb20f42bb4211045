"""The 15 common corruptions of CIFAR-10-C and ImageNet-C (Hendrycks & Dietterich, "Benchmarking
Neural Network Robustness to Common Corruptions and Perturbations", ICLR 2019), at 5 severities.

    corrupt(image, "gaussian_noise", severity=3, seed=0)  # RGB uint8 H×W×3 in, same shape out

The definitions and their constants are those of the authors' generators, make_cifar_c.py and
make_imagenet_c.py (github.com/hendrycks/robustness), rewritten on numpy, scipy, scikit-image,
OpenCV and Pillow. Which constants apply depends on the image's size: an image whose shorter side
is at most SMALL_IMAGE_MAX_SIDE px (CIFAR's 32 px) gets CIFAR-10-C's, a larger one ImageNet-C's.
ImageNet-C applied them to 224-px crops; a larger image (a 640-px COCO photo) gets the same
constants in pixels at its own resolution, as COCO-C did (Michaelis et al., 2019), so its blurs and
displacements are relatively milder.

Why not the imagecorruptions package (1.1.2, the maintained port): it does not run with our
NumPy 2 and scikit-image 0.26 (it imports pkg_resources, which this environment lacks; glass blur
passes `multichannel`, removed from scikit-image; fog uses `np.float_`, removed from NumPy 2), it
draws from NumPy's global random state (no seed per image), and it requires opencv-python beside
our opencv-python-headless.

Where this differs from the published generators, and why:
- Randomness comes from `np.random.default_rng(seed)` per call instead of NumPy's global state, so
  an image's corruption is reproducible. Every severity of a corruption draws the same numbers
  (common random numbers): severities differ by their constants alone.
- Frost: the authors blend in crops of six frost photographs, which are not distributed with this
  project. A frost-like texture (a cloudy haze crossed by ice needles at two scales) is synthesised
  from the seed instead, with the mean colour and contrast of their photographs (RGB mean
  (146, 167, 179), standard deviation 30, measured on frost1-5, the ones their code draws from).
  Severities keep their published blend weights.
- Motion blur (and the streaks of snow): the authors call ImageMagick's MotionBlurImage through
  Wand. The same operator is written here as one sparse OpenCV kernel: ImageMagick's one-sided
  Gaussian of width 2·radius + 1 along the angle, its rounding of offsets and its edge pixels.
- Glass blur's pixel-swapping loop visits every pixel in order; here the swaps run in vectorised
  waves that give exactly the loop's result (see `_shuffle_locally`). Its offsets are drawn in
  [-δ, δ - 1] as in the authors' code (numpy's randint excludes its upper bound).
- Images of any size and aspect ratio: the fog's fractal (a power of two at least the longer
  side, as the imagecorruptions package does), the zooms and the affine warp follow the image's own
  height and width; the authors' code assumes 32×32 or 224×224.
- The result is computed in floating point and rounded once to uint8 at the end (the authors
  truncate with np.uint8 and pass motion blur and snow through 8-bit PNGs).
- Speed: Gaussian filters, zooms and HSV conversions run in OpenCV (same definitions as the
  scikit-image and scipy calls they replace; zoom blur's enlargements are one affine warp each
  about the centre, where the authors zoom a centre crop with scipy: sub-pixel placement aside,
  the same image).

A severity is a step in difficulty for a model, and mostly in pixel error too: the PSNR against
the clean image falls with severity, except where the published constants trade one effect for
another (glass blur on CIFAR blurs more after the same shuffle; frost darkens the image under the
same frost; elastic transform swaps a global affine warp for local distortion). The tests list
each such pair (tests/test_robustness.py).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import numpy as np

from core.errors import ImageError, InvalidOptionError

CORRUPTIONS = (
    "gaussian_noise", "shot_noise", "impulse_noise",  # noise
    "defocus_blur", "glass_blur", "motion_blur", "zoom_blur",  # blur
    "snow", "frost", "fog",  # weather
    "brightness", "contrast", "elastic_transform", "pixelate", "jpeg_compression",  # digital
)
FAMILIES = {"noise": CORRUPTIONS[:3], "blur": CORRUPTIONS[3:7], "weather": CORRUPTIONS[7:10],
            "digital": CORRUPTIONS[10:]}
SEVERITIES = (1, 2, 3, 4, 5)
# The corruptions that draw random numbers: the others give the same image whatever the seed.
RANDOM = ("gaussian_noise", "shot_noise", "impulse_noise", "glass_blur", "motion_blur", "snow", "frost", "fog",
          "elastic_transform")
SMALL_IMAGE_MAX_SIDE = 64  # shorter side in px up to which CIFAR-10-C's constants apply

# One tuple per severity 1..5, copied from make_cifar_c.py ("cifar") and make_imagenet_c.py ("imagenet").
CONSTANTS = {
    "cifar": {
        "gaussian_noise": (0.04, 0.06, 0.08, 0.09, 0.10),  # standard deviation
        "shot_noise": (500, 250, 100, 75, 50),  # photons at full intensity
        "impulse_noise": (0.01, 0.02, 0.03, 0.05, 0.07),  # share of salt-and-pepper values
        "defocus_blur": ((0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1)),  # disk radius, anti-alias sigma
        "glass_blur": ((0.05, 1, 1), (0.25, 1, 1), (0.4, 1, 1), (0.25, 1, 2), (0.4, 1, 2)),  # sigma, max shift, passes
        "motion_blur": ((6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5)),  # radius, sigma
        "zoom_blur": ((1, 1.06, 0.01), (1, 1.11, 0.01), (1, 1.16, 0.01), (1, 1.21, 0.01), (1, 1.26, 0.01)),  # arange
        # mean, std, zoom, threshold, blur radius, blur sigma, share of the image kept
        "snow": ((0.1, 0.2, 1, 0.6, 8, 3, 0.95), (0.1, 0.2, 1, 0.5, 10, 4, 0.9), (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9),
                 (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85), (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8)),
        "frost": ((1, 0.2), (1, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45)),  # weight of the image, of the frost
        "fog": ((0.2, 3), (0.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75)),  # strength, fractal decay
        "brightness": (0.05, 0.1, 0.15, 0.2, 0.3),  # added to HSV value
        "contrast": (0.75, 0.5, 0.4, 0.3, 0.15),  # factor on the distance to the mean
        # alpha, sigma, affine shift: multiples of the authors' image size (the first number)
        "elastic_transform": (32, ((0, 0, 0.08), (0.05, 0.2, 0.07), (0.08, 0.06, 0.06), (0.1, 0.04, 0.05),
                                   (0.1, 0.03, 0.03))),
        "pixelate": (0.95, 0.9, 0.85, 0.75, 0.65),  # share of the side kept
        "jpeg_compression": (80, 65, 58, 50, 40),  # quality
    },
    "imagenet": {
        "gaussian_noise": (0.08, 0.12, 0.18, 0.26, 0.38),
        "shot_noise": (60, 25, 12, 5, 3),
        "impulse_noise": (0.03, 0.06, 0.09, 0.17, 0.27),
        "defocus_blur": ((3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5)),
        "glass_blur": ((0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2)),
        "motion_blur": ((10, 3), (15, 5), (15, 8), (15, 12), (20, 15)),
        "zoom_blur": ((1, 1.11, 0.01), (1, 1.16, 0.01), (1, 1.21, 0.02), (1, 1.26, 0.02), (1, 1.31, 0.03)),
        "snow": ((0.1, 0.3, 3, 0.5, 10, 4, 0.8), (0.2, 0.3, 2, 0.5, 12, 4, 0.7), (0.55, 0.3, 4, 0.9, 12, 8, 0.7),
                 (0.55, 0.3, 4.5, 0.85, 12, 8, 0.65), (0.55, 0.3, 2.5, 0.85, 12, 12, 0.55)),
        "frost": ((1, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75)),
        "fog": ((1.5, 2), (2, 2), (2.5, 1.7), (2.5, 1.5), (3, 1.4)),
        "brightness": (0.1, 0.2, 0.3, 0.4, 0.5),
        "contrast": (0.4, 0.3, 0.2, 0.1, 0.05),
        # 244 where 224 was meant, as the authors note; kept, since it defines ImageNet-C
        "elastic_transform": (244, ((2, 0.7, 0.1), (2, 0.08, 0.2), (0.05, 0.01, 0.02), (0.07, 0.01, 0.02),
                                    (0.12, 0.01, 0.02))),
        "pixelate": (0.6, 0.5, 0.4, 0.3, 0.25),
        "jpeg_compression": (25, 18, 15, 10, 7),
    },
}

# The synthetic frost's colour and contrast: those of the authors' frost photographs (see above).
FROST_MEAN_RGB = (146.0, 167.0, 179.0)
FROST_STD = 30.0


def corrupt(image: np.ndarray, name: str, severity: int, seed: int | Sequence[int] = 0) -> np.ndarray:
    """`image` (RGB uint8 H×W×3) with corruption `name` at `severity` 1-5, as RGB uint8 of the same
    shape. The same seed gives the same bytes; a benchmark passes (seed, image index) so that each
    image gets its own draw. Raises InvalidOptionError for an unknown name or severity and
    ImageError for anything but an RGB uint8 array."""
    check(name, severity)
    pixels = _checked_image(image)
    constants = CONSTANTS[constant_set(pixels.shape)][name]
    rng = np.random.default_rng(seed)
    if name == "elastic_transform":  # its constants are multiples of the authors' image size
        size, multiples = constants
        c = tuple(size * m for m in multiples[severity - 1])
    else:
        c = constants[severity - 1]
    corrupted = _FUNCTIONS[name](pixels.astype(np.float32) / 255.0, c, rng)
    return np.clip(np.rint(corrupted * 255.0), 0, 255).astype(np.uint8)


def check(name: str, severity: int) -> None:
    """InvalidOptionError unless `name` is one of CORRUPTIONS and `severity` an integer 1-5."""
    if name not in CORRUPTIONS:
        raise InvalidOptionError(f"Unknown corruption {name!r}; choose one of: {', '.join(CORRUPTIONS)}.")
    if isinstance(severity, bool) or not isinstance(severity, (int, np.integer)) or severity not in SEVERITIES:
        raise InvalidOptionError(f"Severity must be a whole number from 1 to 5, not {severity!r}.")


def constant_set(shape: tuple[int, ...]) -> str:
    """Whose constants an image of this shape (height, width, ...) gets: "cifar" or "imagenet"."""
    return "cifar" if min(shape[:2]) <= SMALL_IMAGE_MAX_SIDE else "imagenet"


def psnr(clean: np.ndarray, corrupted: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB between two uint8 images (infinite when identical)."""
    error = np.mean((clean.astype(np.float64) - corrupted.astype(np.float64)) ** 2)
    return float("inf") if error == 0 else float(10 * np.log10(255.0**2 / error))


def _checked_image(image) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        described = (f"{image.dtype} array of shape {image.shape}" if isinstance(image, np.ndarray)
                     else type(image).__name__)
        raise ImageError(f"A corruption takes an RGB uint8 image of shape H×W×3, not a {described}.")
    if min(image.shape[:2]) < 8:
        raise ImageError(f"A corruption needs an image of at least 8×8 pixels, not "
                         f"{image.shape[1]}×{image.shape[0]}.")
    return image


# ---- noise ---------------------------------------------------------------------------------------

def _gaussian_noise(x, c, rng):
    return x + rng.normal(size=x.shape, scale=c)


def _shot_noise(x, c, rng):
    return rng.poisson(x * c) / c  # c photons at full intensity: fewer photons, more noise


def _impulse_noise(x, c, rng):
    from skimage.util import random_noise

    return random_noise(x, mode="s&p", amount=c, rng=rng)


# ---- blur ----------------------------------------------------------------------------------------

def _defocus_blur(x, c, rng):
    import cv2

    radius, alias_blur = c
    return cv2.filter2D(x, -1, _disk(radius, alias_blur))  # OpenCV's default border, as the authors'


def _disk(radius: float, alias_blur: float) -> np.ndarray:
    """A normalised disk kernel, smoothed by a small Gaussian to soften its jagged edge."""
    import cv2

    half, smoothing = (8, (3, 3)) if radius <= 8 else (int(radius), (5, 5))
    steps = np.arange(-half, half + 1)
    xs, ys = np.meshgrid(steps, steps)
    disk = (xs**2 + ys**2 <= radius**2).astype(np.float32)
    return cv2.GaussianBlur(disk / disk.sum(), ksize=smoothing, sigmaX=alias_blur)


def _glass_blur(x, c, rng):
    import cv2

    sigma, max_shift, passes = c
    blurred = _gaussian(x, sigma, truncate=4, border=cv2.BORDER_REPLICATE)  # scikit-image's defaults, as the authors'
    height, width = x.shape[:2]
    order = np.arange(height * width)
    for _ in range(passes):
        order = _shuffle_locally(order.reshape(height, width), max_shift, rng).ravel()
    shuffled = blurred.reshape(-1, 3)[order].reshape(x.shape)
    return _gaussian(shuffled, sigma, truncate=4, border=cv2.BORDER_REPLICATE)


def _gaussian(x: np.ndarray, sigma: float, truncate: float, border: int) -> np.ndarray:
    """scikit-image's `gaussian` (scipy's filter, cut at `truncate` sigmas) by OpenCV, several
    times faster: BORDER_REPLICATE is scipy's "nearest", BORDER_REFLECT its "reflect"."""
    import cv2

    radius = int(truncate * sigma + 0.5)
    if radius == 0:
        return x.astype(np.float32)
    return cv2.GaussianBlur(x.astype(np.float32), (2 * radius + 1, 2 * radius + 1), sigma, borderType=border)


def _shuffle_locally(grid: np.ndarray, max_shift: int, rng) -> np.ndarray:
    """One pass of the authors' loop on an index grid: for h from H-δ down to δ+1, for w from W-δ
    down to δ+1, swap (h, w) with (h+dy, w+dx), dy and dx drawn in [-δ, δ-1].

    Two swaps can touch the same pixel only if they are less than 2δ apart in both directions. So
    wave t = (W-δ-w) + 2δ·(H-δ-h) holds swaps that touch no common pixel (same row: 2δ apart;
    rows j apart: 2δj apart), and every swap that must come before another (same row, larger w;
    or a row below, less than 2δ columns away) is in an earlier wave. Applying the waves in
    order, each in one vectorised step, gives the loop's permutation exactly."""
    height, width = grid.shape
    rows, columns = np.arange(height - max_shift, max_shift, -1), np.arange(width - max_shift, max_shift, -1)
    if not len(rows) or not len(columns):
        return grid
    h, w = (a.ravel() for a in np.meshgrid(rows, columns, indexing="ij"))  # the loop's order
    shifts = rng.integers(-max_shift, max_shift, size=(len(h), 2))  # (dx, dy) per visit, as the loop draws them
    here = h * width + w
    there = (h + shifts[:, 1]) * width + (w + shifts[:, 0])
    wave = (width - max_shift - w) + 2 * max_shift * (height - max_shift - h)
    flat = grid.ravel().copy()
    by_wave = np.argsort(wave, kind="stable")
    bounds = np.flatnonzero(np.diff(wave[by_wave])) + 1
    for members in np.split(by_wave, bounds):
        a, b = here[members], there[members]
        flat[a], flat[b] = flat[b], flat[a]  # fancy indexing copies the right-hand side first
    return flat.reshape(height, width)


def _motion_blur(x, c, rng):
    radius, sigma = c
    return _imagemagick_motion_blur(x, radius, sigma, rng.uniform(-45, 45))


def _imagemagick_motion_blur(x: np.ndarray, radius: float, sigma: float, angle: float) -> np.ndarray:
    """ImageMagick's MotionBlurImage: each pixel becomes a one-sided Gaussian-weighted mean of the
    2·radius + 1 pixels behind it along `angle` (degrees), offsets rounded as ImageMagick rounds
    them, edge pixels repeated outside the image. Built as one sparse kernel for OpenCV."""
    import cv2

    width = int(2 * np.ceil(radius) + 1)
    steps = np.arange(width)
    weights = np.exp(-(steps**2) / (2.0 * sigma**2))
    weights /= weights.sum()
    theta = np.deg2rad(angle)
    offset_x = np.ceil(steps * np.cos(theta) - 0.5).astype(int)
    offset_y = np.ceil(steps * np.sin(theta) - 0.5).astype(int)
    reach = int(max(np.abs(offset_x).max(), np.abs(offset_y).max()))
    kernel = np.zeros((2 * reach + 1, 2 * reach + 1), np.float32)
    # filter2D correlates: output(p) = Σ k·input(p + offset), so each weight sits at its offset
    np.add.at(kernel, (reach + offset_y, reach + offset_x), weights)
    return cv2.filter2D(x, -1, kernel, borderType=cv2.BORDER_REPLICATE)


def _zoom_blur(x, c, rng):
    start, stop, step = c
    factors = np.arange(start, stop, step)
    total = x.copy()
    for factor in factors:
        total += _clipped_zoom(x, factor)
    return total / (len(factors) + 1)


def _clipped_zoom(x: np.ndarray, factor: float) -> np.ndarray:
    """`x` enlarged by `factor` about its centre (linear interpolation), cropped to x's size: the
    authors crop the centre and enlarge it with scipy's zoom; one affine warp gives the same image
    up to sub-pixel placement, tens of times faster."""
    import cv2

    height, width = x.shape[:2]
    centre_x, centre_y = (width - 1) / 2, (height - 1) / 2
    scale = np.float32([[factor, 0, (1 - factor) * centre_x], [0, factor, (1 - factor) * centre_y]])
    zoomed = cv2.warpAffine(x, scale, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return zoomed.reshape(x.shape)


# ---- weather -------------------------------------------------------------------------------------

def _snow(x, c, rng):
    import cv2

    mean, spread, zoom_factor, threshold, blur_radius, blur_sigma, kept = c
    flakes = rng.normal(size=x.shape[:2], loc=mean, scale=spread)
    flakes = _clipped_zoom(flakes[..., None], zoom_factor)[..., 0]
    flakes[flakes < threshold] = 0
    flakes = np.clip(flakes, 0, 1).astype(np.float32)
    streaks = _imagemagick_motion_blur(flakes, blur_radius, blur_sigma, rng.uniform(-135, -45))[..., None]
    grey = cv2.cvtColor(x, cv2.COLOR_RGB2GRAY)[..., None]
    washed = kept * x + (1 - kept) * np.maximum(x, grey * 1.5 + 0.5)  # the scene whitened by snow light
    return washed + streaks + np.rot90(streaks, k=2)


def _frost(x, c, rng):
    image_weight, frost_weight = c
    return image_weight * x + frost_weight * _frost_texture(x.shape[:2], rng) / 255.0


def _frost_texture(shape: tuple[int, int], rng) -> np.ndarray:
    """A frost-like RGB texture (float, 0-255): a soft fractal haze crossed by thin bright ice
    needles, long and sparse and short and dense, scaled to the mean colour and contrast of the
    authors' frost photographs. Sizes follow the image's shorter side, so a 32-px and a 224-px
    image see the same pattern at their own scale."""
    import cv2

    height, width = shape
    side = min(height, width)
    haze = _plasma_fractal(_next_power_of_two(max(shape)), 2.0, rng)[:height, :width]
    needles = np.zeros(shape, np.float32)
    subpixel = 4  # OpenCV's `shift`: end points in 1/16 px
    for length_share, per_pixel in ((0.15, 0.004), (0.06, 0.02)):
        count = max(1, round(per_pixel * height * width))
        length = max(2.0, length_share * side)
        starts = rng.random((count, 2)) * (width, height)
        angles = rng.uniform(0, np.pi, count)
        ends = starts + length * np.stack([np.cos(angles), np.sin(angles)], axis=1)
        lines = np.round(np.stack([starts, ends], axis=1) * 2**subpixel).astype(np.int32)
        brightness = rng.integers(0, 4, count)  # four grey levels, one polylines call each
        for level in range(4):
            cv2.polylines(needles, list(lines[brightness == level]), False, 0.55 + 0.15 * level, 1, cv2.LINE_AA,
                          subpixel)
    texture = 0.5 * haze + needles
    texture = (texture - texture.mean()) / max(float(texture.std()), 1e-6)
    return np.clip(np.asarray(FROST_MEAN_RGB) + FROST_STD * texture[..., None], 0, 255)


def _fog(x, c, rng):
    strength, decay = c
    height, width = x.shape[:2]
    brightest = x.max()
    fogged = x + strength * _plasma_fractal(_next_power_of_two(max(height, width)), decay, rng)[:height, :width, None]
    return fogged * brightest / (brightest + strength)


def _plasma_fractal(size: int, decay: float, rng) -> np.ndarray:
    """A square height map in [0, 1] by the diamond-square algorithm (the authors' version of
    FLHerne's mapgen): corners are averaged and jittered, the jitter shrinking by `decay` per level."""
    grid = np.zeros((size, size))
    step, jitter = size, 100.0

    def jittered_mean(total):
        return total / 4 + jitter * rng.uniform(-jitter, jitter, total.shape)

    while step >= 2:
        half = step // 2
        corners = grid[0:size:step, 0:size:step]  # squares: centre = mean of its four corners
        total = corners + np.roll(corners, -1, axis=0)
        total += np.roll(total, -1, axis=1)
        grid[half:size:step, half:size:step] = jittered_mean(total)
        centres = grid[half:size:step, half:size:step]  # diamonds: mean of two corners and two centres
        corners = grid[0:size:step, 0:size:step]
        grid[0:size:step, half:size:step] = jittered_mean(
            centres + np.roll(centres, 1, axis=0) + corners + np.roll(corners, -1, axis=1))
        grid[half:size:step, 0:size:step] = jittered_mean(
            centres + np.roll(centres, 1, axis=1) + corners + np.roll(corners, -1, axis=0))
        step //= 2
        jitter /= decay
    grid -= grid.min()
    return grid / grid.max()


def _next_power_of_two(value: int) -> int:
    return 1 << (int(value) - 1).bit_length()


# ---- digital -------------------------------------------------------------------------------------

def _brightness(x, c, rng):
    import cv2

    hsv = cv2.cvtColor(x, cv2.COLOR_RGB2HSV)  # floats: the same HSV as scikit-image's rgb2hsv, hue in degrees
    hsv[..., 2] = np.clip(hsv[..., 2] + c, 0, 1)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def _contrast(x, c, rng):
    means = x.mean(axis=(0, 1), keepdims=True)
    return (x - means) * c + means


def _elastic_transform(x, c, rng):
    """A random affine warp, then a smooth random displacement field (Simard et al., 2003)."""
    import cv2
    from scipy.ndimage import map_coordinates

    alpha, sigma, affine_shift = c
    height, width = x.shape[:2]
    centre = np.float32([width // 2, height // 2])
    reach = min(height, width) // 3
    before = np.float32([centre + reach, [centre[0] + reach, centre[1] - reach], centre - reach])
    after = before + rng.uniform(-affine_shift, affine_shift, size=before.shape).astype(np.float32)
    warped = cv2.warpAffine(x, cv2.getAffineTransform(before, after), (width, height),
                            borderMode=cv2.BORDER_REFLECT_101)
    dx, dy = (_gaussian(rng.uniform(-1, 1, size=(height, width)), sigma, truncate=3, border=cv2.BORDER_REFLECT) * alpha
              for _ in range(2))
    ys, xs = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    where = np.array([ys + dy, xs + dx])
    return np.stack([map_coordinates(warped[..., k], where, order=1, mode="reflect") for k in range(3)], axis=-1)


def _pixelate(x, c, rng):
    from PIL import Image

    picture = Image.fromarray(_to_uint8(x))
    small = picture.resize((max(1, int(picture.width * c)), max(1, int(picture.height * c))), Image.Resampling.BOX)
    return np.asarray(small.resize(picture.size, Image.Resampling.BOX), np.float32) / 255.0


def _jpeg_compression(x, c, rng):
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(_to_uint8(x)).save(buffer, "JPEG", quality=c)
    return np.asarray(Image.open(buffer).convert("RGB"), np.float32) / 255.0


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


_FUNCTIONS: dict[str, Callable] = {
    "gaussian_noise": _gaussian_noise, "shot_noise": _shot_noise, "impulse_noise": _impulse_noise,
    "defocus_blur": _defocus_blur, "glass_blur": _glass_blur, "motion_blur": _motion_blur, "zoom_blur": _zoom_blur,
    "snow": _snow, "frost": _frost, "fog": _fog,
    "brightness": _brightness, "contrast": _contrast, "elastic_transform": _elastic_transform,
    "pixelate": _pixelate, "jpeg_compression": _jpeg_compression,
}
