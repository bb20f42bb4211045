"""One common vocabulary (CIFAR-10's ten classes) onto which every model's labels are mapped, so
that models trained on ImageNet, CIFAR-10 and COCO can be asked whether they agree.

ImageNet classes are grouped by their WordNet hypernyms (e.g. every dog breed, 151-268, is a
hyponym of dog.n.01), written out as Keras class indices so that no WordNet database is needed at
run time. Where no ImageNet or COCO class falls under a CIFAR class (ImageNet has no deer; COCO
has no deer or frog), nothing is mapped: such a model cannot vote for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.io.datasets import CIFAR10_CLASSES
from core.results import Classification, Detections

COMMON = CIFAR10_CLASSES


def _indices(*spans: int | tuple[int, int]) -> frozenset[int]:
    out: set[int] = set()
    for span in spans:
        out.update(range(span[0], span[1] + 1) if isinstance(span, tuple) else [span])
    return frozenset(out)


# Keras ImageNet indices under each common class (WordNet hyponyms; end points inclusive).
IMAGENET = {
    "airplane": _indices(404, 895),  # airliner, warplane
    "automobile": _indices(407, 436, 468, 511, 609, 627, 656, 661, 751, 817),  # ambulance ... sports_car
    "bird": _indices((7, 24), (80, 100), (127, 146)),
    "cat": _indices((281, 285)),  # tabby, tiger cat, Persian, Siamese, Egyptian cat
    "deer": frozenset(),
    "dog": _indices((151, 268)),
    "frog": _indices((30, 32)),  # bullfrog, tree frog, tailed frog
    "horse": _indices(339),  # sorrel
    "ship": _indices(403, 472, 484, 510, 554, 576, 625, 628, 724, 780, 814, 833, 871, 914),
    "truck": _indices(555, 569, 675, 717, 734, 864, 867),  # fire engine ... trailer truck
}

# COCO label -> common class.
COCO = {"airplane": "airplane", "car": "automobile", "bird": "bird", "cat": "cat", "dog": "dog",
        "horse": "horse", "boat": "ship", "truck": "truck"}


@dataclass(frozen=True)
class CommonVote:
    """A model's answer in the common vocabulary: the class and how sure it is, or None."""

    model: str
    label: str | None
    score: float
    source_label: str | None  # the model's own label behind the vote


def common_probabilities(result: Classification) -> np.ndarray | None:
    """A classifier's probability mass on each common class (None when it has no mapping)."""
    labels = result.classes
    if labels == COMMON:
        return np.asarray(result.probabilities, dtype=float)
    if len(labels) == 1000:
        return np.array([result.probabilities[sorted(IMAGENET[c])].sum() if IMAGENET[c] else 0.0 for c in COMMON])
    return None


def classifier_vote(result: Classification) -> CommonVote:
    """The common class with the most probability mass, if that mass beats every single class
    outside the common set (a lynx at 25% loses to 47% spread over five domestic cats; a minibus
    at 86% wins over a few percent of trucks, and the model casts no vote)."""
    mass = common_probabilities(result)
    if mass is None:
        return CommonVote(result.model, None, 0.0, result.top.label)
    best = int(mass.argmax())
    if result.classes != COMMON:
        mapped = sorted(set().union(*IMAGENET.values()))
        unmapped = np.delete(np.asarray(result.probabilities), mapped)
        if unmapped.max(initial=0.0) >= mass[best]:
            return CommonVote(result.model, None, 0.0, result.top.label)
    return CommonVote(result.model, COMMON[best], float(mass[best]), result.top.label)


def detector_vote(result: Detections) -> CommonVote:
    """The most confident detection that maps onto a common class."""
    for detection in result.detections:  # highest score first
        if detection.label in COCO:
            return CommonVote(result.model, COCO[detection.label], detection.score, detection.label)
    return CommonVote(result.model, None, 0.0, result.detections[0].label if len(result) else None)


def agreement(votes: list[CommonVote]) -> str | None:
    """The common class every voting model chose, or None when they differ or nobody votes."""
    labels = {vote.label for vote in votes if vote.label is not None}
    return labels.pop() if len(labels) == 1 else None


def ensemble(results: list[Classification]) -> np.ndarray:
    """The mean of several CIFAR-10 classifiers' probabilities."""
    return np.mean([r.probabilities for r in results], axis=0)
