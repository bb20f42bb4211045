"""`python -m core serve` as a subprocess on a free localhost port: what the API benchmark and
the API tests start, so both meet the server a user runs."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from core.config import PROJECT_ROOT, environment_with

READY_TIMEOUT_S = 180.0  # TensorFlow's import and the preloaded models' first load, on 2 busy cores
STOP_GRACE_S = 10.0  # after SIGTERM (uvicorn shuts down gracefully), before the server is killed


class ServerNotReady(RuntimeError):
    """The server exited or did not become ready; the message ends with its log's tail."""


def free_port() -> int:
    """A port nothing listens on now (the OS picks it; the server binds it a moment later)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def log_tail(log: Path, characters: int = 3000) -> str:
    """The end of a server's output, without the colour codes of its tracebacks."""
    return re.sub(r"\x1b\[[0-9;]*m", "", log.read_text(errors="replace"))[-characters:]


@contextmanager
def api_server(preload: list[str], log: Path, environment: dict[str, str] | None = None,
               report: Callable[[str], None] | None = None, workers: int = 1) -> Iterator[str]:
    """A new API server loading `preload`, its output in `log`; yields its URL once it reports
    ready (telling `report` what is still loading meanwhile) and stops it on leaving."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "core", "serve", "--port", str(port), "--no-access-log", "--workers", str(workers)]
    command += [flag for name in preload for flag in ("--preload", name)]
    with open(log, "w") as output:  # a file, not a pipe: an undrained pipe fills up and blocks the server
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=environment_with(environment),
                                   stdout=output, stderr=subprocess.STDOUT)
    try:
        _wait_until_ready(process, url, log, report or (lambda message: None))
        yield url
    finally:
        _stop(process)


def _wait_until_ready(process: subprocess.Popen, url: str, log: Path, report: Callable[[str], None]) -> None:
    import httpx

    start = time.monotonic()
    last = None
    while time.monotonic() - start < READY_TIMEOUT_S:
        if process.poll() is not None:
            raise ServerNotReady(f"The API server exited with code {process.returncode}:\n{log_tail(log)}")
        state = "starting"
        try:
            answer = httpx.get(f"{url}/v2/health/ready", timeout=5)
            if answer.status_code == 200:
                report(f"the API server was ready after {time.monotonic() - start:.0f} s")
                return
            state = ", ".join(f"{name} {status}" for name, status in answer.json().get("models", {}).items())
        except (httpx.TransportError, ValueError):
            pass  # not listening yet, or a body that is not JSON: keep waiting
        if state != last:
            report(f"  {time.monotonic() - start:.0f} s: {state}")
            last = state
        time.sleep(0.5)
    raise ServerNotReady(f"The API server at {url} was not ready within {READY_TIMEOUT_S:.0f} s:\n{log_tail(log)}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
