"""The Docker image, built and run for real with podman: the app and the API start, pass their
health checks, answer, run as a user without privileges, stop at once on SIGTERM, and say which
weights are missing when none are mounted.

Needs root and Debian's podman, which ../shared/tools/container-setup.sh installs and configures
(with a local stand-in for python:3.11-slim: no registry is reachable here). In CI a missing
podman is a failure; elsewhere these tests skip. The image is built in the background from the start
of the session (tests/container_build.py) and cached by podman between runs on one machine; its
time is printed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import container_build
import httpx
import pytest
import yaml
from browser_harness import CHROMIUM, CHROMIUM_FLAGS, require_chromium

from core.api.process import free_port
from core.config import PROJECT_ROOT

pytestmark = pytest.mark.slow

IMAGE = container_build.IMAGE
HEALTHY_WITHIN_S = 300  # TensorFlow's import and the first model loads, with the build's caches cold
USER_ID = "1000"


def _podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)
    if check and done.returncode:
        raise AssertionError(f"podman {' '.join(args)} failed ({done.returncode}): {done.stderr[-3000:]}")
    return done


@pytest.fixture(scope="module")
def image() -> str:
    if not container_build.possible():
        if os.environ.get("CI"):
            pytest.fail(f"the container tests need root and {container_build.SETUP}")
        pytest.skip("the container tests need root and ../shared/tools/container-setup.sh")
    waited = time.monotonic()
    build = container_build.wait()  # started in the background when the session began (conftest.py)
    assert build.ok, build.failure
    size = int(_podman("image", "inspect", IMAGE, "--format", "{{.Size}}").stdout)
    print(f"\nset-up and podman build took {build.seconds:.0f} s in the background (the tests waited "
          f"{time.monotonic() - waited:.0f} s); the image is {size / 1e9:.2f} GB")
    return IMAGE


class Container:
    """A container of the image, removed on close; `url` is its published port on 127.0.0.1."""

    def __init__(self, image: str, port: int, *command: str, weights: Path | None = None,
                 environment: dict[str, str] | None = None):
        self.name = f"vision-test-{uuid.uuid4().hex[:8]}"
        self.host_port = free_port()
        self.url = f"http://127.0.0.1:{self.host_port}"
        mounts = ["-v", f"{weights}:/weights:ro"] if weights else []
        variables = [flag for key, value in (environment or {}).items() for flag in ("-e", f"{key}={value}")]
        _podman("run", "-d", "--init", "--name", self.name, "-p", f"127.0.0.1:{self.host_port}:{port}", *mounts,
                *variables, image, *command)

    def wait_until_healthy(self) -> float:
        start = time.monotonic()
        while time.monotonic() - start < HEALTHY_WITHIN_S:
            if _podman("healthcheck", "run", self.name, check=False, timeout=30).returncode == 0:
                return time.monotonic() - start
            state = _podman("inspect", self.name, "--format", "{{.State.Status}}").stdout.strip()
            assert state == "running", f"the container stopped ({state}): {self.logs()}"
            time.sleep(2)
        raise AssertionError(f"not healthy within {HEALTHY_WITHIN_S} s: {self.logs()}")

    def logs(self) -> str:
        done = _podman("logs", self.name, check=False)
        return re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)[-3000:]

    def stop_seconds(self) -> float:
        start = time.monotonic()
        _podman("stop", "-t", "30", self.name)
        return time.monotonic() - start

    def close(self) -> None:
        _podman("rm", "-f", self.name, check=False)


@pytest.fixture
def containers():
    started: list[Container] = []
    yield started.append
    for container in started:
        container.close()


def test_the_app_container_is_healthy_predicts_and_stops_at_once(image, containers, weights_dir):
    app = Container(image, 8501, weights=weights_dir)
    containers(app)
    print(f"the app container was healthy after {app.wait_until_healthy():.0f} s")
    assert httpx.get(f"{app.url}/_stcore/health", timeout=10).text == "ok"
    assert _podman("exec", app.name, "id", "-u").stdout.strip() == USER_ID
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.set_default_timeout(180_000)
        page.goto(f"{app.url}/predict")
        page.get_by_text("tabby").first.wait_for()  # the bundled cat sample, classified in the container
        # Every card done: a stop during a model's first load (its TFLite export takes seconds) waits
        # for that script run, which once took podman's whole 30 s; here the server is idle.
        page.locator("[data-testid=stStatusWidget]").wait_for(state="hidden")
        assert page.locator("[data-testid=stException]").count() == 0
        browser.close()
    seconds = app.stop_seconds()
    print(f"podman stop took {seconds:.1f} s")
    assert seconds < 10


def test_the_api_container_is_healthy_and_predicts(image, containers, weights_dir, photo_paths):
    api = Container(image, 8000, "python", "-m", "core", "serve", "--host", "0.0.0.0", "--port", "8000",
                    weights=weights_dir, environment={"VISION_API_PRELOAD": "mobilenet_v2,yolo11n"})
    containers(api)
    print(f"the API container was healthy after {api.wait_until_healthy():.0f} s")
    reply = httpx.post(f"{api.url}/v1/models/mobilenet_v2/predict", timeout=60,
                       files={"file": ("dog.jpg", photo_paths["dog"].read_bytes())})
    assert reply.status_code == 200 and reply.json()[0]["top_k"][0]["label"] == "Samoyed"
    bus = httpx.post(f"{api.url}/v1/models/yolo11n/predict", timeout=60,
                     files={"file": ("bus.jpg", photo_paths["bus"].read_bytes())}).json()[0]
    assert "bus" in [d["label"] for d in bus["detections"]]
    assert _podman("exec", api.name, "id", "-u").stdout.strip() == USER_ID
    assert api.stop_seconds() < 10


def test_without_weights_the_api_says_which_are_missing(image, containers):
    api = Container(image, 8000, "python", "-m", "core", "serve", "--host", "0.0.0.0", "--port", "8000",
                    environment={"VISION_OFFLINE": "1", "VISION_API_PRELOAD": "mobilenet_v2,yolo11n"})
    containers(api)
    deadline = time.monotonic() + HEALTHY_WITHIN_S
    states = {}
    while time.monotonic() < deadline and not (states and "loading" not in states.values()):
        try:
            states = httpx.get(f"{api.url}/v2/health/ready", timeout=5).json()["models"]
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(1)
    assert set(states) == {"mobilenet_v2", "yolo11n"}, api.logs()
    for name, state in states.items():
        assert "weights" in state.lower() or "not found" in state.lower(), state
    assert httpx.get(f"{api.url}/v2/health/ready", timeout=5).status_code == 503
    assert _podman("healthcheck", "run", api.name, check=False).returncode != 0  # unhealthy, and says why
    assert "could not load mobilenet_v2" in api.logs()


def test_the_compose_file_runs_both_with_health_checks_and_read_only_weights():
    compose = yaml.safe_load((PROJECT_ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"app", "api"}
    for service in services.values():
        assert any(volume.endswith(":/weights:ro") for volume in service["volumes"])
        assert service["init"] is True
    assert services["api"]["command"][:4] == ["python", "-m", "core", "serve"]
    assert all("start_period" in service["healthcheck"] for service in services.values())


def test_the_image_leaves_out_what_it_does_not_need():
    ignored = (PROJECT_ROOT / ".dockerignore").read_text().split()
    assert {".venv/", ".git/", "**/__pycache__/", ".pytest_cache/"} <= set(ignored)
    assert shutil.which("podman") or not os.environ.get("CI")
