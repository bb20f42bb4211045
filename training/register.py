"""Register the trained artifacts in models/ in the MLflow registry, each with the alias champion.

    python -m training.register                    # every artifact in models/
    python -m training.register --model cifar10_cnn
    python -m training.register --weights /tmp/run/cifar10_cnn.keras --source experiment

Idempotent: a file already registered (same sha256) is not registered again. A model without a
champion gets this version as its champion; a model that has one keeps it (a promoted retrained
model is not demoted by registering the committed file again: use training.promote for that).
Models trained before tracking existed get their recorded history, metrics, confusion matrix and
model card logged as the registering run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from core import config
from core.models.runtimes import file_digest
from core.models.weights import MODELS_DIR
from training import model_registry


def register_file(weights: Path, source: str = "committed") -> tuple[str, str, bool]:
    """(name, version, whether it was new); the version is champion if the model had none."""
    sidecar = json.loads(weights.with_suffix(".json").read_text())
    name = sidecar["name"]
    existing = model_registry.find_version(name, file_digest(weights))
    version = existing.version if existing else model_registry.register(
        weights, metrics_of(name), source, log_history=True).version
    if model_registry.alias_version(name, model_registry.CHAMPION) is None:
        model_registry.set_alias(name, model_registry.CHAMPION, version, f"first registered ({source} artifact)")
    return name, str(version), existing is None


def metrics_of(name: str) -> dict | None:
    path = config.METRICS_DIR / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def committed_artifacts(folder: Path = MODELS_DIR) -> list[Path]:
    return [folder / json.loads(path.read_text())["artifact"] for path in sorted(folder.glob("*.json"))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", help="an artifact's name in models/ (default: every one)")
    parser.add_argument("--weights", type=Path, action="append", help="a .keras file with its sidecar beside it")
    parser.add_argument("--source", default="committed", help="recorded with the version (committed, experiment, ...)")
    args = parser.parse_args(argv)
    paths = args.weights or [path for path in committed_artifacts() if not args.model or path.stem in args.model]
    for path in paths:
        name, version, new = register_file(path, args.source)
        champion = model_registry.alias_version(name, model_registry.CHAMPION)
        state = "registered as" if new else "already registered:"
        print(f"{name}: {state} version {version}; champion is version {champion.version} "
              f"({config.mlflow_tracking_uri()})", flush=True)


if __name__ == "__main__":
    main()
