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


def test_augmentation_moves_whole_pixels_without_blurring(small):
    """Shifts and rotations pick existing pixels (no resampling blur the test images never have):
    on a black-and-white checkerboard, each channel keeps at most two values after colour jitter."""
    from training.architectures import augmentation

    board = (np.indices((32, 32)).sum(axis=0) % 2 * 255).astype(np.float32)
    batch = np.repeat(np.stack([board] * 3, axis=-1)[None], 16, axis=0)
    out = np.asarray(augmentation()(batch, training=True))
    distinct = [len(np.unique(out[i, ..., c])) for i in range(16) for c in range(3)]
    assert max(distinct) <= 2, distinct


def test_one_epoch_smoke_training_writes_a_registered_artifact(data_dir, tmp_path, monkeypatch, photos):
    from training import train_cnn

    monkeypatch.setenv("VISION_RUNTIME", "native")  # no TFLite export of a throw-away model
    sidecar = train_cnn.train(train_cnn.parse_args(
        ["--epochs", "1", "--limit-per-class", "30", "--widths", "8,16,16", "--batch-size", "64", "--out", str(tmp_path)]
    ))
    assert sidecar["training"]["epochs_run"] == 1 and len(sidecar["training"]["history"]["loss"]) == 1
    spec = spec_from_sidecar(tmp_path / "cifar10_cnn.json")
    assert spec.labels == CIFAR10_CLASSES and spec.input_size == 32
    model = load_keras_classifier(spec, str(tmp_path / "cifar10_cnn.keras"))
    result = model.predict(photos["dog"])
    assert isinstance(result, Classification) and result.model_input.shape == (32, 32, 3)
    assert abs(float(result.probabilities.sum()) - 1) < 1e-4
    pixels = result.model_input[None]  # the saved model averages the image and its mirror image
    assert np.allclose(model.probabilities(pixels[:, :, ::-1]), model.probabilities(pixels), atol=1e-6)
    assert model.model.get_layer("block3_out") is not None


def test_transfer_smoke_training_keeps_imagenet_features_and_registers(data_dir, weights_dir, tmp_path, monkeypatch, photos):
    from training import train_transfer

    monkeypatch.setenv("VISION_RUNTIME", "native")
    monkeypatch.setenv("VISION_CACHE_DIR", str(tmp_path / "cache"))
    args = ["--limit-per-class", "20", "--head-epochs", "1", "--fine-tune-epochs", "1", "--input-size", "96",
            "--out", str(tmp_path), "--metrics-dir", str(tmp_path)]
    sidecar = train_transfer.train(train_transfer.parse_args(args))
    assert sidecar["training"]["phases"] == {"head_epochs": 1, "fine_tune_epochs": 1}
    assert list((tmp_path / "cache" / "features").glob("*.npz"))  # the frozen bottom ran once, then cached
    model = load_keras_classifier(spec_from_sidecar(tmp_path / "mobilenet_v2_cifar10.json"),
                                  str(tmp_path / "mobilenet_v2_cifar10.keras"))
    assert model.model.get_layer("Conv_1") is not None  # flat graph: Grad-CAM reaches the layer by name
    batch_norms = [layer for layer in model.model.layers if type(layer).__name__ == "BatchNormalization"]
    assert batch_norms and not any(layer.trainable for layer in batch_norms)
    result = model.predict(photos["bus"])
    assert result.model_input.shape == (32, 32, 3) and abs(float(result.probabilities.sum()) - 1) < 1e-4


def test_transfer_bottom_is_untouched_by_fine_tuning(data_dir, weights_dir):
    """Everything at or below the cut layer keeps its ImageNet weights; only the top is unfrozen."""
    from training import features, train_transfer

    weights = features.resolve_no_top_weights(train_transfer.NO_TOP_WEIGHTS, None)
    model = train_transfer.build(weights, 96, 0.2)
    unfrozen = train_transfer.unfreeze_above(model, train_transfer.CUT_LAYER)
    names = [layer.name for layer in model.layers]
    cut = names.index(train_transfer.CUT_LAYER)
    assert unfrozen > 0 and not any(layer.trainable_weights for layer in model.layers[: cut + 1])
    assert all(not layer.trainable for layer in model.layers if type(layer).__name__ == "BatchNormalization")
