"""Hyperparameter search with Optuna on a short proxy of the full training run.

    python -m training.tune --model cifar10_cnn --trials 20 [--minutes 60]
    python -m training.tune --model cifar10_cnn --trials 3 --proxy-per-class 30 --proxy-epochs 2   # smoke

TPE sampling (seeded) with median pruning on each epoch's validation accuracy. The proxy trains on a
stratified part of the training split and scores on a fixed part of the validation split; the test
set is never looked at. The study lives in optuna.db beside MLflow's database (see core.config for
why not inside it), so running the same command again resumes it; every trial is an MLflow child
run of the study's run. The first trial of a new study is the committed recipe, the baseline the
others must beat. The table of trials is written to assets/metrics/<model>_tuning.csv.

A proxy's ranking is only a hint: adopt its best configuration only when a full run
(`python -m training.train_cnn --lr ... --out /tmp/confirm`) beats the committed model.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import pandas as pd

from core import config, frameworks
from core.io import atomic
from core.io.datasets import stratified_split
from training import common, tracking, train_cnn
from training.cifar10 import Cifar10, load_cifar10

PROXY_PER_CLASS = 500  # 5,000 training images
PROXY_VAL_IMAGES = 2_000  # of the 5,000-image validation split
PROXY_EPOCHS = 4
SEED = 0
HEARTBEAT_S = 60


def cnn_space(trial) -> dict:
    """What matters for the CNN, in train_cnn's own argument names."""
    return {
        "lr": trial.suggest_float("lr", 0.2, 2.0, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 0.002, 0.03, log=True),
        "widths": trial.suggest_categorical("widths", ["64,128,128", "64,160,160"]),
        "label_smoothing": trial.suggest_float("label_smoothing", 0.0, 0.3),
        "batch_size": trial.suggest_categorical("batch_size", [256, 512, 1024]),
    }


def committed_recipe() -> dict:
    return {"lr": train_cnn.PEAK_LEARNING_RATE, "weight_decay": train_cnn.WEIGHT_DECAY, "widths": train_cnn.WIDTHS,
            "label_smoothing": train_cnn.LABEL_SMOOTHING, "batch_size": train_cnn.BATCH_SIZE}


def proxy_data(per_class: int, val_images: int) -> Cifar10:
    """A stratified part of the training split and of the validation split (seeded, so every trial
    and every resumed study sees the same images)."""
    full = load_cifar10()
    _, train = stratified_split(full.train, per_class * len(full.train.classes), SEED)
    _, val = stratified_split(full.val, val_images, SEED)
    return Cifar10(train, val, full.test, full.source)


def objective(data: Cifar10, args: argparse.Namespace, folder: Path):
    """One trial: a proxy training run as an MLflow child run; its best validation accuracy."""
    optuna = _optuna()

    def run_trial(trial) -> float:
        chosen = cnn_space(trial)
        epochs = trial.suggest_int("epochs", args.proxy_epochs, args.proxy_epochs + 2)
        settings = train_cnn.parse_args(["--out", str(folder), "--verbose", "0", "--epochs", str(epochs)])
        vars(settings).update(chosen)
        with tracking.run(args.model, f"trial {trial.number}", {**chosen, "epochs": epochs}, nested=True):
            common.seed_everything(SEED)
            start = time.perf_counter()
            try:
                _, history, _ = train_cnn.fit(settings, data, [tracking.epoch_logger(), pruning(trial)])
            except optuna.TrialPruned:
                tracking.mlflow().set_tag("optuna.state", "pruned")
                raise
            value = max(history.history["val_accuracy"])
            tracking.mlflow().log_metrics({"proxy_val_accuracy": value, "trial_seconds": time.perf_counter() - start})
            tracking.mlflow().set_tag("optuna.state", "complete")
        print(f"trial {trial.number}: val accuracy {value:.4f} with {chosen}, {epochs} epochs", flush=True)
        return value

    return run_trial


