"""Artifacts are written atomically: an interrupted save leaves the previous file intact."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from core.config import MODELS_DIR, PROJECT_ROOT
from core.io import atomic


def test_a_failed_write_leaves_the_previous_file_and_no_partial_file(tmp_path):
    target = tmp_path / "report.json"
    atomic.write_text(target, '{"version": 1}')
    with pytest.raises(RuntimeError):
        with atomic.atomic_path(target) as staged:
            staged.write_text('{"version": 2, "half')
            raise RuntimeError("killed mid-write")
    assert json.loads(target.read_text()) == {"version": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
    atomic.write_text(target, '{"version": 2}')
    assert json.loads(target.read_text()) == {"version": 2}


@pytest.mark.slow
def test_killing_a_model_save_midway_keeps_the_previous_model(tmp_path):
    """save_artifact saves the 9.7 MB transfer model again and again; SIGKILL lands while a save
    is being written. The model in place must still load and answer as before."""
    saver = textwrap.dedent(f"""
        import json, pathlib
        from core import frameworks
        from training.common import save_artifact
        model = frameworks.keras().saving.load_model({str(MODELS_DIR / "mobilenet_v2_cifar10.keras")!r}, compile=False)
        sidecar = json.loads(pathlib.Path({str(MODELS_DIR / "mobilenet_v2_cifar10.json")!r}).read_text())
        while True:
            save_artifact(model, sidecar, pathlib.Path({str(tmp_path)!r}))
            print("saved", flush=True)
    """)
    process = subprocess.Popen([sys.executable, "-c", saver], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "saved"  # one whole model is in place
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob(".*.partial.keras")) and time.monotonic() < deadline:
            time.sleep(0.001)
        assert list(tmp_path.glob(".*.partial.keras")), "no save was caught in progress"
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    checker = textwrap.dedent(f"""
        import numpy as np
        from core import frameworks
        keras = frameworks.keras()
        kept = keras.saving.load_model({str(tmp_path / "mobilenet_v2_cifar10.keras")!r}, compile=False)
        source = keras.saving.load_model({str(MODELS_DIR / "mobilenet_v2_cifar10.keras")!r}, compile=False)
        x = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3)).astype("float32")
        print(float(np.abs(kept.predict(x, verbose=0) - source.predict(x, verbose=0)).max()))
    """)
    done = subprocess.run([sys.executable, "-c", checker], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert float(done.stdout.strip().splitlines()[-1]) < 1e-5
    assert json.loads((tmp_path / "mobilenet_v2_cifar10.json").read_text())["name"] == "mobilenet_v2_cifar10"
