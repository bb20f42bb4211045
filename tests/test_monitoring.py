"""The prediction log and drift reports, on real models, real images and a real SQLite file."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import cv2
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from core import monitoring, service
from core.errors import ImageError, RequestError
from core.io.datasets import load_image_folder
from core.monitoring import alerts, queries, report, store

WINDOW = 300


@pytest.fixture(scope="module")
def cifar_test(data_dir):
    """The CIFAR-10 test set (the profile was built on the validation split: other images)."""
    return load_image_folder(data_dir / "cifar10" / "test")


def test_predictions_land_in_the_log_with_their_fields(any_log, photos):
    classified = service.predict("cifar10_cnn", photos["dog"], source="cli")
    detected = service.predict("yolo11n", photos["bus"], source="api")
    with pytest.raises(ImageError):
        service.predict("cifar10_cnn", b"not an image", source="app")
    assert monitoring.flush()
    rows = queries.window("cifar10_cnn", 10, errors=True)
    ok, failed = rows.iloc[0], rows.iloc[1]
    assert ok.prediction_id == classified.prediction_id and ok.source == "cli"
    assert ok.label == classified.top.label and ok.score == pytest.approx(classified.top.score)
    assert 0 < ok.entropy < np.log(10) and ok.version == classified.version
    assert (ok.height, ok.width) == photos["dog"].shape[:2] and ok.latency_ms > 0
    assert 0 < ok.brightness < 1 and 0 < ok.contrast < 1 and 0 < ok.saturation < 1 and ok.sharpness > 0
    assert len(np.frombuffer(ok.embedding, np.float32)) == 32  # the profile's projection
    assert failed.error == "invalid_image" and pd.isna(failed.label)
    box = queries.window("yolo11n", 1).iloc[0]
    assert box.boxes == len(detected) and box.label == detected.detections[0].label
    assert box.mean_box_score == pytest.approx(np.mean([d.score for d in detected.detections]))
    assert box.embedding is None
    with queries.engine().connect() as connection:  # no pixels unless the user opts in
        stored = connection.execute(sa.select(store.predictions.c.image).where(store.predictions.c.image.is_not(None)))
        assert stored.first() is None


def test_answers_and_failures_write_in_one_batch(any_log, photos):
    """The writer inserts many rows at once, and a failed request's row has fewer fields: CI once
    caught them in one batch ("A value is required for bind parameter 'label'")."""
    result = service.predict("cifar10_cnn", photos["dog"])  # no source: not logged by the service
    answer = monitoring.pending(result, photos["dog"])
    answer.row.update(prediction_id="a" * 32, created_at=1.0, source="cli", model=result.model,
                      version=result.version, latency_ms=1.0)
    failure = monitoring.writer.Pending({"prediction_id": "b" * 32, "created_at": 2.0, "source": "api",
                                         "model": "cifar10_cnn", "latency_ms": 1.0, "error": "invalid_image"})
    with queries.engine().begin() as connection:
        connection.execute(store.predictions.insert(), [monitoring.finish(answer), monitoring.finish(failure)])
    rows = queries.window("cifar10_cnn", 10, errors=True)
    assert list(rows.prediction_id) == ["a" * 32, "b" * 32]  # and both as "served" (the column's default)
    assert rows.label.iloc[0] == result.top.label and rows.version.iloc[1] == "" and pd.isna(rows.label.iloc[1])


def test_feedback_is_kept_and_checked(any_log, photos):
    result = service.predict("cifar10_cnn", photos["cat"], source="app")
    service.feedback(result.prediction_id, False, "cat", source="app")
    assert queries.feedback_accuracy("cifar10_cnn", 10) == (0.0, 1)
    with pytest.raises(RequestError, match="No logged prediction"):
        service.feedback("0" * 32, True)
    with pytest.raises(RequestError, match="no class 'unicorn'"):
        service.feedback(result.prediction_id, False, "unicorn")


def _corrupted(images: np.ndarray, kind: str, seed: int) -> np.ndarray:
    if kind == "dark":
        return (images.astype(np.float32) * 0.5).round().astype(np.uint8)
    if kind == "blur":
        return np.stack([cv2.GaussianBlur(image, (0, 0), 1.5) for image in images])
    noise = np.random.default_rng(seed).normal(0, 20, images.shape)
    return np.clip(images + noise, 0, 255).round().astype(np.uint8)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["cifar10_cnn", "mobilenet_v2_cifar10"])
def test_clean_windows_stay_quiet_and_corrupted_ones_raise_drift(fresh_log, cifar_test, name):
    """20 windows of 300 clean test images: at most one raises any alert (the shipped rules);
    darkened, blurred and noisy windows: the drift alert every time (the README's table)."""
    rules = alerts.load_rules()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(cifar_test))
    alarms = 0
    for start in range(0, 20 * WINDOW, WINDOW):
        images = cifar_test.images[order[start:start + WINDOW]]
        service.predict_many(name, list(images), source="cli")
        assert monitoring.flush(30)
        alarms += any(alert.firing for alert in alerts.evaluate(report.build(name, WINDOW), rules))
    assert alarms <= 1
    for kind in ("dark", "blur", "noise"):
        for window in range(3):
            images = cifar_test.images[order[window * WINDOW:(window + 1) * WINDOW]]
            service.predict_many(name, list(_corrupted(images, kind, window)), source="cli")
            assert monitoring.flush(30)
            found = report.build(name, WINDOW)
            fired = [alert.rule for alert in alerts.evaluate(found, rules) if alert.firing]
            assert found.drift and "drift" in fired, (kind, found.to_dict())
    noisy = [test for test in found.tests if test.feature == "sharpness"]
    assert noisy and noisy[0].drifted  # the last window is noisy: far "sharper" than the reference


def test_a_full_queue_or_a_dead_database_never_stops_predictions(monkeypatch, photos, caplog):
    """The database refuses connections: one clear message, predictions go on, drops are counted."""
    monkeypatch.setenv("VISION_MONITOR_DB", "postgresql://nobody@127.0.0.1:9/nothing")
    monkeypatch.setenv("VISION_MONITOR_QUEUE", "2")
    caplog.set_level(logging.WARNING, "core.monitoring")
    results = [service.predict("cifar10_cnn", photos["dog"], source="api") for _ in range(20)]
    assert all(result.top.label == results[0].top.label for result in results)
    log = monitoring.prediction_log()
    assert log.counts.dropped > 0 and log.counts.written == 0  # the writer holds a few, the queue 2
    assert log.counts.failed_writes >= 1
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 1 and "cannot write" in errors[0].getMessage() and "127.0.0.1:9" in errors[0].getMessage()


def test_cli_logs_when_asked_and_reports_json(tmp_path, photo_paths):
    environment = {**os.environ, "VISION_MONITOR_DB": str(tmp_path / "cli.db")}
    images = [str(photo_paths[stem]) for stem in ("dog", "cat", "bus")]
    run = subprocess.run([sys.executable, "-m", "core", "predict", "--model", "cifar10_cnn", "--log", "--json",
                          *images], capture_output=True, text=True, env=environment, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    ids = [json.loads(line)["prediction_id"] for line in run.stdout.splitlines()]
    assert len(set(ids)) == 3
    run = subprocess.run([sys.executable, "-m", "core", "monitor", "report", "--model", "cifar10_cnn", "--window",
                          "50", "--json"], capture_output=True, text=True, env=environment, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    body = json.loads(run.stdout)
    assert body["drift"] is False and body["records"] == 3 and body["tests"] == []
    assert "at least 30" in body["notes"][0]
