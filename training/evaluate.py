"""Evaluate registered models on their labelled test sets -> assets/metrics/<model>.json.

    python -m training.evaluate                       # every model with a test set here
    python -m training.evaluate --model cifar10_cnn   # one model

ImageNet models use the 500-image sample in $VISION_DATA_DIR/imagenet-sample (probably ImageNet
training images: a sanity check, not a validation figure); CIFAR-10 models the 10,000 test images;
COCO detectors coco128 in $VISION_DATA_DIR/coco128 (Ultralytics' validator, checked by pycocotools).
The dashboard reads these files and never evaluates anything itself; a classifier's file records
its test set ("test_set": where image i of the evaluation is), so the dashboard can show the images
behind each confusion cell.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from core import REGISTRY, config, frameworks, load_image, service
from core.evaluation.detection import evaluate_yolo_folder
from core.evaluation.metrics import SCHEMA_VERSION, classification_metrics
from core.io import atomic
from core.io.datasets import CIFAR10_CLASSES, image_files_record
from core.models.runtimes import file_digest
from training import common, compare_variants, tracking
from training.cifar10 import data_dir, load_cifar10_test, recorded_test_split

METRICS_DIR = config.METRICS_DIR
IMAGENET_SAMPLE = "imagenet-sample"
BATCH = 64
LATENCY_RUNS = 50
THROUGHPUT_BATCH = 32


def test_set(name: str) -> tuple[list[np.ndarray] | np.ndarray, np.ndarray, str, dict] | None:
    """Images, labels, a description of the labelled set this model is evaluated on, and the
    record of where each image is (in evaluation order)."""
    spec = REGISTRY[name]
    if spec.labels == CIFAR10_CLASSES:
        test, source = load_cifar10_test()
        return test.images, test.labels, f"{source}: the 10,000 official test images", recorded_test_split(test)
    folder = data_dir() / IMAGENET_SAMPLE if data_dir() else None
    if spec.dataset == "ImageNet-1k" and folder is not None and folder.is_dir():
        with open(folder / "labels.csv", newline="") as stream:
            rows = list(csv.DictReader(stream))
        images = [load_image(folder / row["filename"]) for row in tqdm(rows, desc="decode", unit="img")]
        description = (f"ImageNet sample ({len(rows)} images, one per even class index; probably ImageNet "
                       "training images, so a sanity check rather than a validation figure)")
        record = image_files_record(IMAGENET_SAMPLE, [row["filename"] for row in rows])
        return images, np.array([int(row["class_index"]) for row in rows]), description, record
    return None


def evaluate(name: str) -> dict | None:
    if REGISTRY[name].task == "detect":
        return evaluate_detector(name)
    found = test_set(name)
    if found is None:
        print(f"{name}: no labelled test set here; skipped")
        return None
    images, labels, description, record = found
    model = service.load(name)
    probabilities = compare_variants.probabilities(name, images)
    variant_of = REGISTRY[name].variant_of
    report = {
        "schema_version": SCHEMA_VERSION,
        "model": name,
        "task": "classify",
        "dataset": description,
        "labels": list(model.labels),
        "classification": classification_metrics(labels, probabilities, model.labels),
        "performance": performance(name, images),
        "training": None if variant_of else _training_summary(model.weights),
        "provenance": _provenance(model.weights, _source_weights(name)),
        **({"variant": compare_variants.classifier_comparison(name, images, labels, probabilities)} if variant_of else {}),
        "test_set": record,  # last: its list of files is long
    }
    _write(report)
    c = report["classification"]
    print(f"{name}: accuracy {c['accuracy']:.4f}, macro-F1 {c['macro_f1']:.4f}, ECE {c['calibration']['ece']:.4f}")
    if variant_of:
        _print_variant(report["variant"], f"accuracy {c['accuracy']:.4f}")
    return report


def _print_variant(variant: dict, metric: str) -> None:
    change = (f"{variant['accuracy_change_points']:+.2f} points" if "accuracy_change_points" in variant
              else f"mAP50-95 {variant['map50_95_change']:+.4f}")
    print(f"  against {variant['of']}: {metric} ({change}), top-1 agreement {variant['agreement_top1']:.1%}, "
          f"latency p50 {variant['latency_p50_ms']:.2f} ms vs {variant['source_latency_p50_ms']:.2f} ms "
          f"({variant['latency_ratio']:.2f}x), size {variant['size_ratio']:.2f}x, "
          f"{variant['explanation_drift']['method']} maps' correlation {variant['explanation_drift']['mean_correlation']:.3f}")


def evaluate_detector(name: str) -> dict | None:
    folder = data_dir() / "coco128" if data_dir() else None
    if REGISTRY[name].dataset != "COCO 2017" or folder is None or not folder.is_dir():
        print(f"{name}: no labelled detection set here ({folder}); skipped")
        return None
    model = service.load(name)
    variant_of = REGISTRY[name].variant_of
    print(f"{name}: validating on {folder.name} (Ultralytics, then pycocotools)...", flush=True)
    # A variant is its served file; the PyTorch checkpoint of a source model is validated as before.
    detection = evaluate_yolo_folder(model.served_file if variant_of else model.weights, folder,
                                     dict(enumerate(model.labels)))
    images = [load_image(path) for path in sorted((folder / "images" / "train2017").glob("*.jpg"))[:LATENCY_RUNS]]
    variant = {}
    if variant_of:  # the source's served file, validated the same way in the same run
        source = service.load(variant_of)
        compared = evaluate_yolo_folder(source.served_file, folder, dict(enumerate(source.labels)))
        variant = {"variant": compare_variants.detector_comparison(name, detection, compared, images)}
    report = {
        "schema_version": SCHEMA_VERSION,
        "model": name,
        "task": "detect",
        "dataset": f"coco128 ({detection['images']} images, {detection['instances']} boxes; COCO train2017 images "
                   "that COCO-trained detectors have seen, so a sanity check rather than a validation figure)",
        "labels": list(model.labels),
        "detection": detection,
        "performance": detector_performance(name, images),
        "training": None,
        "provenance": _provenance(model.weights, _source_weights(name)),
        **variant,
    }
    _write(report)
    d, check = report["detection"], report["detection"]["cross_check"]
    print(f"{name}: mAP50-95 {d['map50_95']:.4f} (pycocotools {check['map50_95']:.4f}), mAP50 {d['map50']:.4f}")
    if variant:
        _print_variant(report["variant"], f"mAP50-95 {d['map50_95']:.4f}")
    return report


def detector_performance(name: str, images: list[np.ndarray]) -> dict:
    """Warm latency per image at the model's input size (the serving path), and images per second."""
    model = service.load(name)
    service.predict(name, images[0])
    latencies = [service.predict(name, image).latency_ms for image in images]
    checkpoint = service.load(REGISTRY[name].variant_of or name).weights  # a variant's: its source's
    network = frameworks.ultralytics().YOLO(str(checkpoint)).model
    return {
        "params": int(sum(p.numel() for p in network.parameters())),
        "size_bytes": model.weights.stat().st_size,
        "latency_p50_ms": round(float(np.percentile(latencies, 50)), 3),
        "latency_p95_ms": round(float(np.percentile(latencies, 95)), 3),
        "throughput_batch32_ips": None,  # detections run one image at a time here
        "throughput_ips": round(1000 * len(latencies) / sum(latencies), 1),
    }


