"""What every training script shares: input pipelines, callbacks, and self-describing artifacts."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from core import config, frameworks
from core.config import MODELS_DIR, PROJECT_ROOT
from core.io import atomic
from core.io.datasets import LabelledImages


def seed_everything(seed: int) -> None:
    frameworks.keras().utils.set_random_seed(seed)


def batches(data: LabelledImages, batch_size: int, shuffle: bool, seed: int = 0, targets: np.ndarray | None = None):
    """A tf.data pipeline of (pixels as float32 0-255, one-hot label) batches (label smoothing
    needs one-hot labels); `targets` (N x classes) replaces the one-hot labels (distillation)."""
    tf = frameworks.tensorflow()
    classes = len(data.classes)
    labels = data.labels if targets is None else targets
    dataset = tf.data.Dataset.from_tensor_slices((data.images, labels))
    if shuffle:
        dataset = dataset.shuffle(len(data), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size, drop_remainder=shuffle)

    def convert(x, y):
        return tf.cast(x, tf.float32), (tf.one_hot(y, classes) if targets is None else y)

    return dataset.map(convert, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def evaluate(model, data: LabelledImages, batch_size: int = 500) -> tuple[float, float]:
    """Accuracy and mean cross-entropy of a probability-output model on `data`."""
    probabilities = predict_probabilities(model, data, batch_size)
    picked = probabilities[np.arange(len(data)), data.labels]
    accuracy = float((probabilities.argmax(axis=1) == data.labels).mean())
    return round(accuracy, 5), round(float(-np.log(np.clip(picked, 1e-12, 1.0)).mean()), 5)


def predict_probabilities(model, data: LabelledImages, batch_size: int = 500, verbose: int = 0) -> np.ndarray:
    return model.predict(batches(data, batch_size, shuffle=False).map(lambda x, y: x), verbose=verbose)


def training_model(model, augment):
    """The model with augmentation in front: the graph that trains; `model` alone is what we save."""
    keras = frameworks.keras()
    inputs = keras.Input(model.input_shape[1:], name="pixels")
    return keras.Model(inputs, model(augment(inputs)), name=f"{model.name}_training")


def epoch_timer():
    """A callback that adds each epoch's wall time and learning rate to the logs."""
    keras = frameworks.keras()

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            logs["epoch_seconds"] = time.perf_counter() - self.start
            learning_rate = self.model.optimizer.learning_rate
            logs["learning_rate"] = float(np.asarray(learning_rate))

    return Timer()


@dataclass
class Provenance:
    data_source: str
    data_digest: str
    train_images: int
    val_images: int
    hardware: str
    software: str
    git_commit: str
    started: str


def provenance(source: str, train: LabelledImages, val: LabelledImages) -> Provenance:
    keras = frameworks.keras()
    return Provenance(
        data_source=source,
        data_digest=train.digest(),
        train_images=len(train),
        val_images=len(val),
        hardware=hardware(),
        software=f"keras {keras.__version__} ({keras.backend.backend()} backend), python {platform.python_version()}",
        git_commit=git_commit(),
        started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )


def hardware() -> str:
    """CPU model and core count, plus the GPU when one is used."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    description = f"{cpu}, {os.cpu_count()} cores"
    if config.keras_backend() == "torch":
        torch = frameworks.torch()
        if torch.cuda.is_available():
            description += f", GPU {torch.cuda.get_device_name(0)}"
    return description


def git_commit() -> str:
    """The project's commit, with "-dirty" when tracked files differ from it (then the commit alone
    does not reproduce what ran)."""
    try:
        return subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=7", "--exclude=*"],
            cwd=PROJECT_ROOT, capture_output=True, text=True, check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def save_artifact(model, sidecar: dict, out_dir: Path = MODELS_DIR) -> Path:
    """Write <name>.keras and its JSON sidecar, which registers the model in core.models.registry.
    Each is written atomically: a save that is interrupted leaves the previous model in place."""
    name = sidecar["name"]
    path = out_dir / f"{name}.keras"
    with atomic.atomic_path(path) as staged:
        model.save(staged)
        size = staged.stat().st_size
    sidecar = {**sidecar, "artifact": path.name, "artifact_bytes": size}
    atomic.write_text(out_dir / f"{name}.json", json.dumps(sidecar, indent=2, default=_jsonable) + "\n")
    return path


def sidecar(args, model, history, data, provenance, wall_time: float, **describe) -> dict:
    """The JSON sidecar of a CIFAR-10 model: what the registry needs plus how it was trained and how
    it scored. `describe` gives title, description, gradcam_layer and script."""
    table = history_table(history)
    val_accuracy, val_loss = evaluate(model, data.val)
    test_accuracy, test_loss = evaluate(model, data.test)  # reported only, never used to choose
    return {
        "name": args.name,
        "title": describe["title"],
        "dataset": "CIFAR-10",
        "description": describe["description"],
        "labels": list(data.train.classes),
        "input_size": int(model.input_shape[1]),
        "resize": "stretch",
        "gradcam_layer": describe["gradcam_layer"],
        "training": {
            "script": describe["script"],
            "config": {k: (portable_path(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "provenance": provenance,
            "epochs_run": len(table["loss"]),
            "wall_time_s": round(wall_time, 1),
            "params": int(model.count_params()),
            "history": table,
            "val_accuracy": val_accuracy,
            "val_loss": val_loss,
            "test_accuracy": test_accuracy,
            "test_loss": test_loss,
        },
    }


def portable_path(path: Path) -> str:
    """A path relative to the project when it lies inside it, so no machine's path is recorded."""
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def history_table(history) -> dict[str, list[float]]:
    return {key: [float(v) for v in values] for key, values in history.history.items()}


def joined_history(*histories):
    """Several fit() histories as one, epoch after epoch (phases of one training run)."""
    keys = histories[0].history.keys()
    joined = {key: [v for h in histories for v in h.history.get(key, [])] for key in keys}
    return SimpleNamespace(history=joined)


def _jsonable(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    raise TypeError(f"Cannot write {type(value).__name__} to JSON.")
