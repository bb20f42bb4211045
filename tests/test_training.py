"""Fast checks of the training code on small slices of the real CIFAR-10 (the full runs are not in CI)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from core.models.classifier import load_keras_classifier
from core.io.datasets import CIFAR10_CLASSES, load_image_folder
from core.models.registry import spec_from_sidecar
from core.results import Classification
from core.models.weights import PROJECT_ROOT
from training.cifar10 import load_cifar10

pytestmark = pytest.mark.slow  # trains real models (seconds to a minute each); the fast tier skips it


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


SMOKE_CNN_ARGS = ["--epochs", "1", "--limit-per-class", "30", "--widths", "8,16,16", "--batch-size", "64"]


@pytest.fixture(scope="module")
def smoke_cnn(data_dir, tmp_path_factory):
    """A CNN trained for one epoch on 270 real images: (folder with artifact and sidecar, sidecar)."""
    from training import train_cnn

    out = tmp_path_factory.mktemp("smoke_cnn")
    sidecar = train_cnn.train(train_cnn.parse_args([*SMOKE_CNN_ARGS, "--out", str(out)]))
    return out, sidecar


def test_one_epoch_smoke_training_writes_a_registered_artifact(smoke_cnn, monkeypatch, photos):
    folder, sidecar = smoke_cnn
    monkeypatch.setenv("VISION_RUNTIME", "native")  # no TFLite export of a throw-away model
    assert sidecar["training"]["epochs_run"] == 1 and len(sidecar["training"]["history"]["loss"]) == 1
    spec = spec_from_sidecar(folder / "cifar10_cnn.json")
    assert spec.labels == CIFAR10_CLASSES and spec.input_size == 32
    model = load_keras_classifier(spec, str(folder / "cifar10_cnn.keras"))
    result = model.predict(photos["dog"])
    assert isinstance(result, Classification) and result.model_input.shape == (32, 32, 3)
    assert abs(float(result.probabilities.sum()) - 1) < 1e-4
    pixels = result.model_input[None]  # the saved model averages the image and its mirror image
    assert np.allclose(model.probabilities(pixels[:, :, ::-1]), model.probabilities(pixels), atol=1e-6)
    assert model.model.get_layer("block3_out") is not None


def test_translation_averaging_matches_shifted_copies_of_the_image(small, tmp_path):
    """The saved model's mirror-and-translate averaging equals averaging its logits over the six
    views computed here with NumPy (reflect padding), and survives a save and load."""
    from core import frameworks
    from training.architectures import cifar_cnn, mirror_averaged, whitening_kernel

    keras = frameworks.keras()
    base = cifar_cnn(whitening_kernel(small.train.images[:200]), (8, 8, 8))
    served = mirror_averaged(base, translate=1)
    served.save(tmp_path / "tta.keras")
    loaded = keras.models.load_model(tmp_path / "tta.keras", compile=False)
    images = small.test.images[:8].astype(np.float32)
    to_logits = keras.Model(base.inputs, base.layers[-1].input)

    def both(views):  # the mean logits of the views and of their mirror images
        return (np.asarray(to_logits(views)) + np.asarray(to_logits(views[:, :, ::-1]))) / 2

    padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
    moved = [padded[:, 2:, 2:], padded[:, :-2, :-2]]  # towards the top left, towards the bottom right
    logits = both(images) / 2 + (both(moved[0]) + both(moved[1])) / 4
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert np.allclose(np.asarray(loaded(images)), expected, atol=1e-5)
    assert not np.allclose(np.asarray(mirror_averaged(base)(images)), expected, atol=1e-3)  # translation counts


def test_training_on_the_torch_backend_gives_a_model_tensorflow_serves(data_dir, tmp_path, photos, monkeypatch):
    """The GPU route (KERAS_BACKEND=torch), run on the CPU in a subprocess: its process imports
    TensorFlow too (tf.data), so this also guards the import order under that backend."""
    environment = {**os.environ, "KERAS_BACKEND": "torch"}
    command = [sys.executable, "-m", "training.train_cnn", *SMOKE_CNN_ARGS, "--out", str(tmp_path)]
    run = subprocess.run(command, cwd=PROJECT_ROOT, env=environment, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    monkeypatch.setenv("VISION_RUNTIME", "native")  # no TFLite export of a throw-away model
    spec = spec_from_sidecar(tmp_path / "cifar10_cnn.json")
    model = load_keras_classifier(spec, str(tmp_path / "cifar10_cnn.keras"))  # here: TensorFlow
    assert abs(float(model.predict(photos["dog"]).probabilities.sum()) - 1) < 1e-4


def test_calibration_keeps_every_prediction_and_lowers_the_validation_loss(smoke_cnn, tmp_path):
    from core import frameworks
    from training import calibrate

    shutil.copytree(smoke_cnn[0], tmp_path, dirs_exist_ok=True)  # the other tests keep the uncalibrated one

    def load():
        return frameworks.keras().saving.load_model(tmp_path / "cifar10_cnn.keras")

    images = load_cifar10(limit_per_class=30).test.images.astype(np.float32)
    before = load().predict(images, verbose=0)
    record = calibrate.calibrate("cifar10_cnn", tmp_path, limit_per_class=30)
    after = load().predict(images, verbose=0)
    assert (after.argmax(1) == before.argmax(1)).all() and not np.allclose(after, before)
    assert record["val_nll"][1] <= record["val_nll"][0] and record["val_images"] == 30
    assert json.loads((tmp_path / "cifar10_cnn.json").read_text())["calibration"] == record
    again = calibrate.calibrate("cifar10_cnn", tmp_path, limit_per_class=30)  # refits, does not stack
    assert again["temperature"] == pytest.approx(record["temperature"], rel=1e-3)
    assert [layer.name for layer in load().layers].count(calibrate.TEMPERATURE_LAYER) == 1


def test_distillation_targets_come_from_the_teacher_and_are_cached(small, tmp_path, monkeypatch):
    """The committed transfer model labels real training images once; the second call reads the
    cache; the mixed targets are distributions that lean towards the label and spread with temperature."""
    from training import distillation

    monkeypatch.setenv("VISION_CACHE_DIR", str(tmp_path))
    teacher = PROJECT_ROOT / "models" / "mobilenet_v2_cifar10.keras"
    soft = distillation.teacher_probabilities(teacher, small.train)
    assert soft.shape == (len(small.train), 10) and np.allclose(soft.sum(1), 1, atol=1e-4)
    assert distillation.agreement(soft, small.train.labels) > 0.85  # a 92.8% model on images it was trained on
    (cached,) = (tmp_path / "teacher").glob("*.npy")
    assert np.array_equal(distillation.teacher_probabilities(teacher, small.train), soft)
    cool = distillation.distilled_targets(small.train.labels, 10, soft, weight=0.5, temperature=1.0)
    warm = distillation.distilled_targets(small.train.labels, 10, soft, weight=0.5, temperature=4.0)
    assert np.allclose(cool.sum(1), 1) and np.allclose(warm.sum(1), 1)
    assert (cool.argmax(1) == small.train.labels).all()  # half the weight is on the label
    entropy = lambda p: -(p * np.log(np.clip(p, 1e-12, 1))).sum(1).mean()  # noqa: E731
    assert entropy(warm) > entropy(cool)
    cached.unlink()


def test_distilled_smoke_training_records_its_teacher(data_dir, tmp_path, monkeypatch):
    from training import train_cnn

    monkeypatch.setenv("VISION_CACHE_DIR", str(tmp_path / "cache"))
    teacher = PROJECT_ROOT / "models" / "mobilenet_v2_cifar10.keras"
    args = train_cnn.parse_args([*SMOKE_CNN_ARGS, "--out", str(tmp_path), "--teacher", str(teacher)])
    sidecar = train_cnn.train(args)
    assert sidecar["training"]["config"]["teacher"] == "models/mobilenet_v2_cifar10.keras"
    assert "distilled from mobilenet_v2_cifar10" in sidecar["description"]
    assert 0 < sidecar["training"]["test_accuracy"] <= 1


def test_lookahead_pulls_the_weights_to_their_trailing_average():
    """After each epoch the weights equal the callback's average, which trails the raw SGD weights."""
    from core import frameworks
    from training.optimisation import lookahead

    keras = frameworks.keras()
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 4)).astype(np.float32), rng.normal(size=(64, 1)).astype(np.float32)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    callback = lookahead(total_steps=16, steps_per_epoch=8, start_epoch=0, every=2)
    model.fit(x, y, batch_size=8, epochs=2, shuffle=False, callbacks=[callback], verbose=0)
    for weight, average in zip(model.weights, callback.average):
        assert np.allclose(keras.ops.convert_to_numpy(weight), average)
    plain = keras.models.clone_model(model)  # same start, no lookahead: ends elsewhere
    plain.set_weights([np.zeros_like(w) for w in model.get_weights()])
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    plain.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    plain.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    model.fit(x, y, batch_size=8, epochs=2, shuffle=False, callbacks=[callback], verbose=0)
    assert not np.allclose(model.get_weights()[0], plain.get_weights()[0])


