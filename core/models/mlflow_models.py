"""Weights from the MLflow model registry: `models:/NAME@ALIAS` or `models:/NAME/VERSION` wherever a
weights path is accepted.

A registered version (written by training/register.py) is an MLflow pyfunc model whose artifacts
are our `.keras` file and its sidecar. We copy a version's files once into the cache, keyed by
name, version number and the version's own id (its files never change), and hand loading the
`.keras` path, so a registered model runs exactly as its file does. MLflow is imported only when such a URI is used.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from core import config, frameworks
from core.errors import WeightsNotFoundError

KEEP_VERSIONS = 6  # fetched versions kept per model; older copies are fetched again if asked for
URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[\w-]+)|/(?P<version>\d+))$")


def is_registry_uri(value) -> bool:
    return isinstance(value, str) and value.startswith("models:/")


def champion_uri(name: str, alias: str) -> str:
    return f"models:/{name}@{alias}"


def resolve(uri: str) -> Path:
    """The local `.keras` file of the registered version `uri` names; WeightsNotFoundError when the
    URI is malformed, the registry is unreachable, or it has no such model, version or alias."""
    match = URI.match(uri)
    if not match:
        raise WeightsNotFoundError(f"{uri}: write a registry model as models:/NAME@ALIAS or models:/NAME/VERSION.")
    version = _model_version(uri, match["name"], match["alias"], match["version"])
    # Keyed by the version's own id as well: another store's version 1 is another file.
    unique = _safe(str(version.source).rsplit("/", 1)[-1])
    folder = config.cache_dir() / "mlflow" / _safe(version.name) / f"v{version.version}-{unique}"
    if not folder.is_dir():
        _download(uri, f"models:/{version.name}/{version.version}", folder)
        _prune(folder.parent, keep=KEEP_VERSIONS)
    return _weights_in(folder, uri)


def _model_version(uri: str, name: str, alias: str | None, number: str | None):
    client = _client()
    try:
        return client.get_model_version(name, number) if number else client.get_model_version_by_alias(name, alias)
    except Exception as error:  # MlflowException, or the store's connection error
        raise WeightsNotFoundError(f"{uri}: not found in the MLflow registry at {_where()} ({_reason(error)}). "
                                   "Register the models with `python -m training.register`.") from None


def _download(uri: str, version_uri: str, folder: Path) -> None:
    """Copy the version's files into `folder` whole or not at all (a temporary sibling, then rename)."""
    mlflow = frameworks.mlflow()
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.partial.", dir=folder.parent))
    try:
        try:
            mlflow.artifacts.download_artifacts(artifact_uri=version_uri, dst_path=str(staging),
                                                tracking_uri=config.mlflow_tracking_uri())
        except Exception as error:  # the store's or the artifact repository's own errors
            raise WeightsNotFoundError(f"{uri}: its files could not be fetched from {_where()} "
                                       f"({_reason(error)}).") from None
        try:
            os.replace(staging, folder)
        except OSError:
            if not folder.is_dir():  # else another process renamed its copy first: theirs is as good
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _prune(model_folder: Path, keep: int) -> None:
    """Delete all but the `keep` most recently fetched versions (the cache stays bounded)."""
    fetched = sorted((p for p in model_folder.iterdir() if p.is_dir() and not p.name.startswith(".")),
                     key=lambda p: p.stat().st_mtime_ns, reverse=True)
    for old in fetched[keep:]:
        shutil.rmtree(old, ignore_errors=True)


def _weights_in(folder: Path, uri: str) -> Path:
    """The artifact the version's sidecar names (registered versions carry exactly one)."""
    artifacts = folder / "artifacts"
    sidecars = sorted(artifacts.glob("*.json"))
    if not sidecars:
        raise WeightsNotFoundError(f"{uri}: the registered version has no sidecar; register it with "
                                   "`python -m training.register`.")
    sidecar = json.loads(sidecars[0].read_text())
    return artifacts / sidecar.get("artifact", f"{sidecar['name']}.keras")


def sidecar_of(weights: Path) -> dict | None:
    """The sidecar registered beside a weights file fetched from the registry (None for other files)."""
    path = weights.with_suffix(".json")
    return json.loads(path.read_text()) if path.is_file() else None


def _client():
    return frameworks.mlflow().MlflowClient(tracking_uri=config.mlflow_tracking_uri())


def _where() -> str:
    return config.mlflow_tracking_uri()


def _reason(error: Exception) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text[:200]


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]", "_", name)