def _source_weights(name: str) -> Path | None:
    source = REGISTRY[name].variant_of
    return service.load(source).weights if source else None


def _provenance(weights: Path, source: Path | None = None) -> dict:
    """Which file was evaluated (for a variant also the source weights it was built from), when, where."""
    return {
        "model_file": weights.name,
        "model_sha256": file_digest(weights),
        **({"source_model_file": source.name, "source_model_sha256": file_digest(source)} if source else {}),
        "git_commit": common.git_commit(),
        "evaluated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "hardware": common.hardware(),
    }


def _write(report: dict) -> None:
    """The metrics file, written atomically (the dashboard never reads half of one), and an MLflow
    run of the evaluation in the model's experiment."""
    path = METRICS_DIR / f"{report['model']}.json"
    atomic.write_text(path, json.dumps(report, indent=1) + "\n")
    provenance = report["provenance"]
    tags = {"model_sha256": provenance["model_sha256"], "script": "training/evaluate.py",
            **tracking.provenance_tags({key: provenance[key] for key in ("git_commit", "hardware")})}
    with tracking.run(report["model"], f"evaluate {report['model']}", {"dataset": report["dataset"]}, tags):
        tracking.log_evaluation(report["model"], report)


def performance(name: str, images) -> dict:
    """Warm latency at batch 1 (the serving path) and throughput at batch 32 on this machine, both
    of the model call itself (results' latency_ms: no decoding or resizing)."""
    model = service.load(name)
    for image in images[:5]:
        service.predict(name, image)
    latencies = [service.predict(name, images[i % len(images)]).latency_ms for i in range(LATENCY_RUNS)]
    batch = list(images[:THROUGHPUT_BATCH])
    service.predict_many(name, batch, batch_size=THROUGHPUT_BATCH)
    per_image_ms = [r.latency_ms for _ in range(5) for r in service.predict_many(name, batch, batch_size=len(batch))]
    throughput = 1000 / float(np.mean(per_image_ms))
    keras_model = service.load(REGISTRY[name].variant_of or name).model  # a variant has its source's weights
    return {
        "params": int(keras_model.count_params()),
        "size_bytes": model.weights.stat().st_size,
        "latency_p50_ms": round(float(np.percentile(latencies, 50)), 3),
        "latency_p95_ms": round(float(np.percentile(latencies, 95)), 3),
        "throughput_batch32_ips": round(throughput, 1),
    }


def _training_summary(weights: Path) -> dict | None:
    """What our own training script recorded in the artifact's sidecar (None for pretrained models)."""
    sidecar = weights.with_suffix(".json")
    if not sidecar.is_file():
        return None
    described = json.loads(sidecar.read_text())
    training = described.get("training", {})
    keep = ("history", "wall_time_s", "epochs_run", "val_accuracy", "config", "provenance")
    return {**{key: training[key] for key in keep if key in training}, "calibration": described.get("calibration")}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", help="a registered model (default: every one)")
    args = parser.parse_args(argv)
    frameworks.pool_cpu_memory()  # the transfer model's test set in 114 s instead of 162 (README: Training)
    frameworks.torch()  # Ultralytics' validator (PyTorch) runs after Keras models: PyTorch must come first
    for name in args.model or list(REGISTRY):
        evaluate(name)


if __name__ == "__main__":
    main()
