"""Our committed artifacts: they load from models/, stay above their floor on the 10,000 test images
(their metrics file), and score within 2 points of that on a fixed slice of 1,000 test images."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core import REGISTRY, get_model
from core.io.datasets import CIFAR10_CLASSES
from core.models.weights import MODELS_DIR, PROJECT_ROOT
from training.cifar10 import load_cifar10_test

TRAINED = [name for name, spec in REGISTRY.items() if spec.framework == "keras-file"]
# Test accuracy a retrained artifact must not fall below: the training issue's goal where the
# committed artifact meets it (the transfer model's 0.925), else what it reaches, rounded down (the
# CNN's goal is 0.90; where it stands and why is in the README).
FLOORS = {"cifar10_cnn": 0.88, "mobilenet_v2_cifar10": 0.925}


@pytest.fixture(scope="module")
def test_slice(data_dir):
    test, _ = load_cifar10_test(limit_per_class=100)  # the first 100 test images of each class
    return test


@pytest.mark.slow
@pytest.mark.parametrize("name", TRAINED)
def test_accuracy_on_a_fixed_slice_matches_the_metrics_file(name, test_slice):
    model = get_model(name)
    assert model.weights.parent == MODELS_DIR and model.labels == CIFAR10_CLASSES
    pixels = np.stack([model.model_input(image) for image in test_slice.images])
    predicted = np.concatenate([model.probabilities(pixels[i : i + 250]).argmax(1) for i in range(0, 1000, 250)])
    accuracy = float((predicted == test_slice.labels).mean())
    reported = json.loads((PROJECT_ROOT / "assets" / "metrics" / f"{name}.json").read_text())["classification"]
    assert reported["accuracy"] >= FLOORS[name], f"{name}: {reported['accuracy']} is below {FLOORS[name]}"
    assert abs(accuracy - reported["accuracy"]) <= 0.02, (accuracy, reported["accuracy"])


@pytest.mark.parametrize("name", TRAINED)
def test_sidecar_describes_the_artifact(name):
    sidecar = json.loads((MODELS_DIR / f"{name}.json").read_text())
    training = sidecar["training"]
    assert training["provenance"]["data_digest"] and training["wall_time_s"] > 0
    assert len(training["history"]["val_accuracy"]) == training["epochs_run"]
    assert (MODELS_DIR / sidecar["artifact"]).stat().st_size < 25 * 1024 * 1024
