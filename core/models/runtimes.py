"""Fast inference runtimes for the latency-critical call (one image at a time).

The training frameworks are slow at batch 1 on a CPU: TensorFlow runs MobileNetV2 in ~26 ms where
TFLite's XNNPACK kernels take ~7 ms, and PyTorch runs YOLO11n in ~120 ms where ONNX Runtime takes
~55 ms, with the same outputs. Each model is exported once, cached on disk under a key derived from
its weights. A Keras model stays loaded for explanations and batched evaluation; YOLO is served
and explained from its export alone (core.models.yolo_onnx), so a server never loads PyTorch.
Set VISION_RUNTIME=native to skip the exports and run the frameworks themselves.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import queue
import re
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core import frameworks
from core.config import CACHE_ENV, RUNTIME_ENV, cache_dir, child_environment, inference_threads  # noqa: F401 (re-exported)

EXPORT_VERSION = "5"  # bump when an export recipe changes, so stale caches are not reused
VERSION_DIGITS = 12  # a model's version: this many hex digits of its weights' sha256


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def short_digest(path: Path) -> str:
    """A model's version: the first VERSION_DIGITS hex digits of its weights' sha256."""
    return remembered_digest(path)[:VERSION_DIGITS]


def remembered_digest(path: Path) -> str:
    """The file's sha256, remembered while its size and modification time stay the same (pages
    check every model file against its recorded figures on each run)."""
    stat = Path(path).stat()
    return _remembered_digest(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _remembered_digest(path: str, size: int, mtime_ns: int) -> str:
    return file_digest(Path(path))


def cached_export(name: str, weights: Path, suffix: str, export: Callable[[Path], None], key: str = "") -> Path:
    """Model `name`'s export of `weights`, ending in `suffix`, made by `export(target)` only once.
    `key` adds what else the export depends on (an int8 variant's calibration images).

    The export is written to a temporary place and renamed, so a process that stops half-way or
    another process exporting at the same time never leaves a broken file behind.
    """
    extra = f"-{key}" if key else ""
    target = cache_dir() / f"{name}-{file_digest(weights)[:16]}{extra}-v{EXPORT_VERSION}{suffix}"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        staged = Path(scratch) / target.name
        with contextlib.redirect_stdout(sys.stderr):  # exporters print; stdout may be JSON lines
            export(staged)
        os.replace(staged, target)
    ours = re.compile(rf"{re.escape(name)}-[0-9a-f]{{16}}(-[0-9a-f]+)?-v\w+{re.escape(suffix)}")
    for stale in target.parent.glob(f"{name}-*{suffix}"):  # older weights or export recipes
        if stale != target and ours.fullmatch(stale.name):  # not "<name>-int8-…", another model's
            stale.unlink(missing_ok=True)
    return target


class TfliteRunner:
    """TFLite interpreters for one image at a time, returning every output of the model (with
    `classes`, the output of that width first: a classifier's answer, then its features). An interpreter is not thread-safe, so each call
    borrows one of cores ÷ `threads` interpreters: with one thread per call, two cores run two calls
    side by side, which serves concurrent requests better than splitting every call between them;
    with the default (every core per call), calls take turns on one interpreter."""

    def __init__(self, path: Path, classes: int | None = None, threads: int | None = None):
        tf = frameworks.tensorflow()
        cores = os.cpu_count() or 1
        threads = threads or inference_threads()
        self._idle: queue.SimpleQueue = queue.SimpleQueue()
        for _ in range(max(1, cores // threads)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the deprecation notice for tf.lite; TF is pinned
                interpreter = tf.lite.Interpreter(model_path=str(path), num_threads=threads)
            interpreter.allocate_tensors()
            self._idle.put(interpreter)
        self._input = interpreter.get_input_details()[0]
        outputs = interpreter.get_output_details()  # in the converter's order, not the model's
        outputs.sort(key=lambda detail: detail["shape"][-1] != classes)
        self._outputs = outputs

    def __call__(self, batch_of_one: np.ndarray) -> list[np.ndarray]:
        interpreter = self._idle.get()  # waits while every interpreter is busy
        try:
            interpreter.set_tensor(self._input["index"], _quantised(np.asarray(batch_of_one, np.float32), self._input))
            interpreter.invoke()
            return [_dequantised(interpreter.get_tensor(detail["index"]), detail) for detail in self._outputs]
        finally:
            self._idle.put(interpreter)


def _quantised(values: np.ndarray, detail: dict) -> np.ndarray:
    """`values` as an input tensor wants them: as they are for a float input, else mapped onto its
    integers by its scale and zero point (an int8 variant's uint8 pixels: scale 1, zero point 0)."""
    dtype = detail["dtype"]
    if np.issubdtype(dtype, np.floating):
        return values.astype(dtype)
    scale, zero_point = detail["quantization"]
    limits = np.iinfo(dtype)
    return np.clip(np.round(values / scale + zero_point), limits.min, limits.max).astype(dtype)


def _dequantised(values: np.ndarray, detail: dict) -> np.ndarray:
    if np.issubdtype(values.dtype, np.floating):
        return values.copy()
    scale, zero_point = detail["quantization"]
    return ((values.astype(np.float32) - zero_point) * scale).astype(np.float32)


def export_tflite(model, target: Path) -> None:
    """Convert a Keras model to a float32 TFLite file (batch of one; no quantisation)."""
    tf = frameworks.tensorflow()
    target.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())


def export_onnx(weights: Path, target: Path, imgsz: int) -> None:
    """Export an Ultralytics checkpoint to ONNX (core.models.yolo_export) in a process of its own,
    so PyTorch, which the export needs, never stays in this one. Raises ExportError with the
    exporter's last words when it fails (a damaged checkpoint, say)."""
    command = [sys.executable, "-m", "core.models.yolo_export", str(weights.resolve()), str(target.resolve()),
               "--imgsz", str(imgsz)]
    with tempfile.TemporaryDirectory() as scratch:  # Ultralytics may write beside its working folder
        done = subprocess.run(command, cwd=scratch, env=child_environment(), capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise ExportError(lines[-1] if lines else f"the exporter exited with code {done.returncode}")


class ExportError(RuntimeError):
    """The exporter failed; the message is its last line of output (its error)."""
