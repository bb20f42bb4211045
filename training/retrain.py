"""Retrain a model, and promote it only when it beats the champion on the fixed test set.

    python -m training.retrain --model cifar10_cnn --new-data FOLDER --from champion
    python -m training.retrain --model cifar10_cnn --from scratch
    python -m training.retrain --model cifar10_cnn --from scratch --epochs 1 --limit-per-class 100 \
        --test-limit-per-class 100 --records /tmp/decisions          # a smoke run

1. Train: `--from scratch` runs the model's own recipe; `--from champion` fine-tunes the champion at a
   low learning rate. Either way on the training split plus `--new-data` (a folder per class, with
   CIFAR-10's class names; images of any size are fitted to 32x32).
2. Calibrate its temperature on the validation split, as every served model is.
3. Register it as a new version with the alias `challenger`, in an MLflow run of its own.
4. Compare it with the champion on the same test images (training.gates): accuracy at least the
   champion's plus a margin, calibration error not worse by more than a tolerance, p50 latency at
   most 20% slower. Promote to `champion` only if every gate passes.
5. Write the decision record, assets/metrics/retraining/<timestamp>-<model>.json, and the same
   figures as tags on the run. Rollback: `python -m training.promote NAME --version OLD`.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from core import config, frameworks
from core.errors import VisionError
from core.io import atomic
from core.io.datasets import CIFAR10_CLASSES, LabelledImages, load_image_folder
from core.models import mlflow_models
from training import calibrate, common, gates, model_registry, optimisation, tracking, train_cnn
from training.architectures import augmentation
from training.cifar10 import Cifar10, load_cifar10, load_cifar10_test

FINE_TUNE_LEARNING_RATE = 0.02  # SGD: a few percent of the CNN's peak, so the champion bends, not breaks
FINE_TUNE_EPOCHS = 3
RECIPES = {"cifar10_cnn": train_cnn}  # --from scratch; the transfer model's recipe takes hours here


def training_data(limit_per_class: int | None, new_data: Path | None) -> Cifar10:
    """CIFAR-10's splits, with the new labelled images added to the training split only."""
    data = load_cifar10(limit_per_class)
    if new_data is None:
        return data
    extra = load_image_folder(new_data, size=32)  # its class folders were checked in parse_args
    labels = np.array([CIFAR10_CLASSES.index(extra.classes[i]) for i in extra.labels], np.int64)
    train = LabelledImages(np.concatenate([data.train.images, extra.images]),
                           np.concatenate([data.train.labels, labels]), data.train.classes)
    print(f"new data: {len(extra)} images from {new_data}", flush=True)
    return Cifar10(train, data.val, data.test, f"{data.source} + {new_data.name}")


def from_scratch(args, data: Cifar10, out: Path):
    recipe = RECIPES[args.model]
    settings = recipe.parse_args(["--out", str(out), "--name", args.model, "--seed", str(args.seed)]
                                 + (["--epochs", str(args.epochs)] if args.epochs else [])
                                 + shlex.split(args.recipe_args))
    tracking.mlflow().log_params(tracking.flatten({"recipe": vars(settings)}))
    provenance = common.provenance(data.source, data.train, data.val)  # before: it records the start
    served, history, wall_time = recipe.fit(settings, data, [tracking.epoch_logger()])
    return recipe.describe(settings, served, history, data, provenance, wall_time), served


def from_champion(args, data: Cifar10, champion: Path, out: Path):
    """Fine-tune the champion (the whole served graph) at a low learning rate with the augmentation."""
    keras = frameworks.keras()
    served = keras.saving.load_model(champion, compile=False)
    for layer in optimisation.all_layers(served):
        if isinstance(layer, keras.layers.BatchNormalization):
            # Inference mode: the statistics fitted on all the data stay (the transfer model's are
            # folded into its convolutions, and batch statistics of a small new set would wreck them).
            layer.trainable = False
    trainer = common.training_model(served, augmentation())
    trainer.compile(optimizer=keras.optimizers.SGD(args.lr, momentum=0.9, nesterov=True),
                    loss=keras.losses.CategoricalCrossentropy(), metrics=["accuracy"])
    batch = min(256, len(data.train))
    provenance = common.provenance(data.source, data.train, data.val)
    start = time.perf_counter()
    history = trainer.fit(common.batches(data.train, batch, shuffle=True, seed=args.seed),
                          validation_data=common.batches(data.val, batch, shuffle=False),
                          epochs=args.epochs or FINE_TUNE_EPOCHS, verbose=2,
                          callbacks=[common.epoch_timer(), tracking.epoch_logger()])
    previous = mlflow_models.sidecar_of(champion)
    described = common.sidecar(argparse.Namespace(**vars(args), name=args.model), served, history, data,
                               provenance, time.perf_counter() - start,
                               title=previous["title"], description=previous["description"] + " Fine-tuned by "
                               "training/retrain.py.", gradcam_layer=previous["gradcam_layer"],
                               script="training/retrain.py")
    return described, served


