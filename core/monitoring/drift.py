"""Two-sample drift tests between a window of live records and a reference profile.

- Each scalar feature (image statistics, confidence, entropy, boxes): the two-sample
  Kolmogorov-Smirnov test (scipy.stats.ks_2samp; Hodges 1958, exact or asymptotic as scipy picks).
- Predicted-label shares: Pearson's chi-square goodness of fit against the reference shares, with
  categories expected fewer than 5 times pooled (Cochran 1954).
- Embeddings: the unbiased squared maximum mean discrepancy with a Gaussian kernel whose bandwidth
  is the pooled sample's median distance, and a permutation p-value (b + 1) / (B + 1) (Gretton et
  al., "A Kernel Two-Sample Test", JMLR 2012; Phipson & Smyth 2010).
- The p-values of one report are corrected together with Holm's step-down method (Holm 1979), so
  `alpha` bounds the chance that a report calls any feature drifted when none is.

Evidently conflicts with our plotly pin and alibi-detect needs numpy < 2, hence this module.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
from scipy import stats

MIN_EXPECTED = 5
PERMUTATIONS = 200


@dataclass(frozen=True)
class DriftTest:
    feature: str
    test: str  # ks, chi2, mmd
    statistic: float
    p_value: float
    p_adjusted: float = 1.0
    drifted: bool = False
    effect: float = 0.0  # relative change, difference or distance (see `description`)
    description: str = ""

    def to_dict(self) -> dict:
        row = asdict(self)
        for key in ("statistic", "p_value", "p_adjusted", "effect"):
            row[key] = float(f"{row[key]:.6g}")
        return row


def ks_test(feature: str, live: np.ndarray, reference: np.ndarray, describe) -> DriftTest:
    result = stats.ks_2samp(live, reference)
    effect, text = describe(feature, live, reference)
    return DriftTest(feature, "ks", float(result.statistic), float(result.pvalue), effect=effect, description=text)


def label_test(live: list[str], shares: dict[str, float]) -> DriftTest | None:
    """Chi-square of the live labels' counts against the reference shares (None: too few to test)."""
    counts = {label: 0 for label in shares}
    for label in live:
        counts[label] = counts.get(label, 0) + 1
    total = len(live)
    expected = {label: shares.get(label, 0.0) * total for label in counts}
    kept = [label for label in counts if expected[label] >= MIN_EXPECTED]
    observed = [counts[label] for label in kept]
    wanted = [expected[label] for label in kept]
    rest_observed = total - sum(observed)
    rest_expected = total - sum(wanted)
    if rest_observed or rest_expected > 1e-9:  # every rarer label, and labels the reference never gave, as one
        observed.append(rest_observed)
        wanted.append(max(rest_expected, 0.5))  # never-seen labels: a small expectation, a large statistic
    if len(observed) < 2:
        return None
    scale = total / sum(wanted)
    statistic, p_value = stats.chisquare(observed, [w * scale for w in wanted])
    distance = 0.5 * sum(abs(counts[label] / total - shares.get(label, 0.0)) for label in counts)
    moved = max(counts, key=lambda label: abs(counts[label] / total - shares.get(label, 0.0)))
    text = (f"predicted labels {distance:.0%} away from the reference's shares (most: {moved} "
            f"{shares.get(moved, 0.0):.0%} → {counts[moved] / total:.0%})")
    return DriftTest("labels", "chi2", float(statistic), float(p_value), effect=distance, description=text)


def mmd_test(live: np.ndarray, reference: np.ndarray, permutations: int = PERMUTATIONS, seed: int = 0) -> DriftTest:
    """Unbiased MMD² between the two samples, with its permutation p-value."""
    pooled = np.concatenate([live, reference]).astype(np.float64)
    squared = _squared_distances(pooled)
    bandwidth = np.median(squared[np.triu_indices(len(pooled), 1)])
    kernel = np.exp(-squared / max(bandwidth, 1e-12))
    np.fill_diagonal(kernel, 0)
    m = len(live)
    rng = np.random.default_rng(seed)
    labels = np.zeros((len(pooled), permutations + 1))
    labels[:m, 0] = 1  # column 0: the real split; the others: random splits of the same sizes
    for column in range(1, permutations + 1):
        labels[rng.permutation(len(pooled))[:m], column] = 1
    values = _mmd_squared(kernel, labels, m)
    observed = values[0]
    p_value = (np.sum(values[1:] >= observed) + 1) / (permutations + 1)
    text = f"embeddings differ from the reference's (MMD² {observed:.3f}; about 0 when alike)"
    return DriftTest("embedding", "mmd", float(observed), float(p_value), effect=float(observed), description=text)


def _squared_distances(points: np.ndarray) -> np.ndarray:
    norms = (points ** 2).sum(axis=1)
    return np.maximum(norms[:, None] + norms[None, :] - 2 * points @ points.T, 0)


def _mmd_squared(kernel: np.ndarray, labels: np.ndarray, m: int) -> np.ndarray:
    """MMD² for each column of 0/1 `labels` (1: the first sample), from a kernel with a zero diagonal."""
    n = len(kernel) - m
    row_sums = kernel.sum(axis=1)
    total = row_sums.sum()
    within_first = np.einsum("ij,ij->j", labels, kernel @ labels)
    first_to_all = labels.T @ row_sums
    within_second = total - 2 * first_to_all + within_first
    across = first_to_all - within_first
    return within_first / (m * (m - 1)) + within_second / (n * (n - 1)) - 2 * across / (m * n)


def holm(tests: list[DriftTest], alpha: float) -> list[DriftTest]:
    """The tests with Holm-adjusted p-values and their verdicts at family-wise level `alpha`."""
    order = sorted(range(len(tests)), key=lambda i: tests[i].p_value)
    adjusted = [1.0] * len(tests)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(tests) - rank) * tests[index].p_value))
        adjusted[index] = running
    return [replace(test, p_adjusted=p, drifted=p < alpha) for test, p in zip(tests, adjusted)]
