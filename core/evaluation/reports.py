"""The evaluation artifacts as the dashboards read them: assets/metrics/<model>.json (written by
`python -m training.evaluate`) and assets/eda/ (by `python -m training.eda`). Reading only: nothing
here trains or evaluates. A report whose schema or model file no longer matches is flagged."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from core.config import EDA_DIR, METRICS_DIR, MODELS_DIR  # noqa: F401 (the page reads them from here; tests move them)
from core.evaluation.metrics import SCHEMA_VERSION
from core.models.registry import REGISTRY
from core.models.runtimes import remembered_digest
from core.models.weights import find_model_file

EVALUATE_COMMAND = "python -m training.evaluate"
OPTIMISE_COMMAND = "python -m training.optimise"
EDA_COMMAND = "python -m training.eda"
# JSON files beside the reports that are not one (a model's whole evaluation): skipped by load_reports
NOT_REPORTS = (
    "_faithfulness.json",  # training.faithfulness: explanation methods against random maps
    "_robustness.json",  # training.robustness: corruption benchmark (and training.adversarial's section)
    "_pruning.json",  # training.prune_cnn: the pruning trial's table
)
# Columns of the summary table, and which way is better.
HIGHER_IS_BETTER = ("accuracy", "top-5", "mAP50", "mAP50-95", "macro-F1", "throughput (img/s)")
LOWER_IS_BETTER = ("ECE", "latency p50 (ms)", "latency p95 (ms)", "size (MB)")
COMPARABLE_ACROSS_DATASETS = ("throughput (img/s)", "latency p50 (ms)", "latency p95 (ms)", "size (MB)", "params (M)",
                              "training (min)")


@dataclass(frozen=True)
class Report:
    name: str
    data: dict
    problems: tuple[str, ...] = ()  # why it may not describe the current model

    @property
    def task(self) -> str:
        return self.data.get("task", "classify")


def load_reports(folder: Path | None = None, check_files: bool = True) -> list[Report]:
    """Every metrics file in `folder` (default METRICS_DIR), with its problems; an unreadable file
    becomes a Report with empty data and the reason."""
    folder = folder or METRICS_DIR
    reports = []
    for path in sorted(p for p in folder.glob("*.json") if not p.name.endswith(NOT_REPORTS)):
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            reports.append(Report(path.stem, {}, (f"{path.name} cannot be read ({error}).",)))
            continue
        reports.append(Report(path.stem, data, tuple(problems(path.stem, data, check_files))))
    return reports


def problems(name: str, data: dict, check_files: bool = True) -> list[str]:
    found = []
    if data.get("schema_version") != SCHEMA_VERSION:
        found.append(f"schema version {data.get('schema_version')} is not the current {SCHEMA_VERSION}")
    if name not in REGISTRY:
        found.append("the model is no longer registered")
    elif check_files:
        provenance = data.get("provenance", {})  # a variant's: its source's weights, which it is built from
        if mismatch := weights_mismatch(name, provenance.get("source_model_sha256") or provenance.get("model_sha256")):
            found.append(mismatch)
    return [f"{p}: re-run `{EVALUATE_COMMAND} --model {name}`" for p in found]


def weights_mismatch(name: str, recorded_sha256: str | None) -> str | None:
    """Why figures recorded for weights with this digest (whole, or its first digits: a model
    version) may not describe the registered model `name` as the app would load it now; None when
    they match."""
    current = current_model_file(name)
    if current is None:
        return "the model's weights file is not found here, so the figures cannot be matched to it"
    if not recorded_sha256 or not remembered_digest(current).startswith(recorded_sha256):
        return "the model file changed since it was evaluated (sha256 differs)"
    return None


def current_model_file(name: str) -> Path | None:
    """The weights file the app would load for `name` now, found without downloading anything."""
    return find_model_file(REGISTRY[name])


def summary_table(reports: list[Report]) -> pd.DataFrame:
    """One row per model: quality, size, speed, training and provenance."""
    rows = []
    for report in reports:
        if not report.data:
            continue
        d = report.data
        quality = d.get("classification") or d.get("detection") or {}
        performance, provenance = d.get("performance") or {}, d.get("provenance") or {}
        training = d.get("training") or {}
        rows.append({
            "model": report.name,
            "task": report.task,
            "dataset": d.get("dataset", "").split(" (")[0].split(":")[0],
            "accuracy": quality.get("accuracy"),
            "top-5": quality.get("top5_accuracy"),
            "mAP50": quality.get("map50"),
            "mAP50-95": quality.get("map50_95"),
            "macro-F1": quality.get("macro_f1"),
            "ECE": (quality.get("calibration") or {}).get("ece"),
            "params (M)": _scaled(performance.get("params"), 1e6),
            "size (MB)": _scaled(performance.get("size_bytes"), 1e6),
            "latency p50 (ms)": performance.get("latency_p50_ms"),
            "latency p95 (ms)": performance.get("latency_p95_ms"),
            "throughput (img/s)": performance.get("throughput_batch32_ips") or performance.get("throughput_ips"),
            "training (min)": _scaled(training.get("wall_time_s"), 60),
            "evaluated": provenance.get("evaluated", "")[:10],
            "commit": provenance.get("git_commit"),
            "flagged": bool(report.problems),
        })
    table = pd.DataFrame(rows)
    for column in (*HIGHER_IS_BETTER, *LOWER_IS_BETTER, *COMPARABLE_ACROSS_DATASETS):
        if column in table:
            table[column] = pd.to_numeric(table[column])  # None -> NaN, so columns sort as numbers
    return table


def variants_table(reports: list[Report]) -> pd.DataFrame:
    """One row per evaluated optimised variant: what it costs and what it saves against its source,
    both measured in the same run (training.evaluate)."""
    rows = []
    for report in reports:
        variant = report.data.get("variant")
        if not variant:
            continue
        quality = report.data.get("classification") or report.data.get("detection") or {}
        classifier = "accuracy_change_points" in variant
        rows.append({
            "variant": report.name,
            "of": variant["of"],
            "metric": "accuracy" if classifier else "mAP50-95",
            "value": quality.get("accuracy") if classifier else quality.get("map50_95"),
            "source value": variant["source_accuracy"] if classifier else variant["source_map50_95"],
            "change (points)": variant["accuracy_change_points"] if classifier else 100 * variant["map50_95_change"],
            "top-1 agreement": variant["agreement_top1"],
            "speed-up": round(1 / variant["latency_ratio"], 3),
            "latency p50 (ms)": variant["latency_p50_ms"],
            "source latency p50 (ms)": variant["source_latency_p50_ms"],
            "size ratio": variant["size_ratio"],
            "size (MB)": _scaled(variant["size_bytes"], 1e6),
            "flagged": bool(report.problems),
        })
    return pd.DataFrame(rows)


def best_cells(table: pd.DataFrame) -> pd.DataFrame:
    """True where a value is the best of its column: among models on the same dataset for quality
    figures (90% on CIFAR-10 and 89% on ImageNet are not comparable), among all for cost figures."""
    best = pd.DataFrame(False, index=table.index, columns=table.columns)
    for column in (*HIGHER_IS_BETTER, *LOWER_IS_BETTER):
        if column not in table:
            continue
        pick = "idxmax" if column in HIGHER_IS_BETTER else "idxmin"
        groups = [table] if column in COMPARABLE_ACROSS_DATASETS else [g for _, g in table.groupby("dataset")]
        for group in groups:
            values = group[column].dropna()
            if len(values) > 1:
                best.loc[getattr(values, pick)(), column] = True
    return best


def classifiers_sharing_labels(reports: list[Report]) -> dict[tuple[str, ...], list[Report]]:
    """Classification reports grouped by label set: only those can share a confusion matrix."""
    groups: dict[tuple[str, ...], list[Report]] = {}
    for report in reports:
        if report.task == "classify" and "confusion_matrix" in report.data.get("classification", {}):
            groups.setdefault(tuple(report.data["labels"]), []).append(report)
    return groups


def load_eda(folder: Path | None = None) -> dict[str, dict]:
    """The EDA reports by dataset name ({} when the folder is missing)."""
    folder = folder or EDA_DIR
    return {path.stem: json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))} if folder.is_dir() else {}


def _scaled(value, unit: float):
    return None if value is None else round(value / unit, 2)


TUNE_COMMAND = "python -m training.tune --model cifar10_cnn --trials 20"


def load_tuning_tables(folder: Path | None = None) -> dict[str, pd.DataFrame]:
    """Each hyperparameter study's trials (assets/metrics/<model>_tuning.csv, from training.tune), by model."""
    folder = folder or METRICS_DIR
    tables = {}
    for path in sorted(folder.glob("*_tuning.csv")):
        try:
            tables[path.stem.removesuffix("_tuning")] = pd.read_csv(path)
        except (OSError, ValueError, pd.errors.ParserError):
            continue  # a damaged table is left out; the study itself is in optuna.db
    return tables


