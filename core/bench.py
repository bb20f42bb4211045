"""Warm latency per model at batch 1: the figures quoted in the README."""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.io.images import load_image
from core.models.loading import get_model

WARM_UP_RUNS = 5


@dataclass(frozen=True)
class Timing:
    model: str
    load_s: float
    model_p50_ms: float  # the model call itself, as reported in results' latency_ms
    model_p95_ms: float
    total_p50_ms: float  # resizing included: what a caller waits for


def benchmark(name: str, image: np.ndarray, runs: int) -> Timing:
    start = time.perf_counter()
    model = get_model(name)
    load_s = time.perf_counter() - start
    for _ in range(WARM_UP_RUNS):
        model.predict(image)
    model_ms, total_ms = [], []
    for _ in range(runs):
        start = time.perf_counter()
        result = model.predict(image)
        total_ms.append((time.perf_counter() - start) * 1000)
        model_ms.append(result.latency_ms)
    return Timing(
        name, load_s, float(np.percentile(model_ms, 50)), float(np.percentile(model_ms, 95)), float(np.percentile(total_ms, 50))
    )


def default_image() -> np.ndarray:
    bus = Path(os.environ.get("VISION_DATA_DIR", "")) / "photos" / "bus.jpg"
    if bus.is_file():
        return load_image(bus)
    return np.random.default_rng(0).integers(0, 256, (1080, 810, 3), dtype=np.uint8)


def print_benchmark(names: list[str], runs: int, image_path: str | None = None) -> int:
    image = load_image(image_path) if image_path else default_image()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"image {image.shape[1]}×{image.shape[0]}; {runs} warm runs at batch 1")
    print(f"{'model':<22} {'load s':>7} {'model p50 ms':>13} {'model p95 ms':>13} {'total p50 ms':>13}")
    for name in names:
        t = benchmark(name, image, runs)
        print(f"{t.model:<22} {t.load_s:>7.1f} {t.model_p50_ms:>13.1f} {t.model_p95_ms:>13.1f} {t.total_p50_ms:>13.1f}")
    return 0


def print_explain_benchmark(names: list[str], runs: int, image_path: str | None = None) -> int:
    """Per-method latency of the heatmap alone (no faithfulness test), against one forward pass of
    the same Keras graph: the figure the 1.5x goal is about."""
    from core.explain.base import explain, methods_for

    image = load_image(image_path) if image_path else default_image()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"image {image.shape[1]}×{image.shape[0]}; {runs} warm runs")
    print(f"{'model':<22} {'method':<10} {'p50 ms':>8} {'p95 ms':>8} {'x forward':>10}")
    for name in names:
        model = get_model(name)
        forward = _forward_ms(model, image, runs) if model.spec.task == "classify" else None
        for method in methods_for(model):
            method_runs = max(3, runs // 10) if method in ("scorecam", "eigencam") else runs
            times = [explain(model, image, method, faithfulness=False).latency_ms for _ in range(method_runs + 2)][2:]
            ratio = f"{np.percentile(times, 50) / forward:>10.2f}" if forward else f"{'':>10}"
            print(f"{name:<22} {method:<10} {np.percentile(times, 50):>8.1f} {np.percentile(times, 95):>8.1f} {ratio}")
    return 0


def _forward_ms(model, image: np.ndarray, runs: int) -> float:
    """p50 of one forward pass through the Keras graph (the graph the heatmaps differentiate)."""
    batch = model.model_input(image)[None].astype(np.float32)
    forward = model._forward  # the traced Keras graph, not the TFLite fast path
    for _ in range(WARM_UP_RUNS):
        forward(batch)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        np.asarray(forward(batch))
        times.append((time.perf_counter() - start) * 1000)
    return float(np.percentile(times, 50))


def print_live_benchmark(name: str, size: int, seconds: float = 20, camera_fps: float = 60) -> int:
    """Frames of bus.jpg (640x480) fed through the webcam page's LiveProcessor at `camera_fps` for
    `seconds`: the frame rate the page would sustain, and how many frames it skipped."""
    from PIL import Image

    from core.live import LiveProcessor

    frame = np.asarray(Image.fromarray(default_image()).resize((640, 480)))
    model = get_model(name)
    processor = LiveProcessor(model, process_size=size)
    for _ in range(WARM_UP_RUNS):  # the first calls build the runtime's graph for this size
        processor.submit(frame)
        processor.wait_until_idle()
    processed_before, latencies = processor.processed, []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        processor.submit(frame)
        try:
            latencies.append(processor.results.get_nowait().latency_ms)
        except Exception:
            pass
        time.sleep(1 / camera_fps)
    elapsed = time.perf_counter() - start
    processor.stop()
    processed = processor.processed - processed_before
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; {name} at {size} px on "
          f"640x480 frames offered at {camera_fps:.0f} fps for {elapsed:.0f} s")
    print(f"processed {processed / elapsed:.1f} fps; model p50 {np.percentile(latencies, 50):.1f} ms; "
          f"skipped {1 - processed / max(1, processor.submitted - WARM_UP_RUNS):.0%} of the frames")
    return 0
