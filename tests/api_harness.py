"""What the API tests share: a real `python -m core serve` on a free localhost port, and reading
its Prometheus metrics."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
from browser_harness import free_port, log_tail
from prometheus_client.parser import text_string_to_metric_families

from core.config import PROJECT_ROOT

READY_WITHIN_S = 180  # TensorFlow's import and the preloaded models' first load, on 2 busy cores


@contextmanager
def api_server(preload: list[str], log: Path, environment: dict[str, str] | None = None):
    """A new API server loading `preload`; yields its URL once it reports ready, stops it on leaving."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "core", "serve", "--port", str(port), "--no-access-log"]
    command += [flag for name in preload for flag in ("--preload", name)]
    with open(log, "w") as output:  # a file, not a pipe: an undrained pipe fills up and blocks the server
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, env={**os.environ, **(environment or {})},
                                   stdout=output, stderr=subprocess.STDOUT)
    try:
        print(f"\nthe API was ready after {_wait_until_ready(url, process, log):.1f} s (log: {log})")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def _wait_until_ready(url: str, process: subprocess.Popen, log: Path) -> float:
    start = time.monotonic()
    while time.monotonic() - start < READY_WITHIN_S:
        if process.poll() is not None:
            raise RuntimeError(f"the API server exited with {process.returncode}: {log_tail(log)}")
        try:
            if httpx.get(f"{url}/v2/health/ready", timeout=2).status_code == 200:
                return time.monotonic() - start
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"the API at {url} was not ready within {READY_WITHIN_S} s: {log_tail(log)}")


def metric_value(text: str, name: str, **labels: str) -> float:
    """The value of sample `name` with `labels` in Prometheus text, 0 when there is none yet."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(key) == value for key, value in labels.items()):
                return sample.value
    return 0.0