def test_fit_temperature_recovers_a_known_temperature():
    """Labels drawn from softmax(z / 2.5): the fitted temperature is close to 2.5."""
    from training.calibrate import fit_temperature

    rng = np.random.default_rng(0)
    logits = rng.normal(0, 4, size=(20000, 10))
    probabilities = np.exp(logits / 2.5) / np.exp(logits / 2.5).sum(1, keepdims=True)
    labels = np.array([rng.choice(10, p=p) for p in probabilities])
    assert fit_temperature(logits, labels) == pytest.approx(2.5, rel=0.05)


def test_transfer_smoke_training_keeps_imagenet_features_and_registers(data_dir, weights_dir, tmp_path, monkeypatch, photos):
    from training import train_transfer

    monkeypatch.setenv("VISION_RUNTIME", "native")
    monkeypatch.setenv("VISION_CACHE_DIR", str(tmp_path / "cache"))
    args = ["--limit-per-class", "20", "--head-epochs", "1", "--fine-tune-epochs", "1", "--input-size", "96",
            "--feature-shift", "1", "--feature-mixup", "0.2", "--augmented-copies", "1", "--out", str(tmp_path),
            "--metrics-dir", str(tmp_path)]
    sidecar = train_transfer.train(train_transfer.parse_args(args))
    assert sidecar["training"]["phases"] == {"head_epochs": 1, "fine_tune_epochs": 1}
    assert sidecar["training"]["config"]["feature_shift"] == 1 and sidecar["training"]["config"]["feature_mixup"] == 0.2
    assert list((tmp_path / "cache" / "features").glob("*.npz"))  # the frozen bottom ran once, then cached
    model = load_keras_classifier(spec_from_sidecar(tmp_path / "mobilenet_v2_cifar10.json"),
                                  str(tmp_path / "mobilenet_v2_cifar10.keras"))
    assert model.model.get_layer("Conv_1") is not None  # flat graph: Grad-CAM reaches the layer by name
    assert model.model.get_layer("test_time_average") is not None  # the default recipe's translation averaging
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


