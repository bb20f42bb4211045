"""Does a heatmap point at what the model's score depends on? Deletion and insertion curves
(Petsiuk et al. 2018, "RISE"), on the model's input, against random maps.

Rank the pixels by the map, highest first (ties in reading order). Deletion: replace the top
0, 1/STEPS, ..., 100% of them by a canvas and follow the target's score; a faithful map makes it
fall fast (a small area under the curve). Insertion: start from the canvas and put the original
pixels back in the same order; a faithful map makes the score rise fast (a large area). The same
two curves for RANDOM_MAPS random smooth maps (blobs the size of a CAM's, not scattered pixels)
show what chance looks like on this very image and target.

The canvas is the image blurred, for both curves (Petsiuk deleted to black and inserted onto a
blur). Over 50 ImageNet-sample photos, Grad-CAM on MobileNetV2 deleted better than random on 43
with a blur (mean AUC 0.11 vs 0.21), 40 with grey, 33 with black (0.08 vs 0.11): black holes
anywhere sink the score (MobileNetV2 calls a black image "spotlight"), so black hides the
difference between maps. A blur keeps colour and shape, though: on a plain fridge, or a tabby whose
blurred stripes look like an Egyptian cat's plain coat, blurring the object can even raise its
score. Insertion is not fooled there, so the verdict reads both curves. One canvas gives the
curves shared ends: deletion starts at the unmodified score and ends at the canvas's, insertion
the reverse. Scores are probabilities (or a box's confidence), not normalised, so each AUC is in
[0, 1]. training/faithfulness.py averages them over the ImageNet sample.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageFilter

STEPS = 16  # curve points at 0, 1/16, ..., 1 of the pixels removed (or revealed)
RANDOM_MAPS = 4  # random maps averaged into the baseline curves
RANDOM_MAP_CELLS = 7  # random maps are 7x7 noise upsampled: blobs the size of a CAM's
BLUR_SHARE = 1 / 16  # the canvas's blur radius, as a share of the input's side
MARGIN = 0.05  # of the unmodified score: an AUC closer than this to random's is "no better"
BASELINES_KEPT = 16  # random baselines remembered (each holds its canvas: 150 kB at 224 px, 1.2 MB at 640)

Scorer = Callable[[np.ndarray], "np.ndarray | list[float]"]  # a batch of images (N x H x W x 3) -> N scores


@dataclass(frozen=True)
class Faithfulness:
    """The target's score along the deletion and insertion curves, for the map and for the
    average of the random maps, at `fractions` of the pixels removed (or revealed)."""

    fractions: tuple[float, ...]
    deletion: tuple[float, ...]
    insertion: tuple[float, ...]
    random_deletion: tuple[float, ...]
    random_insertion: tuple[float, ...]

    @property
    def deletion_auc(self) -> float:
        return area(self.fractions, self.deletion)

    @property
    def insertion_auc(self) -> float:
        return area(self.fractions, self.insertion)

    @property
    def random_deletion_auc(self) -> float:
        return area(self.fractions, self.random_deletion)

    @property
    def random_insertion_auc(self) -> float:
        return area(self.fractions, self.random_insertion)

    def verdict(self) -> str:
        """One line: the deletion AUCs side by side and what they say (with insertion's word)."""
        margin = MARGIN * max(self.deletion[0], 1e-6)
        deletes = self.deletion_auc < self.random_deletion_auc - margin
        inserts = self.insertion_auc > self.random_insertion_auc + margin
        if deletes and inserts:
            meaning = "the map finds what the score depends on"
        elif deletes:
            meaning = "removing its pixels first hurts the score, though revealing them first helps no more than random"
        elif inserts:
            meaning = "revealing its pixels first restores the score, though removing them first hurts no more than random"
        else:
            meaning = "the map does no better than random here"
        return f"deletion AUC {self.deletion_auc:.2f} vs {self.random_deletion_auc:.2f} for random maps: {meaning}"

    def to_dict(self) -> dict:
        rounded = lambda values: [round(float(v), 4) for v in values]  # noqa: E731
        return {
            "deletion_auc": round(self.deletion_auc, 4),
            "insertion_auc": round(self.insertion_auc, 4),
            "random_deletion_auc": round(self.random_deletion_auc, 4),
            "random_insertion_auc": round(self.random_insertion_auc, 4),
            "verdict": self.verdict(),
            "curves": {"fraction": rounded(self.fractions), "deletion": rounded(self.deletion),
                       "insertion": rounded(self.insertion), "random_deletion": rounded(self.random_deletion),
                       "random_insertion": rounded(self.random_insertion)},
        }


@dataclass(frozen=True)
class RandomBaseline:
    """What any map of one image and target is compared with: the average deletion and insertion
    curves of random smooth maps, and the canvas they used. Several maps of that image can share it."""

    fractions: tuple[float, ...]
    deletion: tuple[float, ...]
    insertion: tuple[float, ...]
    canvas: np.ndarray = field(repr=False)


def faithfulness(heatmap: np.ndarray, pixels: np.ndarray, score: Scorer, baseline: RandomBaseline | None = None,
                 steps: int = STEPS, random_maps: int = RANDOM_MAPS) -> Faithfulness:
    """Deletion and insertion curves of `heatmap` (H x W) over `pixels` (H x W x 3 uint8, what the
    model sees), where `score(batch)` gives the target's score for each image of a batch, against
    `baseline` (made here with `steps` and `random_maps` when not given). The map's curves cost
    2 * (steps - 1) images, scored in one call; the baseline 2 + 2 * (steps - 1) * random_maps."""
    baseline = baseline or random_baseline(pixels, score, steps, random_maps)
    ends = np.array([baseline.deletion[0], baseline.deletion[-1]])  # the unmodified score, the canvas's
    deletion, insertion = _curves(heatmap, pixels, baseline.canvas, np.array(baseline.fractions), score, ends)
    return Faithfulness(baseline.fractions, _floats(deletion), _floats(insertion), baseline.deletion,
                        baseline.insertion)


def random_baseline(pixels: np.ndarray, score: Scorer, steps: int = STEPS, maps: int = RANDOM_MAPS,
                    canvas: np.ndarray | None = None, seed: int = 0) -> RandomBaseline:
    """The mean curves of `maps` random smooth maps (the same maps for every image of one size),
    at `steps` + 1 evenly spaced fractions, on `canvas` (by default the blurred image)."""
    canvas = blurred(pixels) if canvas is None else canvas
    fractions = np.linspace(0, 1, steps + 1)
    ends = np.asarray(score(np.stack([pixels, canvas])), np.float64)
    rng = np.random.default_rng(seed)
    curves = [_curves(random_map(rng, pixels.shape[:2]), pixels, canvas, fractions, score, ends) for _ in range(maps)]
    deletion, insertion = np.mean(curves, axis=0)
    return RandomBaseline(_floats(fractions), _floats(deletion), _floats(insertion), canvas)


_baselines: OrderedDict[tuple, RandomBaseline] = OrderedDict()
_guard = threading.Lock()


def shared_baseline(key: tuple, pixels: np.ndarray, score: Scorer, steps: int = STEPS,
                    maps: int = RANDOM_MAPS) -> RandomBaseline:
    """random_baseline, remembered for the last BASELINES_KEPT images: `key` names the model and
    the target (the score being followed), the pixels' digest the image. Comparing three methods on
    one photo then runs the random maps once, not three times."""
    digest = hashlib.blake2b(np.ascontiguousarray(pixels).tobytes(), digest_size=16).hexdigest()
    key = (*key, pixels.shape, digest, steps, maps)
    with _guard:
        if key in _baselines:
            _baselines.move_to_end(key)
            return _baselines[key]
    made = random_baseline(pixels, score, steps, maps)  # outside the lock: other images need not wait
    made.canvas.flags.writeable = False  # shared between threads
    with _guard:
        _baselines[key] = made
        while len(_baselines) > BASELINES_KEPT:
            _baselines.popitem(last=False)
    return made


def _curves(heatmap: np.ndarray, pixels: np.ndarray, canvas: np.ndarray, fractions: np.ndarray, score: Scorer,
            ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One map's deletion and insertion curves; the ends are known, the inner points cost one call."""
    rank = pixel_rank(heatmap)[..., None]
    counts = np.round(fractions[1:-1] * rank.size).astype(int)
    deleted = [np.where(rank < count, canvas, pixels) for count in counts]
    inserted = [np.where(rank < count, pixels, canvas) for count in counts]
    inner = np.asarray(score(np.stack(deleted + inserted)), np.float64)
    deletion = np.concatenate([ends[:1], inner[: len(counts)], ends[1:]])
    insertion = np.concatenate([ends[1:], inner[len(counts) :], ends[:1]])
    return deletion, insertion


def _floats(values) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


def pixel_rank(heatmap: np.ndarray) -> np.ndarray:
    """Each pixel's place when the map is sorted highest first (0 = removed first); equal values
    keep reading order, so a flat map removes row by row and the curves are reproducible."""
    order = np.argsort(-np.asarray(heatmap, np.float32), axis=None, kind="stable")
    rank = np.empty(order.size, np.int64)
    rank[order] = np.arange(order.size)
    return rank.reshape(np.shape(heatmap))


def blurred(pixels: np.ndarray) -> np.ndarray:
    """The canvas: a Gaussian blur strong enough that the model no longer sees the object."""
    radius = max(2.0, BLUR_SHARE * max(pixels.shape[:2]))
    return np.asarray(Image.fromarray(pixels).filter(ImageFilter.GaussianBlur(radius)))


def random_map(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Smooth random blobs: RANDOM_MAP_CELLS x RANDOM_MAP_CELLS uniform noise, bilinearly upsampled."""
    noise = Image.fromarray(rng.random((RANDOM_MAP_CELLS, RANDOM_MAP_CELLS)).astype(np.float32))
    return np.asarray(noise.resize((shape[1], shape[0]), Image.Resampling.BILINEAR), np.float32)


def area(fractions, scores) -> float:
    """Area under a curve by the trapezoid rule over [0, 1]."""
    return float(np.trapezoid(np.asarray(scores, np.float64), np.asarray(fractions, np.float64)))
