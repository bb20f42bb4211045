"""Fast checks of the training code on small slices of the real CIFAR-10 (the full runs are not in CI)."""

from __future__ import annotations

import numpy as np
import pytest

from core.classifier import load_keras_classifier
from core.datasets import CIFAR10_CLASSES, load_image_folder
from core.registry import spec_from_sidecar
from core.results import Classification
from training.cifar10 import load_cifar10


@pytest.fixture(scope="module")
def small(data_dir):
    return load_cifar10(limit_per_class=30)


def test_folder_loader_reads_a_slice(small):
    assert small.train.classes == CIFAR10_CLASSES
    assert len(small.train) + len(small.val) == 300 and len(small.test) == 300
    assert small.train.images.shape[1:] == (32, 32, 3) and small.train.images.dtype == np.uint8
    assert "JPEG" in small.source
    assert small.test.files[:2] == ("airplane/0000.jpg", "airplane/0001.jpg")  # a file's number is its rank


def test_folder_loader_takes_any_classes_and_sizes(tmp_path, photo_paths):
    from PIL import Image

    for name, stem in (("dogs", "dog"), ("vehicles", "bus")):
        (tmp_path / name).mkdir()
        Image.open(photo_paths[stem]).save(tmp_path / name / f"{stem}.png")
    data = load_image_folder(tmp_path, size=48)
    assert data.classes == ("dogs", "vehicles") and data.images.shape == (2, 48, 48, 3)
    assert list(data.labels) == [0, 1]


def test_split_is_deterministic_stratified_and_disjoint(data_dir):
    first, second = load_cifar10(limit_per_class=30), load_cifar10(limit_per_class=30)
    assert first.val.files == second.val.files and first.train.digest() == second.train.digest()
    assert not set(first.val.files) & set(first.train.files)
    assert np.bincount(first.val.labels).tolist() == [3] * 10


def test_augmentation_keeps_shapes_and_changes_pixels(small):
    from training.architectures import augmentation

    batch = small.train.images[:16].astype(np.float32)
    out = np.asarray(augmentation()(batch, training=True))
    assert out.shape == batch.shape and not np.allclose(out, batch)
    assert np.allclose(np.asarray(augmentation()(batch, training=False)), batch)  # off when serving


def test_one_epoch_smoke_training_writes_a_registered_artifact(data_dir, tmp_path, monkeypatch, photos):
    from training import train_cnn

    monkeypatch.setenv("VISION_RUNTIME", "native")  # no TFLite export of a throw-away model
    sidecar = train_cnn.train(train_cnn.parse_args(
        ["--epochs", "1", "--limit-per-class", "30", "--width", "8", "--batch-size", "64", "--out", str(tmp_path)]
    ))
    assert sidecar["training"]["epochs_run"] == 1 and len(sidecar["training"]["history"]["loss"]) == 1
    spec = spec_from_sidecar(tmp_path / "cifar10_cnn.json")
    assert spec.labels == CIFAR10_CLASSES and spec.input_size == 32
    model = load_keras_classifier(spec, str(tmp_path / "cifar10_cnn.keras"))
    result = model.predict(photos["dog"])
    assert isinstance(result, Classification) and result.model_input.shape == (32, 32, 3)
    assert abs(float(result.probabilities.sum()) - 1) < 1e-4
