"""Robust accuracy of the Keras classifiers under FGSM and PGD, into their robustness metrics file.

    python -m training.adversarial                          # every Keras classifier
    python -m training.adversarial cifar10_cnn --images 200 # one model, fewer images

Each model is attacked at ε = 1/255, 2/255 and 4/255 (core.robustness.adversarial) on a fixed
stratified set: the first 100 CIFAR-10 test images of each class (1,000), or an even spread of the
ImageNet sample for an ImageNet model. The figures go under the key `adversarial` of
assets/metrics/<model>_robustness.json: merged into the file training.robustness writes (its other
sections are kept), or a new file holding only this section. Written atomically.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

from core import config, frameworks
from core.io.atomic import write_text
from core.io.datasets import CIFAR10_CLASSES
from core.io.images import load_image
from core.models.registry import get_spec, model_names
from core.robustness.adversarial import adversarial_section

CIFAR_IMAGES = 1_000  # 100 per class
IMAGENET_IMAGES = 300  # of the 500-image sample: PGD at 224 px costs ~10x a CIFAR image
IMAGENET_SAMPLE = "imagenet-sample"


def metrics_path(name: str, folder: Path | None = None) -> Path:
    return (folder or config.METRICS_DIR) / f"{name}_robustness.json"


def test_images(name: str, count: int | None) -> tuple[np.ndarray | list, np.ndarray, str]:
    """Images, labels and a description of the fixed stratified set model `name` is attacked on."""
    spec = get_spec(name)
    if spec.labels == CIFAR10_CLASSES:
        from training.cifar10 import load_cifar10_test

        per_class = (count or CIFAR_IMAGES) // len(CIFAR10_CLASSES)
        test, source = load_cifar10_test(limit_per_class=per_class)
        return test.images, test.labels, f"{source}: the first {per_class} test images of each class"
    folder = config.data_dir() / IMAGENET_SAMPLE if config.data_dir() else None
    if folder is None or not (folder / "labels.csv").is_file():
        raise SystemExit(f"{name}: no ImageNet sample in {config.DATA_ENV}/{IMAGENET_SAMPLE}")
    with open(folder / "labels.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    # An even spread over the sample's classes (it holds one image per even class index)
    keep = np.unique(np.linspace(0, len(rows) - 1, min(count or IMAGENET_IMAGES, len(rows))).round().astype(int))
    chosen = [rows[i] for i in keep]
    images = [load_image(folder / row["filename"]) for row in chosen]
    labels = np.array([int(row["class_index"]) for row in chosen])
    return images, labels, f"ImageNet sample: {len(chosen)} of its {len(rows)} images, evenly spread over its classes"


def merge_adversarial(name: str, section: dict, folder: Path | None = None) -> Path:
    """Put `section` under "adversarial" in the model's robustness file (in `folder`, by default the
    project's metrics), keeping what else it holds."""
    path = metrics_path(name, folder)
    report = json.loads(path.read_text()) if path.is_file() else {"model": name}
    report["adversarial"] = section
    write_text(path, json.dumps(report, indent=1) + "\n")
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", help="default: every Keras classifier (variants have no gradients)")
    parser.add_argument("--images", type=int, default=None,
                        help=f"images per model (default {CIFAR_IMAGES} CIFAR-10, {IMAGENET_IMAGES} ImageNet)")
    parser.add_argument("--seed", type=int, default=0, help="PGD's random start")
    args = parser.parse_args(argv)
    frameworks.pool_cpu_memory()  # a fifth off the attacks, the same figures (README: Robustness)
    for name in args.models or model_names("classify", variants=False):
        images, labels, dataset = test_images(name, args.images)
        section = adversarial_section(name, images, labels, dataset, seed=args.seed)
        path = merge_adversarial(name, section)
        table = ", ".join(f"ε={row['epsilon_255']:g}/255 FGSM {row['fgsm_accuracy']:.1%} PGD {row['pgd_accuracy']:.1%}"
                          for row in section["results"])
        print(f"{name}: clean {section['clean_accuracy']:.1%} on {section['images']} images; {table}; "
              f"{section['wall_s']:.0f} s -> {path}")


if __name__ == "__main__":
    main()