def trained_sidecar(name: str) -> dict | None:
    """The sidecar of one of our trained models (the model card's source), or None."""
    sidecar = MODELS_DIR / f"{name}.json"
    if not sidecar.is_file():
        return None
    try:
        return json.loads(sidecar.read_text())
    except (OSError, json.JSONDecodeError):
        return None


ROBUSTNESS_COMMAND = "python -m training.robustness"
ADVERSARIAL_COMMAND = "python -m training.adversarial"
ROBUSTNESS_SUFFIX = "_robustness.json"


def load_robustness(folder: Path | None = None) -> dict[str, dict]:
    """Each model's corruption benchmark (assets/metrics/<model>_robustness.json, from
    training.robustness), by model; a file without the benchmark (only training.adversarial's
    section so far) or one that cannot be read is left out."""
    folder = folder or METRICS_DIR
    found = {}
    for path in sorted(folder.glob(f"*{ROBUSTNESS_SUFFIX}")):
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if "corruptions" in data:
            found[path.name.removesuffix(ROBUSTNESS_SUFFIX)] = data
    return found


def robustness_problems(name: str, data: dict) -> list[str]:
    """Why a corruption benchmark, or the adversarial section beside it, may not describe the model
    the app loads now (a retrained model keeps its name; the two are re-run by different scripts)."""
    if name not in REGISTRY:
        return [f"the model is no longer registered: re-run `{ROBUSTNESS_COMMAND} --model {name}`"]
    found = []
    if problem := weights_mismatch(name, data.get("provenance", {}).get("model_sha256")):
        found.append(f"{problem}: re-run `{ROBUSTNESS_COMMAND} --model {name}`")
    attacked = data.get("adversarial")
    if attacked and (problem := weights_mismatch(name, attacked.get("version"))):
        found.append(f"its adversarial section: {problem}: re-run `{ADVERSARIAL_COMMAND} {name}`")
    return found


