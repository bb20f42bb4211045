"""The gates a retrained model must pass to replace the champion, measured side by side in one run
on the same fixed test images: accuracy (with a paired bootstrap interval of the difference),
calibration error, and single-image latency through the serving path."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from core.evaluation.metrics import calibration
from core.io.datasets import LabelledImages
from core.models import loading

BOOTSTRAP_ROUNDS = 2000
LATENCY_CALLS = 200


@dataclass(frozen=True)
class Thresholds:
    accuracy_margin: float = 0.002  # the challenger must beat the champion by 0.2 points
    ece_tolerance: float = 0.01  # its calibration error may be worse by at most this much
    latency_ratio: float = 1.2  # and its p50 latency at most 20% slower


@dataclass(frozen=True)
class Scores:
    accuracy: float
    ece: float
    latency_p50_ms: float
    correct: np.ndarray  # per test image, for the paired bootstrap


def score(name: str, weights: Path, test: LabelledImages) -> tuple[Scores, object]:
    """Accuracy and ECE of the model in `weights` on `test`; latency is measured in compare()."""
    model = loading.get_model(name, str(weights))
    probabilities = np.concatenate([model.probabilities(test.images[i:i + 500]) for i in range(0, len(test), 500)])
    correct = probabilities.argmax(axis=1) == test.labels
    return Scores(float(correct.mean()), calibration(test.labels, probabilities)["ece"], 0.0, correct), model


def latencies(models: list, image: np.ndarray, calls: int = LATENCY_CALLS) -> list[float]:
    """p50 ms of one-image calls, the models interleaved call by call so that both see the same
    machine load."""
    batch = image[None]
    for model in models:
        model.probabilities(batch)  # warm
    times = [[] for _ in models]
    for _ in range(calls):
        for i, model in enumerate(models):
            start = time.perf_counter()
            model.probabilities(batch)
            times[i].append((time.perf_counter() - start) * 1000)
    return [float(np.percentile(t, 50)) for t in times]


def paired_bootstrap(champion: np.ndarray, challenger: np.ndarray, rounds: int = BOOTSTRAP_ROUNDS,
                     seed: int = 0) -> tuple[float, float]:
    """The 95% interval of accuracy(challenger) - accuracy(champion), resampling test images."""
    rng = np.random.default_rng(seed)
    difference = challenger.astype(np.float64) - champion.astype(np.float64)
    picks = rng.integers(0, len(difference), size=(rounds, len(difference)))
    means = difference[picks].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def compare(name: str, champion: Path, challenger: Path, test: LabelledImages,
            thresholds: Thresholds = Thresholds()) -> dict:
    """Each gate with both figures, its limit and whether it passed; "passed" when all did."""
    old, old_model = score(name, champion, test)
    new, new_model = score(name, challenger, test)
    old_latency, new_latency = latencies([old_model, new_model], test.images[0])
    low, high = paired_bootstrap(old.correct, new.correct)
    gates = {
        "accuracy": {"champion": round(old.accuracy, 5), "challenger": round(new.accuracy, 5),
                     "required": round(old.accuracy + thresholds.accuracy_margin, 5),
                     "difference_ci95": [round(low, 5), round(high, 5)],
                     "passed": bool(new.accuracy >= old.accuracy + thresholds.accuracy_margin)},
        "calibration": {"champion_ece": round(old.ece, 5), "challenger_ece": round(new.ece, 5),
                        "limit": round(old.ece + thresholds.ece_tolerance, 5),
                        "passed": bool(new.ece <= old.ece + thresholds.ece_tolerance)},
        "latency": {"champion_p50_ms": round(old_latency, 4), "challenger_p50_ms": round(new_latency, 4),
                    "limit_ms": round(old_latency * thresholds.latency_ratio, 4),
                    "passed": bool(new_latency <= old_latency * thresholds.latency_ratio)},
    }
    return {"test_images": len(test), "thresholds": asdict(thresholds), "gates": gates,
            "passed": all(gate["passed"] for gate in gates.values())}


def describe(result: dict) -> list[str]:
    """One line per gate, for the console."""
    accuracy, ece, latency = (result["gates"][key] for key in ("accuracy", "calibration", "latency"))
    low, high = accuracy["difference_ci95"]
    mark = {True: "pass", False: "FAIL"}
    return [
        f"accuracy    {mark[accuracy['passed']]}: challenger {accuracy['challenger']:.4f} vs champion "
        f"{accuracy['champion']:.4f} (needs {accuracy['required']:.4f}); difference 95% CI {low:+.4f} to {high:+.4f} "
        f"over {result['test_images']:,} test images",
        f"calibration {mark[ece['passed']]}: ECE {ece['challenger_ece']:.4f} vs {ece['champion_ece']:.4f} "
        f"(at most {ece['limit']:.4f})",
        f"latency     {mark[latency['passed']]}: p50 {latency['challenger_p50_ms']:.3f} ms vs "
        f"{latency['champion_p50_ms']:.3f} ms (at most {latency['limit_ms']:.3f} ms)",
    ]
