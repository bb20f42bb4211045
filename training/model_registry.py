"""Our trained models in the MLflow model registry: registering an artifact as a version, finding
versions by content, and moving aliases (`champion`, `challenger`) with a record of each move.

A version is an MLflow pyfunc model (training/pyfunc_model.py) whose artifacts are the `.keras`
file and its sidecar, so `models:/NAME@champion` serves through our own loader (core.models.
mlflow_models) exactly as the file does. Each version carries the file's sha256 as a tag, which
training.register checks so that it never registers the same file twice. Aliases, not the
deprecated stages.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import time
from pathlib import Path

from core import config
from core.evaluation.model_card import model_card
from core.models.runtimes import file_digest
from training import tracking

PYFUNC_MODEL = Path(__file__).with_name("pyfunc_model.py")
DIGEST_TAG = "artifact_sha256"
CHAMPION, CHALLENGER = "champion", "challenger"


def client():
    return tracking.mlflow().MlflowClient()


def find_version(name: str, digest: str):
    """The registered version of `name` whose file has this sha256, or None."""
    found = client().search_model_versions(f"name = '{name}' and tags.{DIGEST_TAG} = '{digest}'")
    return min(found, key=lambda version: int(version.version)) if found else None


def alias_version(name: str, alias: str):
    """The version carrying `alias`, or None (also when the model is not registered at all)."""
    exceptions = tracking.mlflow().exceptions
    try:
        return client().get_model_version_by_alias(name, alias)
    except exceptions.MlflowException:
        return None


def register(weights: Path, metrics: dict | None, source: str, run_name: str | None = None, log_history: bool = False):
    """Register `weights` (a `.keras` file with its sidecar beside it) as a new version of its model,
    inside the active MLflow run or a new one. Logs the sidecar, the metrics file, the confusion
    matrix, the model card and, with `log_history`, the training curves from the sidecar (for
    models trained before tracking). Returns the ModelVersion."""
    mlflow = tracking.mlflow()
    sidecar_path = weights.with_suffix(".json")
    sidecar = json.loads(sidecar_path.read_text())
    name, digest = sidecar["name"], file_digest(weights)
    training = sidecar.get("training", {})
    tags = {"source": source, DIGEST_TAG: digest, **tracking.provenance_tags(training.get("provenance", {}))}
    active = mlflow.active_run()
    with (tracking.run(name, run_name or f"register {name}", training.get("config"), tags)
          if active is None else contextlib.nullcontext()):
        if log_history and training.get("history"):
            tracking.log_history(training["history"])
            tracking.log_training_curves(training["history"], f"{name}: training curves")
        tracking.log_evaluation(name, metrics)
        info = mlflow.pyfunc.log_model(
            name="model", python_model=str(PYFUNC_MODEL),
            artifacts={"weights": str(weights), "sidecar": str(sidecar_path)},
            pip_requirements=str(config.PROJECT_ROOT / "requirements.txt"),
            registered_model_name=name,
        )
        version = str(info.registered_model_version)
        card = model_card(sidecar, metrics, version)
        mlflow.log_text(card, "model_card.md")
    registry = client()
    registry.set_model_version_tag(name, version, DIGEST_TAG, digest)
    registry.set_model_version_tag(name, version, "source", source)
    registry.update_model_version(name, version, description=card)
    return registry.get_model_version(name, version)


def set_alias(name: str, alias: str, version: str, reason: str, who: str | None = None) -> dict:
    """Point `alias` at `version` and record the move (who, why, when, from which version) as tags
    on the version and in the model's alias log. Returns the record."""
    registry = client()
    previous = alias_version(name, alias)
    record = {"alias": alias, "version": str(version), "previous": str(previous.version) if previous else None,
              "by": who or _user(), "reason": reason, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    registry.set_registered_model_alias(name, alias, str(version))
    for key in ("by", "reason", "at", "previous"):
        registry.set_model_version_tag(name, str(version), f"{alias}.{key}", str(record[key]))
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"{time.time() % 1:.6f}"[1:]
    registry.set_registered_model_tag(name, f"alias_log.{stamp}", json.dumps(record))
    return record


def alias_log(name: str) -> list[dict]:
    """Every recorded alias move of `name`, oldest first."""
    tags = client().get_registered_model(name).tags
    return [json.loads(tags[key]) for key in sorted(tags) if key.startswith("alias_log.")]


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
