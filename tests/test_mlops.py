"""MLflow tracking, the model registry, promotion and rollback, Optuna tuning and gated retraining,
each against a real MLflow on a temporary SQLite store and the real committed models."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from core import config, service
from core.evaluation.model_card import model_card, wilson_interval
from core.models import mlflow_models
from core.models.weights import PROJECT_ROOT

SMOKE_CNN = ["--epochs", "2", "--limit-per-class", "30", "--widths", "8,16,16", "--batch-size", "64"]


@pytest.fixture
def store(tmp_path, monkeypatch) -> str:
    """A fresh, empty MLflow store for one test."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


@pytest.fixture
def registered(store, weights_dir) -> str:
    """The committed artifacts registered in the fresh store (champion = version 1)."""
    from training import register

    register.main([])
    return store


def _client():
    from training import tracking

    return tracking.mlflow().MlflowClient()


def _run(*arguments: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *arguments], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=timeout)


def test_a_training_run_logs_its_configuration_every_epoch_and_its_artifacts(store, data_dir, tmp_path):
    from training import train_cnn

    sidecar = train_cnn.train(train_cnn.parse_args([*SMOKE_CNN, "--out", str(tmp_path)]))
    client = _client()
    experiment = client.get_experiment_by_name("cifar10_cnn")
    [run] = client.search_runs([experiment.experiment_id])
    assert sidecar["training"]["mlflow_run_id"] == run.info.run_id  # the file leads back to its run
    assert run.data.params["lr"] == str(train_cnn.PEAK_LEARNING_RATE) and run.data.params["widths"] == "8,16,16"
    for metric in ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "epoch_seconds"):
        assert [m.step for m in client.get_metric_history(run.info.run_id, metric)] == [0, 1], metric
    assert run.data.metrics["final_test_accuracy"] == sidecar["training"]["test_accuracy"]
    tags = run.data.tags
    assert tags["provenance.data_digest"] == sidecar["training"]["provenance"].data_digest
    assert tags["provenance.git_commit"] and tags["software.keras"] and "cores" in tags["provenance.hardware"]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"artifact", "training_curves.png"} <= artifacts
    files = {a.path for a in client.list_artifacts(run.info.run_id, "artifact")}
    assert files == {"artifact/cifar10_cnn.keras", "artifact/cifar10_cnn.json"}
    assert (tmp_path / "mlruns").is_dir()  # a local store keeps its artifacts beside its database


def test_register_is_idempotent_and_the_champion_predicts_as_the_file_does(registered, photos):
    from training import register

    client = _client()
    for name in ("cifar10_cnn", "mobilenet_v2_cifar10"):
        [found] = client.search_model_versions(f"name = '{name}'")
        version = client.get_model_version(name, found.version)  # search results leave out the aliases
        assert version.aliases == ["champion"] and "## Metrics" in version.description
    register.main([])  # again: nothing new
    assert len(client.search_model_versions("name = 'cifar10_cnn'")) == 1
    [run] = client.search_runs([client.get_experiment_by_name("cifar10_cnn").experiment_id])
    logged = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"model_card.md", "metrics.json", "confusion_matrix.png", "training_curves.png"} <= logged  # the model
    # itself is an MLflow 3 "logged model" linked to the run, which the predictions below load
    assert len(client.get_metric_history(run.info.run_id, "val_accuracy")) == 14  # the committed run's epochs

    from_file = service.predict("cifar10_cnn", photos["cat"])
    from_registry = service.predict("cifar10_cnn", photos["cat"], weights="models:/cifar10_cnn@champion")
    assert from_registry.version == from_file.version  # the same bytes
    assert np.array_equal(from_registry.probabilities, from_file.probabilities)


def test_the_registered_pyfunc_model_gives_the_files_probabilities(registered, photos):
    from training import tracking

    model = tracking.mlflow().pyfunc.load_model("models:/cifar10_cnn@champion")
    table = model.predict(np.stack([photos["cat"][:300, :300], photos["dog"][:300, :300]]))
    expected = service.predict_many("cifar10_cnn", [photos["cat"][:300, :300], photos["dog"][:300, :300]])
    assert list(table.columns) == list(expected[0].classes)
    assert np.allclose(table.to_numpy(), np.stack([r.probabilities for r in expected]), atol=1e-5)


def test_the_alias_setting_serves_our_models_from_the_registry(registered, monkeypatch):
    monkeypatch.setenv(config.MLFLOW_ALIAS_ENV, "champion")
    info = {row.name: row for row in service.list_models()}
    assert "/mlflow/cifar10_cnn/v1-" in info["cifar10_cnn"].weights_path
    assert info["mobilenet_v2"].weights_path.endswith(".h5")  # pretrained models still come from files