def robustness_table(benchmarks: dict[str, dict]) -> pd.DataFrame:
    """One row per benchmarked model: clean against mean corrupted metric, and its mCE."""
    rows = []
    for name, data in benchmarks.items():
        mce = data["mce"]
        rows.append({
            "model": name,
            "dataset": data["dataset"]["name"],
            "images": data["dataset"]["images"],
            "metric": "mAP50-95" if data["metric"] == "map50_95" else data["metric"],
            "clean": data["clean"],
            "mean corrupted": data["mean_corrupted"],
            "± (95%)": data.get("mean_corrupted_ci95"),
            "drop (points)": round(100 * (data["clean"] - data["mean_corrupted"]), 2),
            "mCE (%)": mce["value"],
            "relative mCE (%)": mce.get("relative"),
            "mCE relative to": mce["baseline"] or "none (unnormalised mean error)",
        })
    table = pd.DataFrame(rows)
    for column in ("clean", "mean corrupted", "± (95%)", "mCE (%)", "relative mCE (%)"):
        if column in table:
            table[column] = pd.to_numeric(table[column])
    return table


def adversarial_table(benchmarks: dict[str, dict]) -> pd.DataFrame:
    """One row per attacked model and ε: the clean accuracy on the attacked images, then the robust
    accuracy under FGSM and PGD (the section training.adversarial adds to a robustness file)."""
    rows = [
        {"model": name, "images": attacked["images"], "clean": attacked["clean_accuracy"],
         "ε (/255)": result["epsilon_255"], "FGSM": result["fgsm_accuracy"], "PGD": result["pgd_accuracy"]}
        for name, data in benchmarks.items() if (attacked := data.get("adversarial"))
        for result in attacked["results"]
    ]
    return pd.DataFrame(rows, columns=["model", "images", "clean", "ε (/255)", "FGSM", "PGD"])
