"""Temperature scaling (Guo et al., 2017) of our trained classifiers, fitted on the validation split.

    python -m training.calibrate                          # every artifact in models/
    python -m training.calibrate --model cifar10_cnn      # one

Trained with label smoothing, our models are under-confident: the probabilities they show users are
lower than how often they are right (an over-confident model is corrected the same way). One number,
the temperature T, divides the logits before the softmax; it is chosen to minimise the validation
loss, so the ranking of the classes, and with it every prediction and the accuracy, stays the same.
It becomes a layer (`temperature`) inside the saved model, and the sidecar records the fit.
Calibrating again replaces the layer instead of stacking a second one.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from core import frameworks
from core.evaluation.metrics import calibration
from core.io import atomic
from core.models.weights import MODELS_DIR
from training import common, tracking
from training.cifar10 import load_cifar10

TEMPERATURE_LAYER = "temperature"
TEMPERATURE_RANGE = (0.05, 20.0)


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The T > 0 minimising the mean cross-entropy of softmax(logits / T) (a 1-D convex problem in
    1/T, solved on log T)."""
    from scipy.optimize import minimize_scalar

    low, high = np.log(TEMPERATURE_RANGE)
    found = minimize_scalar(lambda log_t: _nll(logits / np.exp(log_t), labels), bounds=(low, high), method="bounded")
    return float(np.exp(found.x))


def logits_of(model):
    """The logits tensor of a model ending in Softmax: before its temperature layer, if it has one."""
    names = {layer.name for layer in model.layers}
    return model.get_layer(TEMPERATURE_LAYER).input if TEMPERATURE_LAYER in names else model.layers[-1].input


def with_temperature(model, temperature: float):
    """`model` with its logits divided by `temperature` before the softmax; every layer is shared."""
    keras = frameworks.keras()
    scaled = keras.layers.Rescaling(1 / temperature, name=TEMPERATURE_LAYER)(logits_of(model))
    return keras.Model(model.inputs, keras.layers.Softmax(name="probabilities")(scaled), name=model.name)


def calibrate(name: str, models_dir: Path, limit_per_class: int | None = None) -> dict:
    """Fit and apply the temperature of models_dir/<name>.keras; rewrite it and its sidecar."""
    keras = frameworks.keras()
    sidecar_path = models_dir / f"{name}.json"
    sidecar = json.loads(sidecar_path.read_text())
    path = models_dir / sidecar["artifact"]
    model = keras.saving.load_model(path, compile=False)
    val = load_cifar10(limit_per_class).val
    logits = keras.Model(model.inputs, logits_of(model)).predict(val.images.astype(np.float32), batch_size=500, verbose=0)
    temperature = fit_temperature(logits, val.labels)
    record = {
        "method": "temperature scaling, fitted on the validation split",
        "temperature": round(temperature, 4),
        "val_images": int(len(val)),
        "val_nll": [round(_nll(logits, val.labels), 5), round(_nll(logits / temperature, val.labels), 5)],
        "val_ece": [calibration(val.labels, _softmax(logits))["ece"],
                    calibration(val.labels, _softmax(logits / temperature))["ece"]],
        "git_commit": common.git_commit(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    with atomic.atomic_path(path) as staged:  # replaced in one step: never a half-written model
        with_temperature(model, temperature).save(staged)
    sidecar.update(calibration=record, artifact_bytes=path.stat().st_size)
    atomic.write_text(sidecar_path, json.dumps(sidecar, indent=2) + "\n")
    with tracking.run(name, f"calibrate {name}", {"method": record["method"], "val_images": record["val_images"]},
                      {"script": "training/calibrate.py", "provenance.git_commit": record["git_commit"]}):
        tracking.mlflow().log_metrics({"temperature": temperature, "val_nll_before": record["val_nll"][0],
                                       "val_nll_after": record["val_nll"][1], "val_ece_before": record["val_ece"][0],
                                       "val_ece_after": record["val_ece"][1]})
        tracking.log_files(path, sidecar_path, folder="artifact")
    print(f"{name}: temperature {record['temperature']}, validation NLL {record['val_nll'][0]} -> "
          f"{record['val_nll'][1]}, ECE {record['val_ece'][0]} -> {record['val_ece'][1]}", flush=True)
    return record


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _nll(logits: np.ndarray, labels: np.ndarray) -> float:
    return float(-np.log(np.clip(_softmax(logits)[np.arange(len(labels)), labels], 1e-12, 1)).mean())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", help="an artifact's name (default: every one in --models-dir)")
    parser.add_argument("--models-dir", type=Path, default=MODELS_DIR)
    parser.add_argument("--limit-per-class", type=int, help="use only this many images per class (smoke runs)")
    args = parser.parse_args(argv)
    for name in args.model or sorted(p.stem for p in args.models_dir.glob("*.json")):
        calibrate(name, args.models_dir, args.limit_per_class)


if __name__ == "__main__":
    main()