def pruning(trial):
    """A Keras callback reporting each epoch's validation accuracy to the trial and stopping the
    fit when the median rule prunes it."""
    keras, optuna = frameworks.keras(), _optuna()

    class Pruning(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            trial.report(float(logs["val_accuracy"]), epoch)
            if trial.should_prune():
                print(f"trial {trial.number}: pruned after epoch {epoch + 1}", flush=True)
                raise optuna.TrialPruned(f"epoch {epoch + 1}: {logs['val_accuracy']:.4f}")

    return Pruning()


def study(args: argparse.Namespace):
    optuna = _optuna()
    return optuna.create_study(
        study_name=f"{args.model}_proxy",
        # Heartbeats let a resumed study mark a trial whose process died (Ctrl-C, a lost machine)
        # as failed instead of leaving it "running" forever.
        storage=optuna.storages.RDBStorage(args.storage, heartbeat_interval=HEARTBEAT_S, grace_period=3 * HEARTBEAT_S),
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=SEED),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1),
        load_if_exists=True,
    )


def trials_table(found) -> pd.DataFrame:
    """One row per trial: number, state, proxy score, parameters and duration."""
    rows = []
    for trial in found.trials:
        seconds = (trial.datetime_complete - trial.datetime_start).total_seconds() if trial.datetime_complete else None
        rows.append({"trial": trial.number, "state": trial.state.name.lower(), "val_accuracy": trial.value,
                     "epochs_reported": len(trial.intermediate_values), **trial.params, "seconds": seconds})
    return pd.DataFrame(rows)


def table_path(model: str) -> Path:
    return config.METRICS_DIR / f"{model}_tuning.csv"


def write_table(table: pd.DataFrame, path: Path) -> None:
    atomic.write_text(path, table.to_csv(index=False, float_format="%.6g"))


def search(args: argparse.Namespace) -> pd.DataFrame:
    optuna = _optuna()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    found = study(args)
    if not found.trials:  # a new study starts from the committed recipe
        found.enqueue_trial({**committed_recipe(), "epochs": args.proxy_epochs})
    data = proxy_data(args.proxy_per_class, args.proxy_val_images)
    done = sum(trial.state.is_finished() for trial in found.trials)
    print(f"study {found.study_name} in {args.storage}: {done} trials so far; proxy {len(data.train)} "
          f"training and {len(data.val)} validation images", flush=True)
    params = {"proxy_per_class": args.proxy_per_class, "proxy_val_images": args.proxy_val_images,
              "proxy_epochs": args.proxy_epochs, "sampler": "TPE", "pruner": "median", "storage": args.storage}
    with tempfile.TemporaryDirectory() as folder, tracking.run(args.model, f"tune {found.study_name}", params,
                                                               {"optuna.study": found.study_name}):
        timeout = args.minutes * 60 if args.minutes else None
        found.optimize(objective(data, args, Path(folder)), n_trials=args.trials, timeout=timeout, catch=())
        table = trials_table(found)
        write_table(table, args.table)
        tracking.log_files(args.table)
        best = found.best_trial
        tracking.mlflow().log_metric("best_proxy_val_accuracy", best.value)
        tracking.mlflow().log_params({f"best.{key}": value for key, value in best.params.items()})
    print(f"best: trial {best.number}, val accuracy {best.value:.4f}, {best.params}; table {args.table}", flush=True)
    return table


def _optuna():
    import optuna

    return optuna


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="cifar10_cnn", choices=["cifar10_cnn"],
                        help="the model whose recipe is searched (the transfer model's runs do not fit this CPU yet)")
    parser.add_argument("--trials", type=int, default=20, help="trials to add to the study")
    parser.add_argument("--minutes", type=float, help="stop starting trials after this long")
    parser.add_argument("--proxy-per-class", type=int, default=PROXY_PER_CLASS)
    parser.add_argument("--proxy-val-images", type=int, default=PROXY_VAL_IMAGES)
    parser.add_argument("--proxy-epochs", type=int, default=PROXY_EPOCHS, help="the shortest proxy (trials pick up to 2 more)")
    parser.add_argument("--storage", default=f"sqlite:///{config.OPTUNA_DB}", help="Optuna's study database")
    parser.add_argument("--table", type=Path, help="where the trials table goes (default assets/metrics/<model>_tuning.csv)")
    args = parser.parse_args(argv)
    args.table = args.table or table_path(args.model)
    if args.trials < 1 or (args.minutes is not None and not math.isfinite(args.minutes)):
        parser.error("--trials must be at least 1 and --minutes a number")
    return args


def main(argv: list[str] | None = None) -> None:
    search(parse_args(argv))


if __name__ == "__main__":
    main()
