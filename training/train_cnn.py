"""Train the CIFAR-10 CNN from scratch -> models/cifar10_cnn.keras + models/cifar10_cnn.json.

    python -m training.train_cnn                   # the committed artifact's recipe
    python -m training.train_cnn --epochs 1 --limit-per-class 50 --out /tmp/smoke   # a smoke run

Runs on a CPU (the defaults take about 50 minutes on 2 cores) or, with KERAS_BACKEND=torch, on a GPU.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from core import frameworks
from core.weights import MODELS_DIR
from training import common
from training.architectures import augmentation, cifar_cnn, whitening_kernel
from training.cifar10 import load_cifar10

# -- settings (each one can be overridden on the command line) -----------------------------------
NAME = "cifar10_cnn"
WIDTHS = "64,256,256"  # channels of the three blocks, as in airbench94
DROPOUT = 0.0
EPOCHS = 10
BATCH_SIZE = 512
PEAK_LEARNING_RATE = 0.4  # SGD with Nesterov momentum, linear warm-up then cosine decay
WARMUP_EPOCHS = 2
WEIGHT_DECAY = 5e-3  # Keras decouples it (w -= lr * wd * w): like 5e-4 L2 through momentum 0.9
LABEL_SMOOTHING = 0.2
WHITENING_IMAGES = 5000  # training images whose 2x2 patches set the fixed first layer
EARLY_STOP_PATIENCE = 6  # epochs without a better validation accuracy
SEED = 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", default=WIDTHS, help="comma-separated channels per block")
    parser.add_argument("--dropout", type=float, default=DROPOUT)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--lr", type=float, default=PEAK_LEARNING_RATE, help="peak learning rate")
    parser.add_argument("--warmup-epochs", type=float, default=WARMUP_EPOCHS)
    parser.add_argument("--weight-decay", type=float, default=WEIGHT_DECAY)
    parser.add_argument("--label-smoothing", type=float, default=LABEL_SMOOTHING)
    parser.add_argument("--patience", type=int, default=EARLY_STOP_PATIENCE)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--limit-per-class", type=int, help="use only this many images per class (smoke runs)")
    parser.add_argument("--name", default=NAME, help="artifact name (and registry name)")
    parser.add_argument("--out", type=Path, default=MODELS_DIR, help="folder for the artifact and sidecar")
    return parser.parse_args(argv)


def train(args: argparse.Namespace) -> dict:
    """Train, keep the best epoch by validation accuracy, and write the artifact. Returns the sidecar."""
    keras = frameworks.keras()
    common.seed_everything(args.seed)
    data = load_cifar10(args.limit_per_class)
    print(f"data: {data.source}; train {len(data.train)}, val {len(data.val)}", flush=True)

    widths = tuple(int(w) for w in args.widths.split(","))
    model, served = cifar_cnn(whitening_kernel(data.train.images[:WHITENING_IMAGES]), widths, args.dropout)
    steps_per_epoch = len(data.train) // args.batch_size
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=args.lr / 20,
        decay_steps=max(1, int((args.epochs - args.warmup_epochs) * steps_per_epoch)),
        warmup_target=args.lr,
        warmup_steps=int(args.warmup_epochs * steps_per_epoch),
    )
    trainer = common.training_model(model, augmentation())
    trainer.compile(
        optimizer=keras.optimizers.SGD(schedule, momentum=0.9, nesterov=True, weight_decay=args.weight_decay),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=args.label_smoothing),
        metrics=["accuracy"],
    )
    best = args.out / f".{args.name}.best.weights.h5"
    args.out.mkdir(parents=True, exist_ok=True)
    callbacks = [
        common.epoch_timer(),
        keras.callbacks.ModelCheckpoint(best, monitor="val_accuracy", save_best_only=True, save_weights_only=True),
        keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=args.patience),
    ]
    provenance = common.provenance(data.source, data.train, data.val)
    start = time.perf_counter()
    history = trainer.fit(
        common.batches(data.train, args.batch_size, shuffle=True, seed=args.seed),
        validation_data=common.batches(data.val, args.batch_size, shuffle=False),
        epochs=args.epochs,
        callbacks=callbacks,
        verbose=2,
    )
    wall_time = time.perf_counter() - start
    trainer.load_weights(best)  # the best epoch, not the last
    best.unlink()
    sidecar = describe(args, served, history, data, provenance, wall_time)
    path = common.save_artifact(served, sidecar, args.out)
    print(f"saved {path} (val accuracy {sidecar['training']['val_accuracy']:.4f})", flush=True)
    return sidecar


def describe(args, model, history, data, provenance, wall_time: float) -> dict:
    return common.sidecar(
        args, model, history, data, provenance, wall_time,
        title="CNN from scratch (CIFAR-10)",
        description=f"Residual CNN with a whitening layer (airbench/ResNet-9 style), widths {args.widths}, "
        "trained from scratch on CIFAR-10 by training/train_cnn.py; averages the image and its mirror image.",
        gradcam_layer="block3_add",
        script="training/train_cnn.py",
    )


def main(argv: list[str] | None = None) -> None:
    train(parse_args(argv))


if __name__ == "__main__":
    main()