def test_moving_the_feature_maps_is_moving_the_image(data_dir, weights_dir, small):
    """At block_2_add of the 128-px network a cell is one CIFAR-10 pixel: the maps of a moved image
    are the moved maps, away from the border (what features.random_shifts relies on)."""
    from training import features, train_transfer

    weights = features.resolve_no_top_weights(train_transfer.NO_TOP_WEIGHTS, None)
    bottom = features.submodel_from_input(train_transfer.build(weights, 128, 0.2), train_transfer.CUT_LAYER)
    images = small.test.images[:4].astype(np.float32)
    maps = bottom.predict(images, verbose=0)
    moved = bottom.predict(np.roll(images, (1, -1), axis=(1, 2)), verbose=0)
    inner = (slice(None), slice(6, -6), slice(6, -6))
    expected = np.roll(maps, (1, -1), axis=(1, 2))[inner]
    assert maps.shape[1:3] == (32, 32)
    assert np.abs(moved[inner] - expected).max() < 1e-3 * np.abs(expected).max()
    assert np.abs(maps[inner] - expected).max() > 0.1 * np.abs(expected).max()  # a move that shows


def test_random_shifts_move_each_map_by_at_most_the_shift():
    from training.features import random_shifts

    rng = np.random.default_rng(0)
    maps = rng.normal(size=(64, 8, 8, 3)).astype(np.float32)
    assert random_shifts(maps, 0, rng) is maps
    shifted = random_shifts(maps, 1, rng)
    assert shifted.shape == maps.shape
    offsets = []
    for original, moved in zip(maps, shifted):
        [offset] = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
                    if np.array_equal(np.roll(original, (dy, dx), axis=(0, 1))[1:-1, 1:-1], moved[1:-1, 1:-1])]
        offsets.append(offset)
    assert len(set(offsets)) == 9  # every move occurs in 64 draws


def test_mixup_blends_maps_and_targets_by_one_weight():
    from training.features import mixed

    rng = np.random.default_rng(0)
    count = 32
    maps = np.eye(count, dtype=np.float32).reshape(count, 1, 1, count)  # map i holds only i: mixes can be read
    targets = np.eye(10, dtype=np.float32)[rng.integers(0, 10, count)]
    kept_maps, kept_targets = mixed(maps, targets, 0.0, rng)
    assert kept_maps is maps and kept_targets is targets
    blended, soft = mixed(maps, targets, 0.4, rng)
    blended = blended.reshape(count, count)
    moved = [k for k in range(count) if blended[k, k] < 1]  # rows whose partner is another image
    weight = blended[moved[0], moved[0]]
    assert len(moved) > count // 2 and 0 < weight < 1
    partners = []
    for k in moved:
        others = blended[k].copy()
        others[k] = 0
        partner = int(others.argmax())
        partners.append(partner)
        assert blended[k, k] == pytest.approx(weight) and others[partner] == pytest.approx(1 - weight)
        assert np.allclose(soft[k], weight * targets[k] + (1 - weight) * targets[partner])
    assert len(set(partners)) == len(partners)  # a permutation: each image lends itself once