def test_the_cli_predicts_from_the_registry_and_explains_a_missing_alias(registered, photo_paths):
    by_file = _run("core", "predict", "--model", "cifar10_cnn", "--json", str(photo_paths["cat"]))
    by_uri = _run("core", "predict", "--model", "cifar10_cnn", "--json", "--weights", "models:/cifar10_cnn@champion",
                  str(photo_paths["cat"]))
    assert by_uri.returncode == 0, by_uri.stderr[-2000:]
    assert json.loads(by_uri.stdout)["top_k"] == json.loads(by_file.stdout)["top_k"]
    missing = _run("core", "predict", "--model", "cifar10_cnn", "--weights", "models:/cifar10_cnn@nobody",
                   str(photo_paths["cat"]))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert "models:/cifar10_cnn@nobody: not found in the MLflow registry" in missing.stderr


def test_a_malformed_registry_uri_is_refused_with_the_forms_that_work():
    from core.errors import WeightsNotFoundError

    with pytest.raises(WeightsNotFoundError, match="models:/NAME@ALIAS or models:/NAME/VERSION"):
        mlflow_models.resolve("models:/cifar10_cnn@")


def test_promote_moves_the_alias_records_the_move_and_rolls_back(registered, tmp_path):
    from training import model_registry, register

    copy = tmp_path / "cifar10_cnn.keras"  # the same bytes elsewhere: not registered again
    copy.write_bytes((config.MODELS_DIR / "cifar10_cnn.keras").read_bytes())
    (tmp_path / "cifar10_cnn.json").write_text((config.MODELS_DIR / "cifar10_cnn.json").read_text())
    assert register.register_file(copy)[2] is False
    version = model_registry.register(copy, None, "experiment").version  # a second version, registered anyway

    moved = _run("training.promote", "cifar10_cnn", "--version", str(version), "--reason", "trying v2", "--by", "ci")
    assert moved.returncode == 0, moved.stderr[-2000:]
    assert model_registry.alias_version("cifar10_cnn", "champion").version == version
    back = _run("training.promote", "cifar10_cnn", "--version", "1", "--reason", "rollback")
    assert back.returncode == 0 and "from version 2 to 1" in back.stdout
    champion = model_registry.alias_version("cifar10_cnn", "champion")
    assert champion.version == 1 and champion.tags["champion.reason"] == "rollback"
    log = model_registry.alias_log("cifar10_cnn")
    assert [(r["previous"], r["version"], r["by"]) for r in log[1:]] == [("1", "2", "ci"), ("2", "1", log[2]["by"])]
    history = _run("training.promote", "cifar10_cnn", "--history")
    assert history.stdout.count("champion:") == 3
    nowhere = _run("training.promote", "cifar10_cnn", "--version", "9")
    assert nowhere.returncode == 2 and "Traceback" not in nowhere.stderr and "version 9" in nowhere.stderr


def test_the_model_card_has_the_sections_and_intervals():
    low, high = wilson_interval(0.8861, 10_000)
    assert round(low, 5) == 0.87972 and round(high, 5) == 0.89218  # the roots of (p - x)² = z²x(1 - x)/n
    sidecar = json.loads((config.MODELS_DIR / "cifar10_cnn.json").read_text())
    metrics = json.loads((config.METRICS_DIR / "cifar10_cnn.json").read_text())
    card = model_card(sidecar, metrics, "3")
    for section in ("Model details", "Intended use", "Factors", "Metrics", "Evaluation data", "Training data",
                    "Quantitative analyses", "Calibration", "Ethical considerations", "Caveats"):
        assert f"## {section}" in card, section
    assert "0.8861 (95% CI 0.8797–0.8922" in card and "JPEG re-encoded" in card and "Registry version:** 3" in card


