"""What every explanation shares: the result type, its target, and putting a map back over the
original image. The methods themselves are listed in core.explain.methods; how faithful a map is
(deletion and insertion curves against random maps) is core.explain.faithfulness.

An Explanation is a heatmap over the original image (H x W, floats in [0, 1]), the target, the
layer, the time taken and the faithfulness curves. Drawing it is core.viz.drawing.overlay_heatmap.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from PIL import Image

from core.explain.faithfulness import Faithfulness
from core.models.preprocess import input_region


@dataclass(frozen=True)
class Target:
    label: str
    index: int
    score: float  # the model's probability (or box confidence) for it


@dataclass(frozen=True)
class Explanation:
    model: str
    method: str
    target: Target
    layer: str
    heatmap: np.ndarray = field(repr=False)  # H x W float32 in [0, 1] over the original image (or a display copy)
    faithfulness: Faithfulness | None  # deletion and insertion curves, unless they were not asked for
    latency_ms: float  # the map alone, without the faithfulness curves
    note: str = ""
    box: tuple[float, float, float, float] | None = None  # the detection explained, if any
    version: str = ""  # the model's version (a short digest of its weights)
    peak: tuple[int, int] | None = None  # (x, y) of the map's maximum in original-image pixels; found if not given

    def __post_init__(self):
        if self.peak is None:
            y, x = np.unravel_index(int(np.argmax(self.heatmap)), self.heatmap.shape)
            object.__setattr__(self, "peak", (int(x), int(y)))

    def for_display(self, max_side: int) -> Explanation:
        """A copy to keep and show: the map as uint8 (0-255), its longer side at most `max_side`
        (a 40-megapixel photo's float map alone takes 160 MB); everything else unchanged."""
        from core.viz.drawing import shrink

        levels = np.uint8(np.clip(np.nan_to_num(self.heatmap), 0, 1) * 255)
        return replace(self, heatmap=shrink(levels, max_side))

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "version": self.version,
            "method": self.method,
            "target": {"label": self.target.label, "index": self.target.index, "score": round(self.target.score, 6)},
            "layer": self.layer,
            "box": [round(value, 2) for value in self.box] if self.box else None,
            "faithfulness": self.faithfulness.to_dict() if self.faithfulness else None,
            "heatmap_peak": list(self.peak),
            "latency_ms": round(self.latency_ms, 2),
            "note": self.note,
        }


def resize_map(values: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a 2-D float map to `shape` (rows, columns)."""
    picture = Image.fromarray(np.asarray(values, np.float32))
    return np.asarray(picture.resize((shape[1], shape[0]), Image.Resampling.BILINEAR), dtype=np.float32)


def map_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson's r of two maps of one shape (NaN when one is flat)."""
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    a, b = a - a.mean(), b - b.mean()
    scale = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / scale) if scale > 0 else float("nan")


def peak_distance(a: np.ndarray, b: np.ndarray) -> float:
    """How far apart the two maps' highest points are, as a share of the map's diagonal."""
    first, second = (np.array(np.unravel_index(np.argmax(m), m.shape)) for m in (a, b))
    return float(np.linalg.norm(first - second) / np.hypot(*np.shape(a)))


def normalise(values: np.ndarray) -> np.ndarray:
    """Scale to [0, 1]; an all-equal map (nothing stood out) becomes all zeros, never NaN."""
    values = np.nan_to_num(np.asarray(values, np.float32))
    low, high = float(values.min()), float(values.max())
    return (values - low) / (high - low) if high - low > 1e-12 else np.zeros_like(values)


def to_original(on_input: np.ndarray, image_shape: tuple[int, ...], spec) -> np.ndarray:
    """A map over the model's input placed back over the original image: stretched back, or, for a
    centre crop, put where the crop came from (zero outside what the model saw)."""
    height, width = image_shape[:2]
    left, top, crop_width, crop_height = input_region((height, width), spec.input_size, spec.resize, spec.crop_fraction)
    heatmap = np.zeros((height, width), np.float32)
    x0, y0 = int(round(left)), int(round(top))
    w, h = min(width - x0, int(round(crop_width))), min(height - y0, int(round(crop_height)))
    heatmap[y0 : y0 + h, x0 : x0 + w] = resize_map(on_input, (h, w))
    return normalise(heatmap)  # resampling moves the extremes a little
