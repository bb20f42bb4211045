"""The API under overload and slow inferences, on a server made small for it: one inference at a
time (VISION_API_QUEUE=1) and half a second each (VISION_API_TIMEOUT_S=0.5). A request beyond the
queue gets 503 with Retry-After, one too slow gets 504, and the server keeps answering. Its docs
page renders in a real browser, with nothing fetched from outside."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from browser_harness import CHROMIUM, CHROMIUM_FLAGS, require_chromium

from core.api.metrics import metric_value
from core.api.process import api_server

pytestmark = pytest.mark.slow

SMALL = {"VISION_API_QUEUE": "1", "VISION_API_TIMEOUT_S": "0.5"}


@pytest.fixture(scope="module")
def api(weights_dir, tmp_path_factory):
    log = tmp_path_factory.mktemp("api") / "server.log"
    with api_server(["mobilenet_v2"], log, SMALL, report=print) as url, httpx.Client(base_url=url, timeout=60) as client:
        yield client


def test_a_full_queue_gets_503_and_a_slow_inference_504_and_the_server_keeps_answering(api, photo_paths):
    dog = {"file": ("dog.jpg", photo_paths["dog"].read_bytes())}
    slow = {}
    # Score-CAM with its faithfulness test takes seconds: it outlives its 0.5 s and holds the only slot.
    explaining = threading.Thread(target=lambda: slow.update(reply=api.post(
        "/v1/models/mobilenet_v2/explain", files=dog, params={"method": "scorecam"})))
    explaining.start()
    time.sleep(0.2)
    refused = api.post("/v1/models/mobilenet_v2/predict", files=dog)
    explaining.join(timeout=30)

    assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
    assert refused.json()["error"]["code"] == "busy"
    assert slow["reply"].status_code == 504 and slow["reply"].json()["error"]["code"] == "timeout"
    assert api.get("/v2/health/live").status_code == 200  # answered while the slot is still taken

    deadline = time.monotonic() + 60
    while metric_value(api.get("/metrics").text, "vision_api_inference_queue") and time.monotonic() < deadline:
        time.sleep(0.2)  # the timed-out call finishes in the background
    answered = api.post("/v1/models/mobilenet_v2/predict", files=dog)
    assert answered.status_code == 200 and answered.json()[0]["top_k"][0]["label"] == "Samoyed"
    metrics = api.get("/metrics").text
    assert metric_value(metrics, "vision_api_queue_rejections_total", model="mobilenet_v2") == 1
    assert metric_value(metrics, "vision_api_inference_timeouts_total", model="mobilenet_v2") == 1
    assert api.get("/v2/health/ready").status_code == 200


def test_the_docs_page_renders_offline_in_a_browser(api):
    require_chromium()
    from playwright.sync_api import sync_playwright

    root = str(api.base_url).rstrip("/")
    outside = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.on("request", lambda request: None if request.url.startswith(root) else outside.append(request.url))
        page.goto(f"{root}/docs")
        page.get_by_text("/v1/models/{name}/predict").first.wait_for(timeout=30_000)
        operations = page.locator(".opblock").count()
        browser.close()
    assert operations >= 9 and outside == []


def test_several_worker_processes_start_and_answer(weights_dir, photo_paths, tmp_path):
    """`--workers 2`: uvicorn starts each worker from the import string, so the preload list
    travels in the environment. Both workers start and preload; the one that takes a connection
    answers. (Which worker accepts is the kernel's choice: an idle server may give every
    connection to one, so the test counts the workers in the log rather than in the answers.)"""
    log = tmp_path / "server.log"
    dog = {"file": ("dog.jpg", photo_paths["dog"].read_bytes())}
    with api_server(["cifar10_cnn"], log, workers=2) as url:
        deadline = time.monotonic() + 60
        while log.read_text().count("Application startup complete") < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        for _ in range(8):  # a new connection each time
            reply = httpx.post(f"{url}/v1/models/cifar10_cnn/predict", files=dog, headers={"connection": "close"})
            assert reply.json()[0]["top_k"][0]["label"] == "dog"
            # The preload list reached this worker (not the default, all models), loaded or still loading.
            assert set(httpx.get(f"{url}/v2/health/ready").json()["models"]) == {"cifar10_cnn"}
        text = log.read_text()
    assert text.count("Started server process") == 2 and text.count("Application startup complete") == 2, text
    assert "could not load" not in text and "Traceback" not in text, text
