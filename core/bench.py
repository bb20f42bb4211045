"""Warm latency per model at batch 1: the figures quoted in the README."""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.images import load_image
from core.loading import get_model

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
