"""What the browser tests share: a real `streamlit run app.py` on a free localhost port, and
Debian's Chromium for Playwright (it never downloads a browser here)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from core.api.process import free_port, log_tail
from core.config import PROJECT_ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"]
HEALTHY_WITHIN_S = 120


@contextmanager
def streamlit_server(log: Path):
    """A new `streamlit run app.py` (no page has run in it yet) answering on 127.0.0.1; yields its
    URL and stops it on leaving."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # No file watcher: in one full run its inotify queue kept overflowing, and re-scanning the
    # project after each overflow kept a core busy and stalled the pages
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless=true",
               "--server.fileWatcherType=none", f"--server.port={port}", "--server.address=127.0.0.1"]
    environment = {**os.environ, "VISION_ICE_SERVERS": "[]"}  # host candidates only: no STUN server offline
    with open(log, "w") as output:  # a file, not a pipe: an undrained pipe fills up and blocks the server
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT)
    try:
        print(f"\nstreamlit answered after {wait_until_healthy(url, process, log):.1f} s (log: {log})")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def wait_until_healthy(url: str, process: subprocess.Popen, log: Path) -> float:
    start = time.monotonic()
    while time.monotonic() - start < HEALTHY_WITHIN_S:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}: {log_tail(log)}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                if reply.status == 200:
                    return time.monotonic() - start
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"streamlit did not answer at {url} within {HEALTHY_WITHIN_S} s: {log_tail(log)}")


def require_chromium() -> None:
    """Skip without Debian's chromium, except in CI, where its absence is a failure."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
