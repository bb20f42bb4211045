"""Warm latency per model at batch 1: the figures quoted in the README."""

from __future__ import annotations

import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core import config, service
from core.io.images import load_image
from core.models.registry import get_spec, model_names

WARM_UP_RUNS = 5
LIVE_SECONDS = 20.0
LIVE_CAMERA_FPS = 60.0
MEMORY_GOAL_BYTES = 1.5e9  # a server with every model and one explanation per method (issue 14)
PHOTOS_GROWTH_GOAL_BYTES = 300e6  # after 20 distinct 40-megapixel photos


@dataclass(frozen=True)
class Timing:
    model: str
    load_s: float
    model_p50_ms: float  # the model call itself, as reported in results' latency_ms
    model_p95_ms: float
    total_p50_ms: float  # resizing included: what a caller waits for


def benchmark(name: str, image: np.ndarray, runs: int) -> Timing:
    start = time.perf_counter()
    service.load(name)
    load_s = time.perf_counter() - start
    for _ in range(WARM_UP_RUNS):
        service.predict(name, image)
    model_ms, total_ms = [], []
    for _ in range(runs):
        start = time.perf_counter()
        result = service.predict(name, image)
        total_ms.append((time.perf_counter() - start) * 1000)
        model_ms.append(result.latency_ms)
    model_p50, model_p95 = np.percentile(model_ms, [50, 95])
    return Timing(name, load_s, float(model_p50), float(model_p95), float(np.percentile(total_ms, 50)))


def default_image_path() -> Path | None:
    """bus.jpg from VISION_DATA_DIR, if it is there."""
    data = config.data_dir()
    path = data / "photos" / "bus.jpg" if data else None
    return path if path and path.is_file() else None


def default_image() -> np.ndarray:
    """bus.jpg, or noise of its size without it."""
    path = default_image_path()
    return load_image(path) if path else np.random.default_rng(0).integers(0, 256, (1080, 810, 3), dtype=np.uint8)


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
    from core.explain.methods import METHODS

    image = load_image(image_path) if image_path else default_image()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"image {image.shape[1]}×{image.shape[0]}; {runs} warm runs")
    print(f"{'model':<22} {'method':<10} {'p50 ms':>8} {'p95 ms':>8} {'x forward':>10}")
    for name in names:
        model = service.load(name)
        forward = _forward_ms(model, image, runs) if model.spec.task == "classify" else None
        for method in service.methods(name):
            method_runs = max(3, runs // 10) if METHODS[method].slow else runs
            times = [service.explain(name, image, method, faithfulness=False).latency_ms
                     for _ in range(method_runs + 2)][2:]
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


def print_live_benchmark(name: str, size: int, seconds: float = LIVE_SECONDS,
                         camera_fps: float = LIVE_CAMERA_FPS) -> int:
    """Frames of bus.jpg (640x480) fed through the webcam page's LiveProcessor at `camera_fps` for
    `seconds`: the frame rate the page would sustain, and how many frames it skipped."""
    from PIL import Image

    from core.live import LiveProcessor

    frame = np.asarray(Image.fromarray(default_image()).resize((640, 480)))
    is_detector = get_spec(name).task == "detect"  # the input size is a detector's option only
    processor = LiveProcessor(name, **({"imgsz": size} if is_detector else {}))
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


def print_memory_benchmark(large_photos: int = 20, side: tuple[int, int] = (7300, 5450)) -> int:
    """Resident memory of this process as a server's would grow: the frameworks, each model, one
    explanation per method, then `large_photos` distinct photos of about 40 megapixels through every
    classifier and a Grad-CAM (kept as the pages keep them: bounded display copies)."""
    import psutil

    process = psutil.Process()
    before = process.memory_info().rss

    def row(stage: str) -> None:
        print(f"{stage:<44} {process.memory_info().rss / 1e6:>8.0f} MB", flush=True)

    from core import frameworks

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; resident memory (RSS)")
    row("python and core")
    frameworks.keras()  # and PyTorch first only where VISION_RUNTIME=native needs it (core/frameworks.py)
    row("+ tensorflow, keras" + (", torch" if "torch" in sys.modules else ""))
    image = default_image()
    for name in model_names(variants=False):  # what a server preloads; variants load on first use
        service.predict(name, image)
        row(f"+ {name} loaded, one prediction")
    for name in model_names(variants=False):
        for method in service.methods(name):
            service.explain(name, image, method)
            row(f"+ {name} {method}")
    served = process.memory_info().rss
    verdict = "PASS" if served <= MEMORY_GOAL_BYTES else "MISS"
    print(f"{verdict}  every model loaded and one explanation per method: {served / 1e6:,.0f} MB "
          f"(goal ≤ {MEMORY_GOAL_BYTES / 1e6:,.0f} MB)")
    baseline = process.memory_info().rss
    kept = _large_photos_through_the_models(large_photos, side)
    row(f"after {large_photos} photos of {side[0] * side[1] / 1e6:.0f} MP ({len(kept)} explanations kept)")
    growth = process.memory_info().rss - baseline
    verdict = "PASS" if growth < PHOTOS_GROWTH_GOAL_BYTES else "MISS"
    print(f"{verdict}  growth over the photos: {growth / 1e6:.0f} MB (goal < {PHOTOS_GROWTH_GOAL_BYTES / 1e6:.0f} MB); "
          f"total growth: {(process.memory_info().rss - before) / 1e6:.0f} MB")
    _largest_mappings()
    return 0


def _large_photos_through_the_models(count: int, side: tuple[int, int]) -> list:
    """What /predict and /explain do for each new photo; like the pages' cache, at most 32 display
    copies of explanations are kept."""
    from PIL import Image

    kept = []
    rng = np.random.default_rng(0)
    for _ in range(count):
        pattern = rng.integers(0, 256, (side[1] // 64, side[0] // 64, 3), dtype=np.uint8)
        photo = np.asarray(Image.fromarray(pattern).resize(side, Image.Resampling.BILINEAR))
        for name in model_names("classify"):
            service.predict(name, photo)
        kept = (kept + [service.explain("mobilenet_v2", photo, "gradcam").for_display(1600)])[-32:]
    return kept


def _largest_mappings(count: int = 8) -> None:
    """Where the memory is, by mapped file (Linux): shared libraries, the heap, anonymous memory."""
    from collections import Counter
    from pathlib import Path

    smaps = Path(f"/proc/{os.getpid()}/smaps")
    if not smaps.is_file():
        return
    sizes, current = Counter(), "[anonymous]"
    for line in smaps.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 5 and "-" in parts[0] and ":" in parts[3]:
            current = Path(parts[5]).name if len(parts) > 5 else "[anonymous]"
        elif parts and parts[0] == "Rss:":
            sizes[current] += int(parts[1]) * 1024
    print("largest resident mappings: " + ", ".join(f"{name} {size / 1e6:.0f} MB" for name, size in
                                                      sizes.most_common(count)))
