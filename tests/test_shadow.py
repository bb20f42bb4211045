"""Champion and challenger on live traffic, for real: the committed CNN registered in a fresh
MLflow store with both aliases, an API server answering with the champion and running the
challenger in shadow after each response, and /monitor showing the pairs."""

from __future__ import annotations

import time

import httpx
import pytest
from test_pages import page

from core.api.process import api_server
from core.monitoring import queries


@pytest.fixture
def registry(tmp_path, monkeypatch, weights_dir) -> str:
    from training import model_registry, register

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    register.main(["--model", "cifar10_cnn"])
    model_registry.set_alias("cifar10_cnn", "challenger", "1", "the shadow test: the champion's own weights")
    return uri


def test_the_challenger_answers_in_shadow_and_monitor_shows_the_pairs(registry, fresh_log, tmp_path, photo_paths):
    settings = {"VISION_SHADOW_SHARE": "1", "MLFLOW_TRACKING_URI": registry}
    with api_server(["cifar10_cnn"], tmp_path / "server.log", settings) as url, httpx.Client(base_url=url) as api:
        served = []
        for stem in ("dog", "cat", "bus"):
            answer = api.post("/v1/models/cifar10_cnn/predict",
                              files={"file": (f"{stem}.jpg", photo_paths[stem].read_bytes())}, timeout=60)
            assert answer.status_code == 200, answer.text
            served.append(answer.json()[0])
        deadline = time.monotonic() + 120  # the server loads MLflow and the challenger on first use
        while len(pairs := queries.shadow_pairs("cifar10_cnn")) < 3:
            assert time.monotonic() < deadline, (tmp_path / "server.log").read_text()[-3000:]
            time.sleep(0.5)
    assert pairs["served_label"].tolist() == [row["top_k"][0]["label"] for row in served]
    assert pairs["agree"].all()  # the same weights under both aliases
    assert pairs["shadow_latency_ms"].gt(0).all()
    at = page("pages/monitor.py")
    assert not at.exception
    assert any("answered by both" in caption.value and "100.0%" in caption.value for caption in at.caption)
    assert len(at.get("plotly_chart")) == 6


def test_without_a_challenger_the_api_answers_and_says_so_once(tmp_path, monkeypatch, fresh_log, weights_dir,
                                                                photo_paths):
    from training import register

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    register.main(["--model", "cifar10_cnn"])  # a champion only
    log = tmp_path / "server.log"
    settings = {"VISION_SHADOW_SHARE": "1", "MLFLOW_TRACKING_URI": uri}
    with api_server(["cifar10_cnn"], log, settings) as url, httpx.Client(base_url=url, timeout=60) as api:
        for _ in range(3):
            answer = api.post("/v1/models/cifar10_cnn/predict", files={"file": ("dog.jpg",
                                                                                photo_paths["dog"].read_bytes())})
            assert answer.status_code == 200, answer.text
        deadline = time.monotonic() + 120
        while "no shadow predictions for cifar10_cnn" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
    assert log.read_text().count("no shadow predictions for cifar10_cnn") == 1
    assert queries.shadow_pairs("cifar10_cnn").empty


def test_a_bad_share_turns_shadowing_off_not_serving(monkeypatch, caplog, photos):
    from core import service
    from core.monitoring import shadow

    monkeypatch.setenv("VISION_SHADOW_SHARE", "lots")
    answer = service.predict("cifar10_cnn", photos["dog"], source="api")
    assert shadow.chosen("cifar10_cnn", [answer]) == []
    assert "VISION_SHADOW_SHARE='lots'" in caplog.text
