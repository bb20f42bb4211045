"""Channel pruning of the committed CIFAR-10 CNN (training/pruning.py), on real CIFAR-10 images."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core import config, frameworks
from training import prune_cnn, pruning
from training.cifar10 import load_cifar10


@pytest.fixture(scope="module")
def source():
    return frameworks.keras().saving.load_model(config.MODELS_DIR / "cifar10_cnn.keras", compile=False)


@pytest.fixture(scope="module")
def cifar():
    return load_cifar10(limit_per_class=30)


def logits(model, images: np.ndarray) -> np.ndarray:
    """The plain network's logits (one pass, no mirror), whatever form `model` is in."""
    keras = frameworks.keras()
    return keras.Model(model.inputs[0], model.get_layer("logits").output).predict(images.astype(np.float32), verbose=0)


def test_keeping_every_channel_copies_the_network_exactly(source, cifar):
    everything = {name: np.arange(source.get_layer(f"{name}_conv").filters) for name in pruning.conv_names()}
    copy = pruning.pruned_copy(source, everything)
    np.testing.assert_allclose(logits(copy, cifar.test.images), logits(source, cifar.test.images), atol=1e-4)


def test_pruning_equals_zeroing_what_reads_the_dropped_channels(source, cifar):
    kept = pruning.kept_channels(pruning.channel_scores(source, cifar.train.images), keep=0.75)
    pruned = pruning.pruned_copy(source, kept)
    assert pruning.widths(pruned) == (48, 96, 96)
    assert pruning.parameter_count(pruned) < 0.6 * pruning.parameter_count(source)
    zeroed = pruning.zeroed_copy(source, kept)
    np.testing.assert_allclose(logits(pruned, cifar.test.images), logits(zeroed, cifar.test.images), atol=1e-4)
    # and dropping channels changes the answers (the comparison above is not vacuous)
    assert np.abs(logits(zeroed, cifar.test.images) - logits(source, cifar.test.images)).max() > 0.1


def test_the_best_scored_channels_are_kept_in_their_order():
    scores = {"block1_a": np.array([0.1, 5.0, 0.2, 3.0]), "block1_b": np.array([1.0, 0.0, 2.0, 3.0])}
    kept = pruning.kept_channels(scores, keep=0.5)
    assert kept["block1_a"].tolist() == [1, 3]
    assert kept["block1_b"].tolist() == [2, 3]


def test_scores_rank_every_channel_of_every_convolution(source, cifar):
    scores = pruning.channel_scores(source, cifar.train.images[:100])
    assert list(scores) == pruning.conv_names()
    assert [len(s) for s in scores.values()] == [64, 64, 128, 128, 128, 128]
    assert all(np.all(s >= 0) and s.max() > 0 for s in scores.values())


@pytest.mark.parametrize("keep", ["0", "1.5", "-0.2"])
def test_a_keep_share_outside_0_to_1_is_refused(keep, capsys):
    with pytest.raises(SystemExit) as stopped:
        prune_cnn.parse_args(["--keep", keep])
    assert stopped.value.code == 2
    assert "--keep takes shares between 0 (exclusive) and 1" in capsys.readouterr().err


def test_the_committed_trial_is_of_the_committed_model_and_its_verdicts_follow_the_rule(source):
    """assets/metrics/cifar10_cnn_pruning.json (python -m training.prune_cnn): a retrained CNN makes
    it stale, and no pruned model is kept unless it is smaller or faster at the same accuracy."""
    report = json.loads((config.METRICS_DIR / "cifar10_cnn_pruning.json").read_text())
    sidecar = json.loads((config.MODELS_DIR / "cifar10_cnn.json").read_text())
    assert report["source_test_accuracy"] == sidecar["training"]["test_accuracy"]
    assert report["source_params"] == pruning.parameter_count(source)
    assert [trial["keep"] for trial in report["trials"]] == list(prune_cnn.KEEP)
    for trial in report["trials"]:
        change = round(100 * (trial["test_accuracy"] - report["source_test_accuracy"]), 2)
        assert trial["accuracy_change_points"] == change
        assert trial["kept"] == prune_cnn.kept(trial)
        assert trial["params"] < report["source_params"] and trial["size_ratio"] < 1
