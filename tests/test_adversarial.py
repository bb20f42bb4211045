"""FGSM and PGD on the real CIFAR-10 classifier and real CIFAR-10 test images
(core.robustness.adversarial), their limits, and the robustness file's `adversarial` section."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core import service
from core.errors import InvalidOptionError
from core.robustness import adversarial
from core.robustness.adversarial import fgsm, pgd

MODEL = "cifar10_cnn"


@pytest.fixture(scope="module")
def cifar100(data_dir):
    """The first 10 CIFAR-10 test images of each class: 100 images, their labels."""
    from training.cifar10 import load_cifar10_test

    test, _ = load_cifar10_test(limit_per_class=10)
    return test.images, test.labels


@pytest.fixture(scope="module")
def cnn(weights_dir):
    return service.load(MODEL)


def accuracy(model, images, labels) -> float:
    return float((model.probabilities(images).argmax(axis=1) == labels).mean())


def test_fgsm_at_8_levels_costs_over_30_points_and_at_0_nothing(cnn, cifar100):
    images, labels = cifar100
    untouched = fgsm(cnn, images, labels, 0.0)
    assert untouched.dtype == np.uint8 and np.array_equal(untouched, images)
    assert np.array_equal(cnn.probabilities(untouched).argmax(1), cnn.probabilities(images).argmax(1))
    clean, attacked = accuracy(cnn, images, labels), accuracy(cnn, fgsm(cnn, images, labels, 8 / 255), labels)
    assert clean - attacked > 0.30, (clean, attacked)


@pytest.mark.slow
def test_pgd_is_at_least_as_strong_as_fgsm_and_seeded(cnn, cifar100):
    images, labels = cifar100
    epsilon = 2 / 255
    stepped = pgd(cnn, images, labels, epsilon, seed=0)
    assert accuracy(cnn, stepped, labels) <= accuracy(cnn, fgsm(cnn, images, labels, epsilon), labels)
    few, truth = images[:8], labels[:8]
    assert np.array_equal(pgd(cnn, few, truth, epsilon, seed=3), pgd(cnn, few, truth, epsilon, seed=3))


@pytest.mark.parametrize("attack, epsilon, levels", [
    ("fgsm", 1 / 255, 1), ("fgsm", 4 / 255, 4), ("pgd", 2 / 255, 2), ("pgd", 4 / 255, 4),
    ("pgd", 2.5 / 255, 2),  # a fractional ε: whole grey levels only, never more than ε
])
def test_the_rounded_perturbation_stays_within_epsilon(cnn, cifar100, attack, epsilon, levels):
    images, labels = cifar100[0][:16], cifar100[1][:16]
    attacked = adversarial.ATTACKS[attack](cnn, images, labels, epsilon)
    change = np.abs(attacked.astype(np.int16) - images.astype(np.int16))
    assert attacked.dtype == np.uint8 and attacked.shape == images.shape
    assert change.max() <= epsilon * 255 and change.max() == levels  # the full budget is used somewhere


@pytest.mark.parametrize("name, says", [
    ("yolo11n", "detector"), ("yolov8n", "detector"),
    ("cifar10_cnn-int8", "no gradients"), ("mobilenet_v2-int8", "attack its source model, mobilenet_v2"),
])
def test_detectors_and_int8_variants_cannot_be_attacked(name, says):
    with pytest.raises(InvalidOptionError, match=says):
        service.attack(name, np.zeros((32, 32, 3), np.uint8), 1 / 255)
    with pytest.raises(InvalidOptionError, match=says):
        adversarial.robust_accuracy(name, [np.zeros((32, 32, 3), np.uint8)], [0], (1 / 255,))


@pytest.mark.parametrize("options, says", [
    ({"epsilon": -0.1}, "epsilon must be"), ({"epsilon": 2.0}, "epsilon must be"), ({"epsilon": True}, "epsilon"),
    ({"epsilon": 0.01, "method": "cw"}, "method must be one of fgsm, pgd"),
    ({"epsilon": 0.01, "target": "unicorn"}, "'unicorn' is not a class"),
    ({"epsilon": 0.01, "target": 10}, "outside 0..9"),
])
def test_bad_attack_options_are_invalid_option_errors(weights_dir, options, says):
    with pytest.raises(InvalidOptionError, match=says):
        service.attack(MODEL, np.zeros((32, 32, 3), np.uint8), **options)


def test_attack_result_of_one_image(weights_dir, cifar100):
    images, labels = cifar100
    result = service.attack(MODEL, images[0], 8 / 255, "fgsm")
    assert result.clean_input.shape == result.adversarial.shape == (32, 32, 3)
    assert result.adversarial.dtype == np.uint8 and np.abs(result.perturbation).max() == 8
    assert result.clean.top.label == service.predict(MODEL, images[0]).top.label
    assert result.changed == (result.attacked.top.index != result.clean.top.index)


def test_a_targeted_attack_reaches_its_target(weights_dir, cifar100):
    images, labels = cifar100
    image = images[labels == 8][0]  # a ship, pushed towards "frog"
    result = service.attack(MODEL, image, 8 / 255, "pgd", target="frog")
    assert result.target == "frog" and result.attacked.top.label == "frog"


@pytest.mark.slow
def test_robust_accuracy_and_the_json_section(weights_dir, cifar100, tmp_path):
    from training.adversarial import merge_adversarial

    images, labels = cifar100[0][:40], cifar100[1][:40]
    found = adversarial.robust_accuracy(MODEL, images, labels, (0.0, 4 / 255), attack="fgsm")
    assert set(found) == {0.0, 4 / 255} and found[0.0]["images"] == 40
    assert found[4 / 255]["accuracy"] < found[0.0]["accuracy"]
    section = adversarial.adversarial_section(MODEL, images, labels, "40 CIFAR-10 test images", epsilons=(1 / 255,))
    assert section["clean_accuracy"] == round(found[0.0]["accuracy"], 4)
    row = section["results"][0]
    assert row["epsilon_255"] == 1 and row["pgd_accuracy"] <= row["fgsm_accuracy"] <= section["clean_accuracy"]
    (tmp_path / f"{MODEL}_robustness.json").write_text(json.dumps({"model": MODEL, "corruptions": {"kept": 1}}))
    merged = json.loads(merge_adversarial(MODEL, section, tmp_path).read_text())
    assert merged["corruptions"] == {"kept": 1} and merged["adversarial"] == section
