"""Alert rules for real: windows of real CIFAR-10 test images in a real SQLite log, judged by
`python -m core monitor check` and by an API server's periodic check, posting to a local HTTP
server that stands in for a Slack webhook."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import numpy as np
import pytest

from core import monitoring, service
from core.api.metrics import metric_value
from core.api.process import api_server, free_port
from core.errors import ConfigError
from core.io.datasets import load_image_folder
from core.monitoring import alerts, checks

WINDOW = 60


@pytest.fixture
def webhook():
    """A local HTTP server keeping each JSON body posted to it; yields (url, bodies)."""
    bodies: list[dict] = []

    class Keep(BaseHTTPRequestHandler):
        def do_POST(self):
            bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Keep)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/alerts", bodies
    server.shutdown()


@pytest.fixture(scope="module")
def test_images(data_dir):
    images = load_image_folder(data_dir / "cifar10" / "test").images
    return images[np.random.default_rng(1).permutation(len(images))[:WINDOW]]


def test_the_shipped_rules_load_and_a_typo_is_refused(tmp_path):
    rules = alerts.load_rules()
    assert rules.drift["min_features"] == 2 and rules.latency_limit("cifar10_cnn") < rules.latency_limit("yolo11n")
    typo = tmp_path / "rules.toml"
    typo.write_text("[drift]\nmin_featurs = 3\n")
    with pytest.raises(ConfigError, match="unknown settings: drift.min_featurs"):
        alerts.load_rules(typo)
    typo.write_text("drift = 3\n")
    with pytest.raises(ConfigError, match="drift is a section"):
        alerts.load_rules(typo)
    typo.write_text("window = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        alerts.load_rules(typo)


def test_drift_fires_once_posts_the_webhook_and_resolves(any_log, tmp_path, webhook, monkeypatch, test_images):
    url, bodies = webhook
    rules_file = tmp_path / "rules.toml"
    rules_file.write_text(f"window = {WINDOW}\n")
    dark = (test_images.astype(np.float32) * 0.5).round().astype(np.uint8)
    service.predict_many("cifar10_cnn", list(dark), source="api")
    assert monitoring.flush()
    environment = {**os.environ, "VISION_ALERT_WEBHOOK": url}
    command = [sys.executable, "-m", "core", "monitor", "check", "--rules", str(rules_file), "--json"]
    run = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=300, check=False)
    assert run.returncode == 1, run.stderr
    printed = json.loads(run.stdout)
    assert printed["firing"] and "drift" in [alert["rule"] for alert in printed["alerts"] if alert["firing"]]
    assert len(bodies) == 1 and set(bodies[0]) == {"text", "alerts"}
    posted = {alert["rule"]: alert for alert in bodies[0]["alerts"]}
    assert posted["drift"]["state"] == "firing" and posted["drift"]["model"] == "cifar10_cnn"
    assert "python -m training.retrain --model cifar10_cnn" in posted["drift"]["action"]
    assert "[FIRING] cifar10_cnn drift:" in bodies[0]["text"] and "darker" in bodies[0]["text"]

    monkeypatch.setenv("VISION_ALERT_WEBHOOK", url)
    rules = alerts.load_rules(rules_file)
    again = checks.check(rules=rules)  # still firing: deduplicated, nothing stored or posted
    assert "drift" in [alert.rule for alert in again.firing] and again.changes == [] and len(bodies) == 1

    service.predict_many("cifar10_cnn", list(test_images), source="api")
    assert monitoring.flush()
    resolved = checks.check(rules=rules)
    assert "drift" not in [alert.rule for alert in resolved.firing]
    assert len(bodies) == 2 and "drift" in [a["rule"] for a in bodies[1]["alerts"] if a["state"] == "resolved"]
    stored = [(row["rule"], row["state"], row["notified"]) for row in checks.history() if row["rule"] == "drift"]
    assert stored == [("drift", "resolved", True), ("drift", "firing", True)]


def test_the_api_checks_on_its_own_and_shows_alerts_on_metrics(fresh_log, tmp_path, webhook):
    """Failed requests above the rules' share: the server's own check posts them and sets the gauge."""
    url, bodies = webhook
    settings = {"VISION_MONITOR_CHECK_S": "1", "VISION_ALERT_WEBHOOK": url}
    with api_server(["cifar10_cnn"], tmp_path / "server.log", settings) as base, httpx.Client(base_url=base) as api:
        for number in range(25):
            answer = api.post("/v1/models/cifar10_cnn/predict", files={"file": (f"{number}.jpg", b"not a picture")})
            assert answer.status_code == 400
        deadline = time.monotonic() + 30
        while not metric_value(api.get("/metrics").text, "vision_alert_firing", rule="errors", model="cifar10_cnn"):
            assert time.monotonic() < deadline, (tmp_path / "server.log").read_text()[-2000:]
            time.sleep(0.2)
    errors = [alert for body in bodies for alert in body["alerts"] if alert["rule"] == "errors"]
    assert errors and errors[0]["state"] == "firing" and errors[0]["value"] == 1.0
    assert "100.0% of the latest 25 requests failed" in errors[0]["message"]


def test_an_alert_the_webhook_missed_is_posted_at_the_next_check(fresh_log, webhook, monkeypatch, test_images):
    url, bodies = webhook
    dark = (test_images.astype(np.float32) * 0.5).round().astype(np.uint8)
    service.predict_many("cifar10_cnn", list(dark), source="api")
    assert monitoring.flush()
    rules = alerts.load_rules()
    monkeypatch.setenv("VISION_ALERT_WEBHOOK", f"http://127.0.0.1:{free_port()}/services/T0/B0/secret-token")
    missed = checks.check(rules=rules)
    assert "drift" in [change.alert.rule for change in missed.changes]
    assert "127.0.0.1" in missed.webhook_error and "secret-token" not in missed.webhook_error
    monkeypatch.setenv("VISION_ALERT_WEBHOOK", url)
    checks.check(rules=rules)
    assert len(bodies) == 1 and "drift" in [alert["rule"] for alert in bodies[0]["alerts"]]
    checks.check(rules=rules)
    assert len(bodies) == 1  # posted now: deduplicated again
