"""Classification metrics for the evaluation artifacts (assets/metrics/<model>.json).

scikit-learn computes precision, recall, F1 and the confusion matrix; calibration (ECE with its
reliability-diagram bins) is the few lines below.
"""

from __future__ import annotations

import numpy as np

SCHEMA_VERSION = 1
CALIBRATION_BINS = 15
DENSE_CONFUSION_MAX_CLASSES = 100  # above this (ImageNet) only the non-zero cells are stored


def classification_metrics(labels: np.ndarray, probabilities: np.ndarray, class_names: tuple[str, ...]) -> dict:
    """Accuracy, top-5, macro and per-class precision/recall/F1, confusion, calibration."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    predicted = probabilities.argmax(axis=1)
    present = np.unique(np.concatenate([labels, predicted]))  # classes seen in truth or prediction
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=present, zero_division=0
    )
    macro = precision_recall_fscore_support(labels, predicted, labels=np.unique(labels), average="macro", zero_division=0)
    top5 = np.argsort(-probabilities, axis=1)[:, :5]
    result = {
        "images": int(len(labels)),
        "accuracy": _round(np.mean(predicted == labels)),
        "top5_accuracy": _round(np.mean((top5 == labels[:, None]).any(axis=1))) if probabilities.shape[1] > 5 else None,
        "macro_precision": _round(macro[0]),
        "macro_recall": _round(macro[1]),
        "macro_f1": _round(macro[2]),
        "per_class": [
            {"label": class_names[c], "index": int(c), "precision": _round(p), "recall": _round(r), "f1": _round(f),
             "support": int(s)}
            for c, p, r, f, s in zip(present, precision, recall, f1, support)
        ],
        "calibration": calibration(labels, probabilities),
        "misclassified": misclassified_by_cell(labels, predicted),
    }
    if len(class_names) <= DENSE_CONFUSION_MAX_CLASSES:
        result["confusion_matrix"] = confusion_matrix(labels, predicted, labels=range(len(class_names))).tolist()
    return result


def calibration(labels: np.ndarray, probabilities: np.ndarray, bins: int = CALIBRATION_BINS) -> dict:
    """Expected calibration error and the reliability-diagram bins it is computed from."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    table, ece = [], 0.0
    for b in range(bins):
        inside = which == b
        count = int(inside.sum())
        mean_confidence = float(confidence[inside].mean()) if count else None
        accuracy = float(correct[inside].mean()) if count else None
        if count:
            ece += count / len(labels) * abs(accuracy - mean_confidence)
        table.append({"lower": _round(edges[b]), "upper": _round(edges[b + 1]), "count": count,
                      "confidence": _round(mean_confidence), "accuracy": _round(accuracy)})
    histogram_edges = np.linspace(0.0, 1.0, 21)
    return {
        "ece": _round(ece),
        "bins": table,
        "confidence_histogram": {
            "edges": [_round(e) for e in histogram_edges],
            "correct": np.histogram(confidence[correct], histogram_edges)[0].tolist(),
            "wrong": np.histogram(confidence[~correct], histogram_edges)[0].tolist(),
        },
    }


def misclassified_by_cell(labels: np.ndarray, predicted: np.ndarray) -> dict[str, list[int]]:
    """Indices of wrongly classified images per confusion cell, keyed "true,predicted"."""
    cells: dict[str, list[int]] = {}
    for index in np.flatnonzero(labels != predicted):
        cells.setdefault(f"{labels[index]},{predicted[index]}", []).append(int(index))
    return cells


def _round(value, digits: int = 5):
    return None if value is None else round(float(value), digits)
