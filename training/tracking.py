"""Experiment tracking with MLflow, shared by every training script and training.evaluate.

By default runs go to MLflow's own local default, anchored to the project: `mlflow.db` (SQLite)
with artifacts in `mlruns/`, both ignored by git; `mlflow ui --backend-store-uri sqlite:///mlflow.db`
browses them. MLFLOW_TRACKING_URI points everything at an MLflow server instead.

Logging is explicit, not autolog: MLflow's Keras autolog is tested only up to Keras 3.13 and we run
3.15, so `epoch_logger()` logs each epoch's numbers itself. One experiment per model name.
"""

from __future__ import annotations

import contextlib
import platform
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from core import config, frameworks

MAX_PARAM_CHARS = 6000  # MLflow's limit on a parameter's value


def mlflow():
    """MLflow, pointed at the configured store."""
    module = frameworks.mlflow()
    module.set_tracking_uri(config.mlflow_tracking_uri())
    return module


def use_experiment(name: str) -> str:
    """Select (creating if needed) the experiment `name`; its id. A local store's artifacts go
    beside its database wherever the script was started (MLflow's default is the current folder)."""
    client = mlflow().MlflowClient()
    found = client.get_experiment_by_name(name)
    if found is None:
        root = config.mlflow_artifact_root()
        location = (root / name).as_uri() if root else None
        experiment_id = client.create_experiment(name, artifact_location=location)
    else:
        experiment_id = found.experiment_id
    mlflow().set_experiment(experiment_id=experiment_id)
    return experiment_id


@contextlib.contextmanager
def run(experiment: str, run_name: str, params: dict | None = None, tags: dict | None = None,
        nested: bool = False) -> Iterator:
    """An MLflow run of `experiment` with `params` (nested dicts flattened to dotted keys) and tags.
    Started while another run is active (a study's trial, a retraining's calibration), it becomes
    that run's child."""
    module = mlflow()
    nested = nested or module.active_run() is not None
    if not nested:
        use_experiment(experiment)
    with module.start_run(run_name=run_name, nested=nested) as active:
        if params:
            module.log_params(flatten(params))
        if tags:
            module.set_tags({key: str(value) for key, value in tags.items()})
        yield active


def training_run(args, provenance, script: str):
    """The MLflow run of one training script's run: its configuration as parameters, where it ran
    as tags. Starting it first means an unreachable server fails the script before training."""
    from training.common import portable_path

    params = {key: portable_path(value) if isinstance(value, Path) else value for key, value in vars(args).items()}
    return run(args.name, f"train {args.name}", params, {**provenance_tags(provenance), "script": script})


def linked(sidecar: dict, active) -> dict:
    """The sidecar with the MLflow run that trained it (so the file leads back to its run)."""
    return {**sidecar, "training": {**sidecar["training"], "mlflow_run_id": active.info.run_id}}


def log_trained_artifact(path: Path, sidecar: dict) -> None:
    """A finished training run's final figures, model file, sidecar and training curves."""
    training = sidecar["training"]
    finals = ("val_accuracy", "val_loss", "test_accuracy", "test_loss", "wall_time_s", "epochs_run", "params")
    mlflow().log_metrics({f"final_{key}": float(training[key]) for key in finals if key in training})
    log_files(path, path.with_suffix(".json"), folder="artifact")
    log_training_curves(training["history"], f"{sidecar['name']}: training curves")


def flatten(values: dict, prefix: str = "") -> dict[str, str]:
    """{"a": {"b": 1}} -> {"a.b": "1"}, every value as text within MLflow's length limit."""
    flat = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = str(value)[:MAX_PARAM_CHARS]
    return flat


def provenance_tags(provenance) -> dict[str, str]:
    """Git commit, data digest, hardware and software versions, as run tags."""
    fields = provenance if isinstance(provenance, dict) else vars(provenance)
    tags = {f"provenance.{key}": value for key, value in fields.items()}
    return {**tags, **software_tags()}


