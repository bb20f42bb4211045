"""Prune the CIFAR-10 CNN's channels, fine-tune briefly, and compare with the committed model.

    python -m training.prune_cnn                     # keep 75% and 50% of every convolution's channels
    python -m training.prune_cnn --keep 0.75 --epochs 1 --limit-per-class 50 --out /tmp/smoke

For each keep ratio: rank and remove channels (training/pruning.py), fine-tune with the training
recipe at a tenth of its learning rate, and measure against the source in the same run: test
accuracy (both mirror-averaged, as served), parameters, the FP32 TFLite file's size and its
single-image latency (the two files called alternately). The table goes to
assets/metrics/cifar10_cnn_pruning.json. A pruned model is kept (registered as a variant) only if
it is smaller or faster at the same accuracy; the pruned artifacts are written to `--out`, outside
the registry.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from core import config, frameworks
from core.io import atomic
from core.models.runtimes import TfliteRunner, cache_dir, export_tflite
from training import common, pruning, train_cnn
from training.architectures import augmentation, mirror_averaged
from training.cifar10 import load_cifar10

SOURCE = config.MODELS_DIR / "cifar10_cnn.keras"
KEEP = (0.75, 0.5)
EPOCHS = 3
LEARNING_RATE = 0.075  # a tenth of training's peak: the surviving weights are already good
SCORING_IMAGES = 2000  # training images whose activations rank the channels
LATENCY_RUNS = 300
SEED = 0
# "The same accuracy": at most this many points below the source on the 10,000 test images, about
# one standard error of an accuracy near 88% there (0.32 points)
SAME_ACCURACY_POINTS = 0.3


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--keep", type=float, action="append", help=f"share of channels kept (repeatable; {KEEP})")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--lr", type=float, default=LEARNING_RATE, help="peak learning rate of the fine-tuning")
    parser.add_argument("--batch-size", type=int, default=train_cnn.BATCH_SIZE)
    parser.add_argument("--limit-per-class", type=int, help="use only this many images per class (smoke runs)")
    parser.add_argument("--out", type=Path, default=cache_dir() / "pruning", help="folder for the pruned models")
    parser.add_argument("--metrics", type=Path, default=config.METRICS_DIR / "cifar10_cnn_pruning.json")
    args = parser.parse_args(argv)
    args.keep = args.keep or list(KEEP)
    if not all(0 < k <= 1 for k in args.keep):
        parser.error("--keep takes shares between 0 (exclusive) and 1")
    return args


def fine_tune(model, data, args) -> tuple[dict, float]:
    """train_cnn's optimiser and augmentation at `args.lr`, keeping the best epoch by validation
    accuracy. Returns the history and the wall time."""
    keras = frameworks.keras()
    batch_size = min(args.batch_size, len(data.train))
    total_steps = args.epochs * (len(data.train) // batch_size)
    trainer = common.training_model(model, augmentation())
    recipe = train_cnn.parse_args(["--lr", str(args.lr)])  # the training recipe at the fine-tuning's rate
    train_cnn.compile_trainer(trainer, model, recipe, total_steps)
    with tempfile.TemporaryDirectory() as scratch:
        best = Path(scratch) / "best.weights.h5"
        start = time.perf_counter()
        history = trainer.fit(
            common.batches(data.train, batch_size, shuffle=True, seed=SEED),
            validation_data=common.batches(data.val, batch_size, shuffle=False),
            epochs=args.epochs, verbose=2,
            callbacks=[common.epoch_timer(), keras.callbacks.ModelCheckpoint(
                best, monitor="val_accuracy", save_best_only=True, save_weights_only=True)],
        )
        wall_time = time.perf_counter() - start
        trainer.load_weights(best)
    return common.history_table(history), wall_time


def served_files(models: dict, folder: Path) -> dict[str, Path]:
    """Each served (mirror-averaged) model as the FP32 TFLite file single images go through."""
    paths = {}
    for name, model in models.items():
        paths[name] = folder / f"{name}.tflite"
        export_tflite(model, paths[name])
    return paths


def latencies(paths: dict[str, Path], images: np.ndarray) -> dict[str, float]:
    """Median single-image latency (ms) of each TFLite file, called in turn image by image."""
    runners = {name: TfliteRunner(path, 10) for name, path in paths.items()}
    times = {name: [] for name in paths}
    for i in range(LATENCY_RUNS + 10):  # the first 10 warm up
        one = images[i % len(images)][None].astype(np.float32)
        for name, run in runners.items():
            start = time.perf_counter()
            run(one)
            if i >= 10:
                times[name].append((time.perf_counter() - start) * 1000)
    return {name: round(float(np.median(t)), 3) for name, t in times.items()}


def trial(source, data, keep: float, args) -> tuple[dict, object]:
    """One keep ratio: prune, score before and after fine-tuning. Returns its row and the served model."""
    kept = pruning.kept_channels(pruning.channel_scores(source, data.train.images[:SCORING_IMAGES]), keep)
    pruned = pruning.pruned_copy(source, kept)
    before, _ = common.evaluate(mirror_averaged(pruned), data.test)
    print(f"keep {keep:.0%}: widths {pruning.widths(pruned)}, test accuracy before fine-tuning {before:.4f}",
          flush=True)
    history, wall_time = fine_tune(pruned, data, args)
    served = mirror_averaged(pruned)
    after, _ = common.evaluate(served, data.test)
    row = {"keep": keep, "widths": pruning.widths(pruned), "params": pruning.parameter_count(pruned),
           "test_accuracy_pruned": before, "test_accuracy": after, "fine_tune_epochs": args.epochs,
           "fine_tune_s": round(wall_time, 1), "val_accuracy": round(max(history["val_accuracy"]), 5)}
    return row, served


def compare(args: argparse.Namespace) -> dict:
    """Every keep ratio's trial, then the served files of all of them and the source timed side by
    side; each pruned model saved to `args.out`. Returns the report."""
    keras = frameworks.keras()
    common.seed_everything(SEED)
    data = load_cifar10(args.limit_per_class)
    source = keras.saving.load_model(args.source, compile=False)
    source_accuracy, _ = common.evaluate(source, data.test)
    rows, served = [], {"source": source}
    for keep in args.keep:
        row, served[f"keep_{keep:g}"] = trial(source, data, keep, args)
        rows.append(row)
    with tempfile.TemporaryDirectory() as scratch:
        paths = served_files(served, Path(scratch))
        speed = latencies(paths, data.test.images)
        sizes = {name: path.stat().st_size for name, path in paths.items()}
    for row in rows:
        name = f"keep_{row['keep']:g}"
        row.update(accuracy_change_points=round(100 * (row["test_accuracy"] - source_accuracy), 2),
                   size_bytes=sizes[name], size_ratio=round(sizes[name] / sizes["source"], 3),
                   latency_p50_ms=speed[name], latency_ratio=round(speed[name] / speed["source"], 3))
        row["kept"] = kept(row)
        common.save_artifact(served[name], _sidecar(row, args, data.train.classes), args.out)
    return {"source": common.portable_path(args.source), "source_test_accuracy": source_accuracy,
            "source_params": pruning.parameter_count(source), "source_size_bytes": sizes["source"],
            "source_latency_p50_ms": speed["source"], "latency_runs": LATENCY_RUNS,
            "same_accuracy_points": SAME_ACCURACY_POINTS, "hardware": common.hardware(),
            "git_commit": common.git_commit(), "trials": rows}


def kept(row: dict) -> bool:
    """The issue's rule: worth keeping only if smaller or faster at the same accuracy."""
    same_accuracy = row["accuracy_change_points"] >= -SAME_ACCURACY_POINTS
    return same_accuracy and (row["size_ratio"] < 1 or row["latency_ratio"] < 1)


def _sidecar(row: dict, args, labels) -> dict:
    """Enough for the registry to load the pruned model from a models folder, and how it was made."""
    return {"name": f"cifar10_cnn-pruned-{row['keep']:g}", "title": f"CNN, {row['keep']:.0%} of its channels",
            "dataset": "CIFAR-10", "labels": list(labels), "input_size": 32, "resize": "stretch",
            "gradcam_layer": "block3_out", "pruning": {**row, "source": common.portable_path(args.source)}}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    report = compare(args)
    atomic.write_text(args.metrics, json.dumps(report, indent=2) + "\n")
    import pandas as pd

    print(pd.DataFrame(report["trials"]).to_string(index=False))
    print(f"source: test accuracy {report['source_test_accuracy']:.4f}, {report['source_params']} parameters, "
          f"{report['source_size_bytes'] / 1e6:.2f} MB, {report['source_latency_p50_ms']:.3f} ms; wrote {args.metrics}")


if __name__ == "__main__":
    main()