@pytest.mark.slow
def test_retraining_refuses_a_worse_model_promotes_a_better_one_and_rollback_restores(registered, data_dir, tmp_path):
    from training import model_registry

    records = tmp_path / "decisions"
    smoke = ["--test-limit-per-class", "50", "--records", str(records), "--from", "scratch"]
    weak = _run("training.retrain", "--model", "cifar10_cnn", "--epochs", "1", "--limit-per-class", "40", *smoke)
    assert weak.returncode == 0, weak.stderr[-3000:]
    [record] = [json.loads(p.read_text()) for p in records.glob("*-cifar10_cnn.json")]
    assert record["decision"] == "rejected" and not record["gates"]["accuracy"]["passed"]
    assert model_registry.alias_version("cifar10_cnn", "champion").version == 1
    assert model_registry.alias_version("cifar10_cnn", "challenger").version == 2

    # Make the weak model the champion, then a longer run beats it and is promoted.
    assert _run("training.promote", "cifar10_cnn", "--version", "2", "--reason", "test").returncode == 0
    # Both smoke models are calibrated on 30-300 validation images, so their ECEs differ by chance
    # more than the default tolerance; this checks the accuracy gate's promotion.
    better = _run("training.retrain", "--model", "cifar10_cnn", "--epochs", "4", "--limit-per-class", "300",
                  "--ece-tolerance", "0.15", *smoke)
    assert better.returncode == 0, better.stderr[-3000:]
    latest = max(records.glob("*-cifar10_cnn.json"), key=lambda p: p.stat().st_mtime_ns)
    decision = json.loads(latest.read_text())
    assert decision["decision"] == "promoted", decision["gates"]
    assert decision["gates"]["accuracy"]["challenger"] > decision["gates"]["accuracy"]["champion"] + 0.1
    assert model_registry.alias_version("cifar10_cnn", "champion").version == 3
    assert _run("training.promote", "cifar10_cnn", "--version", "1", "--reason", "rollback").returncode == 0
    assert model_registry.alias_version("cifar10_cnn", "champion").version == 1


@pytest.mark.slow
def test_a_three_trial_study_lands_in_mlflow_as_child_runs_and_resumes(store, data_dir, tmp_path):
    storage, table = f"sqlite:///{tmp_path}/optuna.db", tmp_path / "tuning.csv"
    arguments = ["training.tune", "--trials", "3", "--proxy-per-class", "20", "--proxy-val-images", "200",
                 "--proxy-epochs", "1", "--storage", storage, "--table", str(table)]
    first = _run(*arguments)
    assert first.returncode == 0, first.stderr[-3000:]
    trials = pd.read_csv(table)
    assert list(trials["trial"]) == [0, 1, 2] and trials.loc[0, "lr"] == 0.75  # the committed recipe first
    assert set(trials["state"]) <= {"complete", "pruned"}
    client = _client()
    runs = client.search_runs([client.get_experiment_by_name("cifar10_cnn").experiment_id])
    [study] = [r for r in runs if r.info.run_name == "tune cifar10_cnn_proxy"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == study.info.run_id]
    assert sorted(r.info.run_name for r in children) == ["trial 0", "trial 1", "trial 2"]
    assert all(r.data.tags["optuna.state"] in ("complete", "pruned") for r in children)
    again = _run(*arguments[:2], "1", *arguments[3:])  # one more trial: the same study, resumed
    assert again.returncode == 0 and len(pd.read_csv(table)) == 4


@pytest.mark.slow
def test_retraining_fine_tunes_the_champion_on_new_labelled_data(registered, data_dir, tmp_path):
    from training import model_registry

    new = tmp_path / "new"
    for label in ("cat", "dog"):  # training images the one-epoch slice below does not reach
        (new / label).mkdir(parents=True)
        for path in sorted((data_dir / "cifar10" / "train" / label).glob("*.jpg"))[-5:]:
            (new / label / path.name).write_bytes(path.read_bytes())
    records = tmp_path / "decisions"
    run = _run("training.retrain", "--model", "cifar10_cnn", "--from", "champion", "--new-data", str(new),
               "--epochs", "1", "--limit-per-class", "30", "--test-limit-per-class", "30", "--records", str(records))
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"new data: 10 images from {new}" in run.stdout
    [record] = [json.loads(p.read_text()) for p in records.glob("*.json")]
    assert record["from"] == "champion" and record["new_data"] == str(new) and record["challenger_version"] == "2"
    assert record["decision"] in ("promoted", "rejected") and set(record["gates"]) == {"accuracy", "calibration", "latency"}
    assert model_registry.alias_version("cifar10_cnn", "challenger").version == 2

    (new / "unicorn").mkdir()
    (new / "unicorn" / "1.jpg").write_bytes((new / "cat" / sorted(p.name for p in (new / "cat").iterdir())[0]).read_bytes())
    refused = _run("training.retrain", "--model", "cifar10_cnn", "--new-data", str(new), "--records", str(records))
    assert refused.returncode != 0 and "unicorn" in refused.stderr and "Traceback" not in refused.stderr
