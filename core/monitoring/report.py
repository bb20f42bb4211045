"""A drift report: a model's latest window of logged predictions against its reference profile,
with the window's health (confidence, error rate, latency, accuracy from feedback)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.monitoring import drift, profiles, queries
from core.monitoring.features import IMAGE_STATISTICS, STATISTIC_WORDS

MIN_RECORDS = 30  # fewer and a report only counts
CLASSIFIER_SCALARS = (*IMAGE_STATISTICS, "score", "entropy")
DETECTOR_SCALARS = (*IMAGE_STATISTICS, "score", "boxes")


@dataclass(frozen=True)
class DriftReport:
    model: str
    window: str  # "latest 500" or "since 1h"
    records: int
    reference: str  # what the profile was computed on
    drift: bool
    tests: tuple[drift.DriftTest, ...] = ()
    health: dict = field(default_factory=dict)  # mean_confidence, reference_confidence, error_share, ...
    notes: tuple[str, ...] = ()  # why a report is partial (no profile, too few records, another version)

    @property
    def drifted(self) -> list[drift.DriftTest]:
        return [test for test in self.tests if test.drifted]

    def to_dict(self) -> dict:
        return {"model": self.model, "window": self.window, "records": self.records, "reference": self.reference,
                "drift": self.drift, "drifted_features": [test.feature for test in self.drifted],
                "tests": [test.to_dict() for test in self.tests], "health": self.health, "notes": list(self.notes)}

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([test.to_dict() for test in self.tests],
                            columns=["feature", "test", "statistic", "p_value", "p_adjusted", "drifted", "effect",
                                     "description"])


def build(model: str, size: int | None = 500, since_s: float | None = None, alpha: float = 0.05,
          min_features: int = 2, role: str = "served") -> DriftReport:
    """Report on `model`'s latest `size` records (or those of the last `since_s` seconds)."""
    described = f"since {since_s:g} s" if since_s is not None else f"latest {size}"
    everything = queries.window(model, None if since_s is not None else size, since_s, role, errors=True)
    frame = everything[everything["error"].isna()].reset_index(drop=True)
    health = _health(model, frame, everything)
    profile = profiles.load(model)
    notes = []
    if profile is None:
        notes.append(f"{model} has no reference profile (python -m training.profile --model {model}).")
    elif len(frame) < MIN_RECORDS:
        notes.append(f"{len(frame)} records: at least {MIN_RECORDS} are needed to test for drift.")
    if profile is None or len(frame) < MIN_RECORDS:
        return DriftReport(model, described, len(frame), profile.data["name"] if profile else "", False,
                           health=health, notes=tuple(notes))
    health["reference_confidence"] = _mean(profile.samples.get("score"))
    versions = sorted(set(frame["version"]) - {profile.version})
    if versions:
        notes.append(f"the profile was built for version {profile.version}; the window holds {', '.join(versions)}.")
    tests = drift.holm(_tests(profile, frame), alpha)
    drifted = sum(test.drifted for test in tests)
    return DriftReport(model, described, len(frame), profile.data["name"], drifted >= min_features, tuple(tests),
                       health, tuple(notes))


def _tests(profile: profiles.Profile, frame: pd.DataFrame) -> list[drift.DriftTest]:
    scalars = CLASSIFIER_SCALARS if profile.task == "classify" else DETECTOR_SCALARS
    tests = []
    for feature in scalars:
        live = frame[feature].dropna().to_numpy(np.float64)
        reference = profile.samples.get(feature)
        if reference is not None and len(live) >= MIN_RECORDS and len(reference) >= MIN_RECORDS:
            tests.append(drift.ks_test(feature, live, reference, _describe))
    labels = drift.label_test(frame["label"].dropna().tolist(), profile.label_shares)
    if labels is not None:
        tests.append(labels)
    live_embeddings = queries.embeddings(frame)
    comparable = (profile.embeddings is not None and live_embeddings is not None
                  and len(live_embeddings) >= MIN_RECORDS and live_embeddings.shape[1] == profile.embeddings.shape[1])
    if comparable:
        tests.append(drift.mmd_test(live_embeddings, profile.embeddings))
    return tests


def _describe(feature: str, live: np.ndarray, reference: np.ndarray) -> tuple[float, str]:
    """An effect a person can read: "images 38% darker than the reference"."""
    if feature in STATISTIC_WORDS:
        centre = np.median if feature == "sharpness" else np.mean  # sharpness has a long tail
        before, after = float(centre(reference)), float(centre(live))
        change = (after - before) / before if before else 0.0
        more, less = STATISTIC_WORDS[feature]
        return change, f"images {abs(change):.0%} {more if change >= 0 else less} than the reference"
    before, after = float(np.mean(reference)), float(np.mean(live))
    words = {"score": "confidence", "entropy": "entropy (nats)", "boxes": "boxes per image"}[feature]
    return after - before, f"mean {words} {after:.3g} against {before:.3g} in the reference"


def _health(model: str, frame: pd.DataFrame, everything: pd.DataFrame) -> dict:
    latency = everything["latency_ms"].dropna()
    accuracy, verdicts = queries.feedback_accuracy(model, 200)
    return {
        "mean_confidence": _mean(frame["score"].dropna()),
        "error_share": float(everything["error"].notna().mean()) if len(everything) else None,
        "latency_p50_ms": float(latency.quantile(0.5)) if len(latency) else None,
        "latency_p95_ms": float(latency.quantile(0.95)) if len(latency) else None,
        "feedback_accuracy": accuracy,
        "feedback": verdicts,
        "requests": len(everything),
    }


def _mean(values) -> float | None:
    return float(np.mean(values)) if values is not None and len(values) else None