def retrain(args) -> dict:
    name = args.model
    champion = model_registry.alias_version(name, model_registry.CHAMPION)
    if champion is None:
        raise SystemExit(f"error: {name} has no champion in {config.mlflow_tracking_uri()}; register the "
                         "committed models first: python -m training.register")
    champion_file = mlflow_models.resolve(mlflow_models.champion_uri(name, model_registry.CHAMPION))
    common.seed_everything(args.seed)
    data = training_data(args.limit_per_class, args.new_data)
    test, _ = load_cifar10_test(args.test_limit_per_class)
    params = {"from": args.start, "new_data": str(args.new_data), "epochs": args.epochs, "recipe_args": args.recipe_args,
              "limit_per_class": args.limit_per_class, "champion_version": champion.version}
    with tempfile.TemporaryDirectory() as folder, tracking.run(name, f"retrain {name} from {args.start}", params,
                                                               {"script": "training/retrain.py"}) as run:
        out = Path(folder)
        described, served = (from_scratch(args, data, out) if args.start == "scratch"
                             else from_champion(args, data, champion_file, out))
        weights = common.save_artifact(served, tracking.linked(described, run), out)
        calibrate.calibrate(name, out, args.limit_per_class)
        challenger = model_registry.register(weights, None, "retrain")
        model_registry.set_alias(name, model_registry.CHALLENGER, challenger.version, f"retrained from {args.start}")
        result = gates.compare(name, champion_file, weights, test, args.thresholds)
        record = decide(name, str(champion.version), str(challenger.version), result, args, run.info.run_id)
        tracking.mlflow().set_tags({"decision": record["decision"], "gates": json.dumps(result["gates"])})
    return record


def portable_uri(uri: str) -> str:
    """A store's URI without this machine's paths (a project-relative SQLite path when it is one)."""
    if uri.startswith("sqlite:///"):
        return "sqlite:///" + common.portable_path(Path(uri.removeprefix("sqlite:///")))
    return uri


def decide(name: str, champion: str, challenger: str, result: dict, args, run_id: str) -> dict:
    for line in gates.describe(result):
        print(line, flush=True)
    decision = "promoted" if result["passed"] else "rejected"
    if result["passed"]:
        model_registry.set_alias(name, model_registry.CHAMPION, challenger,
                                 f"retrain passed every gate (accuracy {result['gates']['accuracy']['challenger']})")
    record = {"model": name, "decision": decision, "champion_version": champion, "challenger_version": challenger,
              "champion_after": challenger if result["passed"] else champion, **result,
              "from": args.start, "recipe_args": args.recipe_args,
              "new_data": str(args.new_data) if args.new_data else None,
              "mlflow_run_id": run_id, "tracking_uri": portable_uri(config.mlflow_tracking_uri()),
              "decided": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "rollback": f"python -m training.promote {name} --version {champion}"}
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = args.records / f"{stamp}-{name}.json"
    atomic.write_text(path, json.dumps(record, indent=2) + "\n")
    print(f"{name}: challenger version {challenger} {decision}; champion is version {record['champion_after']}; "
          f"record {path}", flush=True)
    return record


def new_data_problem(folder: Path) -> str | None:
    """Why `folder` cannot be new CIFAR-10 training data (checked before any data loads), or None."""
    if not folder.is_dir():
        return f"--new-data {folder}: not a folder"
    classes = sorted(path.name for path in folder.iterdir() if path.is_dir())
    unknown = [name for name in classes if name not in CIFAR10_CLASSES]
    if not classes or unknown:
        return (f"--new-data {folder}: needs one folder per class named after CIFAR-10's classes "
                f"({', '.join(CIFAR10_CLASSES)}); " + (f"not classes: {', '.join(unknown)}" if unknown else "it has none"))
    return None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, choices=sorted(RECIPES) + ["mobilenet_v2_cifar10"])
    parser.add_argument("--new-data", type=Path, help="a folder per class of new labelled images")
    parser.add_argument("--from", dest="start", choices=("champion", "scratch"), default="champion")
    parser.add_argument("--epochs", type=int, help=f"default: the recipe's (scratch) or {FINE_TUNE_EPOCHS} (champion)")
    parser.add_argument("--lr", type=float, default=FINE_TUNE_LEARNING_RATE, help="fine-tuning learning rate")
    parser.add_argument("--recipe-args", default="", help="--from scratch: settings for the recipe, e.g. "
                        "\"--lr 0.5 --weight-decay 0.01\" (a tuning study's best trial, to confirm it in a full run)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit-per-class", type=int, help="train on only this many images per class (smoke runs)")
    parser.add_argument("--test-limit-per-class", type=int, help="compare on only this many test images per class")
    parser.add_argument("--margin", type=float, default=gates.Thresholds.accuracy_margin * 100,
                        help="accuracy points the challenger must win by")
    parser.add_argument("--ece-tolerance", type=float, default=gates.Thresholds.ece_tolerance)
    parser.add_argument("--latency-ratio", type=float, default=gates.Thresholds.latency_ratio)
    parser.add_argument("--records", type=Path, default=config.RETRAINING_DIR, help="where decision records go")
    args = parser.parse_args(argv)
    if args.start == "scratch" and args.model not in RECIPES:
        parser.error(f"--from scratch: {args.model}'s recipe takes hours on a CPU; use training.train_transfer, "
                     "then training.register --weights, or --from champion")
    problem = new_data_problem(args.new_data) if args.new_data is not None else None
    if problem:
        parser.error(problem)
    args.thresholds = gates.Thresholds(args.margin / 100, args.ece_tolerance, args.latency_ratio)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        retrain(args)
    except VisionError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