def software_tags() -> dict[str, str]:
    import importlib.metadata as metadata

    versions = {"python": platform.python_version()}
    for package in ("keras", "tensorflow-cpu", "tensorflow", "torch", "numpy", "mlflow", "optuna"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return {f"software.{package}": version for package, version in versions.items()}


def epoch_logger(offset: int = 0):
    """A Keras callback logging every number in each epoch's logs (losses, accuracies, learning rate,
    epoch time) at step epoch + `offset` (a second training phase continues the first's steps).
    Place it after common.epoch_timer(), which adds the time and learning rate to the logs."""
    keras = frameworks.keras()
    module = mlflow()

    class EpochLogger(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            numbers = {key: float(value) for key, value in (logs or {}).items() if np.isscalar(value)}
            module.log_metrics(numbers, step=epoch + offset)

    return EpochLogger()


def log_history(history: dict[str, list[float]]) -> None:
    """Per-epoch metrics from a recorded history (a sidecar's), for runs logged after training."""
    module = mlflow()
    for key, values in history.items():
        for step, value in enumerate(values):
            module.log_metric(key, float(value), step=step)


def log_files(*paths: Path, folder: str | None = None) -> None:
    for path in paths:
        if path is not None and Path(path).is_file():
            mlflow().log_artifact(str(path), artifact_path=folder)


def log_json(record: dict, name: str) -> None:
    mlflow().log_dict(record, name)


def log_evaluation(name: str, metrics: dict | None) -> None:
    """A metrics file's headline figures as metrics, its confusion matrix as a PNG, and the file
    itself (without its long list of test images) as metrics.json."""
    if not metrics:
        return
    log_json({key: value for key, value in metrics.items() if key != "test_set"}, "metrics.json")
    if "detection" in metrics:
        mlflow().log_metrics({key: float(value) for key, value in metrics["detection"].items()
                              if key.startswith("map") and isinstance(value, (int, float))})
        return
    report = metrics["classification"]
    mlflow().log_metrics({
        "test_accuracy": report["accuracy"], "test_top5_accuracy": report["top5_accuracy"],
        "test_macro_f1": report["macro_f1"], "test_ece": report["calibration"]["ece"],
        **{key: value for key, value in (metrics.get("performance") or {}).items()
           if key.startswith("latency") and value is not None},
    })
    if "confusion_matrix" in report:  # not kept for 1,000 classes (core.evaluation.metrics)
        log_confusion_matrix(report["confusion_matrix"], metrics["labels"], f"{name}: test confusion matrix")


def log_training_curves(history: dict[str, list[float]], title: str) -> None:
    """Loss and accuracy per epoch, training against validation, as training_curves.png."""
    plt = _pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for axis, metric in zip(axes, ("loss", "accuracy")):
        for key, style in ((metric, "-"), (f"val_{metric}", "--")):
            if key in history:
                axis.plot(range(1, len(history[key]) + 1), history[key], style, label=key)
        axis.set(xlabel="epoch", ylabel=metric)
        axis.legend()
    figure.suptitle(title)
    _log_figure(figure, "training_curves.png")


def log_confusion_matrix(matrix, labels: list[str], title: str) -> None:
    """The confusion matrix, each row normalised to the true class's share, as confusion_matrix.png."""
    plt = _pyplot()
    counts = np.asarray(matrix, float)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    figure, axis = plt.subplots(figsize=(7, 6))
    image = axis.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    axis.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    axis.set_yticks(range(len(labels)), labels)
    axis.set(xlabel="predicted", ylabel="true", title=title)
    for (row, column), share in np.ndenumerate(shares):
        axis.text(column, row, f"{share:.2f}", ha="center", va="center", fontsize=7,
                  color="white" if share > 0.5 else "black")
    figure.colorbar(image)
    figure.tight_layout()
    _log_figure(figure, "confusion_matrix.png")


def _log_figure(figure, name: str) -> None:
    plt = _pyplot()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        figure.savefig(path, dpi=110)
        plt.close(figure)
        mlflow().log_artifact(str(path))


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt
