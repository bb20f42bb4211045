"""A Locust load test of a running API server: predictions with mobilenet_v2 and yolo11n, and the
readiness check, in the proportions 3 : 1 : 1.

Locust is not one of the project's requirements. Start the server in one terminal, then install
Locust where you run the load from and start it in another:

    python -m core serve --port 8000 --preload mobilenet_v2 --preload yolo11n --no-access-log
    pip install locust
    locust -f tests/locustfile.py --host http://127.0.0.1:8000

then open http://localhost:8089 to start the swarm. Without the web UI, 8 users for 30 seconds:

    locust -f tests/locustfile.py --host http://127.0.0.1:8000 --headless -u 8 -r 8 -t 30s

The image sent is the file named by LOCUST_IMAGE, else a 640×480 JPEG made at start from a
gradient and noise (so no data set is needed):

    export LOCUST_IMAGE=$VISION_DATA_DIR/photos/bus.jpg
    locust -f tests/locustfile.py --host http://127.0.0.1:8000 --headless -u 8 -r 8 -t 30s

This file is not a pytest test (pytest collects test_*.py only) and nothing imports it; Locust
loads it by path. `python -m core bench --api` measures the same load from the project itself.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from locust import HttpUser, between, task
from PIL import Image

IMAGE_ENV = "LOCUST_IMAGE"
IMAGE_SIZE = (640, 480)
JPEG_QUALITY = 90
PREDICT_ROUTE = "/v1/models/[name]/predict"  # one line in Locust's table for every model's predictions


def _synthetic_jpeg() -> bytes:
    """A 640×480 JPEG of a colour gradient with noise: detail enough that the JPEG is of a realistic
    size, not a flat image a few kB long."""
    width, height = IMAGE_SIZE
    x = np.linspace(0, 255, width)[None, :].repeat(height, axis=0)
    y = np.linspace(0, 255, height)[:, None].repeat(width, axis=1)
    gradient = np.stack([x, y, 255 - x], axis=-1)
    noise = np.random.default_rng(0).normal(0, 25, (height, width, 3))
    pixels = np.clip(gradient + noise, 0, 255).astype(np.uint8)
    encoded = io.BytesIO()
    Image.fromarray(pixels).save(encoded, "JPEG", quality=JPEG_QUALITY)
    return encoded.getvalue()


def _image() -> tuple[str, bytes, str]:
    """The upload as (file name, bytes, content type), read once when Locust loads this file."""
    given = os.environ.get(IMAGE_ENV, "").strip()
    if not given:
        return "gradient640.jpg", _synthetic_jpeg(), "image/jpeg"
    path = Path(given).expanduser()
    if not path.is_file():
        raise SystemExit(f"{IMAGE_ENV}={given!r} is not a file: name an image file, or unset it to send a "
                         "generated 640×480 JPEG.")
    content_type = {".png": "image/png", ".webp": "image/webp"}.get(path.suffix.lower(), "image/jpeg")
    return path.name, path.read_bytes(), content_type


UPLOAD = _image()


def _error_message(response) -> str:
    """The server's own sentence for a failure ({"error": {"message": ...}}), the models still
    loading for a readiness check that is not ready, else the status line."""
    try:
        body = response.json()
    except ValueError:  # no body (a dropped connection), or one that is not JSON
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict) and "message" in body["error"]:
        return f"{response.status_code}: {body['error']['message']}"
    if isinstance(body, dict) and isinstance(body.get("models"), dict):
        waiting = ", ".join(f"{name} {state}" for name, state in body["models"].items() if state != "ready")
        return f"{response.status_code}: not ready ({waiting or 'no model named'})"
    return f"{response.status_code}: {response.reason or 'no answer from the server'}"


class VisionApiUser(HttpUser):
    wait_time = between(0, 0.1)  # a busy client: the point is the server's capacity, not think time

    @task(3)
    def classify(self) -> None:
        self._predict("mobilenet_v2")

    @task(1)
    def detect(self) -> None:
        self._predict("yolo11n")

    @task(1)
    def ready(self) -> None:
        with self.client.get("/v2/health/ready", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(_error_message(response))

    def _predict(self, model: str) -> None:
        with self.client.post(f"/v1/models/{model}/predict", files={"file": UPLOAD}, name=PREDICT_ROUTE,
                              catch_response=True) as response:
            if response.status_code != 200:
                response.failure(_error_message(response))
