"""The /robustness page's simple controls: blur, noise, JPEG, brightness, contrast, rotation and an
occlusion patch, applied to an RGB uint8 image. (The 15 ImageNet-C corruptions at their fixed
severities are core.robustness.corruptions; these are knobs to turn by hand.)

Sizes are shares of the image, not pixels, so a control means the same on a 32-pixel CIFAR image
and on a 12-megapixel photo. The controls are applied in the order a photo meets them: the camera
turns (rotation), the lens blurs, exposure (contrast, then brightness), something in front
(occlusion), sensor noise, and last the JPEG encoder. A control at its identity value is skipped,
so the image with every control at rest is the original, exactly. Noise is drawn from `seed`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

from core.errors import InvalidOptionError

OCCLUSION_GREY = 128  # the patch's colour: no edge or hue of its own for a model to pick up
SWEEP_STEPS = 6  # levels in a sweep, the identity first


@dataclass(frozen=True)
class Control:
    name: str
    title: str
    identity: float  # the value that changes nothing
    low: float
    high: float
    step: float
    sweep: tuple[float, ...]  # from the identity to the most severe level a sweep shows
    help: str = ""


CONTROLS = {control.name: control for control in (
    Control("blur", "Blur σ (% of the shorter side)", 0.0, 0.0, 5.0, 0.25, (0, 0.5, 1, 2, 3, 5),
            "Gaussian blur; σ as a percentage of the image's shorter side"),
    Control("noise", "Noise σ (grey levels)", 0.0, 0.0, 100.0, 2.0, (0, 8, 16, 32, 48, 64),
            "Gaussian noise added to every pixel, in grey levels of 0-255"),
    Control("jpeg_quality", "JPEG quality", 100, 1, 100, 1, (100, 50, 30, 20, 10, 5),
            "Re-encoded as JPEG at this quality; 100 leaves the image untouched"),
    Control("brightness", "Brightness ×", 1.0, 0.1, 2.0, 0.05, (1.0, 0.8, 0.6, 0.4, 0.25, 0.1),
            "Every pixel multiplied by this factor"),
    Control("contrast", "Contrast ×", 1.0, 0.1, 2.0, 0.05, (1.0, 0.8, 0.6, 0.4, 0.25, 0.1),
            "Distance from the mean grey multiplied by this factor"),
    Control("rotation", "Rotation (degrees)", 0.0, -180.0, 180.0, 5.0, (0, 10, 20, 45, 90, 180),
            "Turned anticlockwise about the centre; the corners left empty are black"),
    Control("occlusion_size", "Occlusion patch (% of the shorter side)", 0.0, 0.0, 100.0, 5.0, (0, 10, 20, 30, 40, 60),
            "A grey square of this side, centred at the chosen position"),
)}
POSITION = {"occlusion_x": 0.5, "occlusion_y": 0.5}  # the patch's centre, as shares of width and height


def perturb(image: np.ndarray, seed: int = 0, **controls) -> np.ndarray:
    """`image` (RGB uint8 H×W×3) with the given controls (names of CONTROLS, and the occlusion
    position occlusion_x / occlusion_y in [0, 1]); the rest stay at rest."""
    values = checked(controls)
    picture = Image.fromarray(np.ascontiguousarray(image))
    if values["rotation"]:
        picture = picture.rotate(values["rotation"], resample=Image.Resampling.BILINEAR, fillcolor=(0, 0, 0))
    if values["blur"]:
        picture = picture.filter(ImageFilter.GaussianBlur(values["blur"] / 100 * min(picture.size)))
    if values["contrast"] != 1:
        picture = ImageEnhance.Contrast(picture).enhance(values["contrast"])
    if values["brightness"] != 1:
        picture = ImageEnhance.Brightness(picture).enhance(values["brightness"])
    pixels = np.array(picture)
    if values["occlusion_size"]:
        _occlude(pixels, values["occlusion_x"], values["occlusion_y"], values["occlusion_size"] / 100)
    if values["noise"]:
        noise = np.random.default_rng(seed).normal(0, values["noise"], pixels.shape)
        pixels = np.clip(np.rint(pixels + noise), 0, 255).astype(np.uint8)
    if values["jpeg_quality"] < 100:
        pixels = _jpeg(pixels, int(values["jpeg_quality"]))
    return pixels


def checked(controls: dict) -> dict:
    """Every control's value (the identity for those not given), each checked against its range."""
    unknown = sorted(set(controls) - set(CONTROLS) - set(POSITION))
    if unknown:
        raise InvalidOptionError(f"Unknown perturbation {', '.join(unknown)}; choose from "
                                 f"{', '.join([*CONTROLS, *POSITION])}.")
    values = {}
    for name, default in {**{c.name: c.identity for c in CONTROLS.values()}, **POSITION}.items():
        value = controls.get(name)
        value = default if value is None else value
        low, high = (CONTROLS[name].low, CONTROLS[name].high) if name in CONTROLS else (0.0, 1.0)
        number = not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))
        if not number or not low <= value <= high:
            raise InvalidOptionError(f"{name} must be a number from {low:g} to {high:g}, not {value!r}.")
        values[name] = float(value)
    return values


def _occlude(pixels: np.ndarray, x: float, y: float, size: float) -> None:
    """A grey square of side `size` × the shorter side, centred at (x, y) (shares), cut at the edges."""
    height, width = pixels.shape[:2]
    side = max(1, int(round(size * min(height, width))))
    left, top = int(round(x * width - side / 2)), int(round(y * height - side / 2))
    pixels[max(0, top):max(0, top + side), max(0, left):max(0, left + side)] = OCCLUSION_GREY


def _jpeg(pixels: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
    return np.array(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


def sweep_images(image: np.ndarray, control: str, seed: int = 0, **fixed) -> tuple[tuple[float, ...], list[np.ndarray]]:
    """`image` at each of `control`'s sweep levels (the identity first), other controls as `fixed`
    (the occlusion's position, say)."""
    if control not in CONTROLS:
        raise InvalidOptionError(f"Unknown perturbation {control!r}; choose from {', '.join(CONTROLS)}.")
    levels = CONTROLS[control].sweep
    return levels, [perturb(image, seed, **{**fixed, control: level}) for level in levels]


@dataclass(frozen=True)
class SweepPoint:
    """A model's answer at one level of a sweep."""

    model: str
    control: str
    severity: int  # 0: the clean image; then each level of the control's sweep
    level: float  # the control's value
    clean_label: str  # the model's answer to the clean image
    confidence: float  # its probability for that answer at this level
    top_label: str  # its answer at this level
    top_score: float


def confidence_curve(name: str, control: str, levels, results) -> list[SweepPoint]:
    """Sweep points from a model's Classification at each level (the first: the clean image)."""
    clean = results[0].top
    return [SweepPoint(name, control, severity, float(level), clean.label, float(result.probabilities[clean.index]),
                       result.top.label, result.top.score)
            for severity, (level, result) in enumerate(zip(levels, results))]
