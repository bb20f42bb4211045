"""The image tests/test_container.py runs, built in the background from the start of the test session.

conftest.py starts the build once collection has picked any container test. On a fresh CI machine
the build is cold (about a minute to install podman and make the base image, five more to download
and install every wheel) while the CPU sits mostly idle; run beside the other tests, niced so it
takes only what they leave, it no longer adds those minutes to the suite. The container tests
wait for it.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass

from core.config import PROJECT_ROOT

SETUP = PROJECT_ROOT.parent / "shared" / "tools" / "container-setup.sh"
IMAGE = "vision:test"
SETUP_TIMEOUT_S = 900
BUILD_TIMEOUT_S = 1800


@dataclass(frozen=True)
class Build:
    ok: bool
    seconds: float  # set-up and build, from the start of the background thread
    failure: str = ""  # what went wrong, with the tail of the command's output


_lock = threading.Lock()
_thread: threading.Thread | None = None
_running: subprocess.Popen | None = None
_outcome: Build | None = None


def possible() -> bool:
    """podman needs root here, and the set-up script beside the project."""
    return os.geteuid() == 0 and SETUP.exists()


def start() -> None:
    """Begin the set-up and the build in a background thread (once per process)."""
    global _thread
    with _lock:
        if _thread is None and possible():
            _thread = threading.Thread(target=_set_up_and_build, name="container-build", daemon=True)
            _thread.start()


def wait() -> Build:
    """The build's outcome, once it is over (starting it first if nothing has)."""
    start()
    _thread.join()
    return _outcome


def stop() -> None:
    """End a build still running (the session ended first: a failure with -x, or an interrupt)."""
    process = _running
    if process is not None and process.poll() is None:
        process.terminate()


def _set_up_and_build() -> None:
    global _outcome
    began = time.monotonic()
    steps = ((["bash", str(SETUP)], SETUP_TIMEOUT_S),
             (["nice", "-n", "10", "podman", "build", "--format", "docker", "-t", IMAGE, "."], BUILD_TIMEOUT_S))
    for command, timeout in steps:
        failure = _run(command, timeout)
        if failure:
            _outcome = Build(False, time.monotonic() - began, failure)
            return
    _outcome = Build(True, time.monotonic() - began)


def _run(command: list[str], timeout: float) -> str:
    """Run `command` in the project; returns "" on success, else what failed."""
    global _running
    _running = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = _running.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _running.kill()
        output, _ = _running.communicate()
        return f"{' '.join(command)} took over {timeout} s: {output[-3000:]}"
    if _running.returncode:
        return f"{' '.join(command)} failed ({_running.returncode}): {output[-3000:]}"
    return ""
