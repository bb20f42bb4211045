"""`python -m core bench --api`: the REST API's throughput and latency under load, beside the same
models called in process, in one run.

The in-process figures come first, before the server starts, so that nothing competes with them.
The load then comes from this process (asyncio tasks sharing one httpx client) against a server
started as a subprocess on this machine: client and server share the CPU cores, as a load test on
one machine always does, so the API's figures are, if anything, a little pessimistic.
"""

from __future__ import annotations

import asyncio
import io
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core import service
from core.api.metrics import metric_value
from core.api.process import ServerNotReady, api_server, log_tail
from core.bench import WARM_UP_RUNS, default_image, default_image_path
from core.errors import ConfigError

IMAGE_SIZE = (640, 480)  # a typical camera frame at 4:3
JPEG_QUALITY = 90
UPLOAD_NAME = "bus640.jpg"
IN_PROCESS_MAX_S = 10.0  # one thread settles within seconds; more would only lengthen the run
API_WARM_UP_S = 2.0  # per model, not counted: connections opened, every pool thread through its first call
REQUEST_TIMEOUT_S = 60.0  # above the server's own inference timeout (30 s), so the server's 504 is what we see

# The goals, all at this many clients.
GOAL_CLIENTS = 8
GOAL_API_SHARE = 0.7  # API requests/s at least this share of in-process predictions/s
GOAL_RATES = {"mobilenet_v2": 100.0, "yolo11n": 30.0}  # requests/s
GOAL_P95_MS = {"mobilenet_v2": 150.0}


@dataclass
class LoadLevel:
    """What `clients` concurrent clients of one model saw: successful requests' latencies, errors by kind."""

    model: str
    clients: int
    elapsed_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)  # HTTP status or exception name -> count
    client_cpu_s: float = 0.0  # this process's CPU time meanwhile: the load generator's own cost
    server_cpu_s: float = 0.0  # the server's CPU time meanwhile (its process_cpu_seconds_total)

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.elapsed_s if self.elapsed_s else 0.0

    @property
    def server_cpu_ms(self) -> float:
        """Server CPU time per answered request: steadier than requests/s on a shared machine."""
        return self.server_cpu_s * 1000 / len(self.latencies_ms) if self.latencies_ms else float("nan")

    def percentiles(self) -> list[float]:
        if not self.latencies_ms:
            return [float("nan")] * 3
        return [float(value) for value in np.percentile(self.latencies_ms, [50, 95, 99])]


def client_counts(text: str) -> list[int]:
    """`--clients 1,8,32` as a list of whole numbers of at least 1 (ConfigError otherwise)."""
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise ConfigError(f"--clients takes comma-separated whole numbers of at least 1 (such as 1,8,32), "
                          f"not {text!r}.")
    return counts


def print_api_benchmark(models: list[str], clients: list[int], seconds: float, image_path: str | None) -> int:
    """The benchmark and the issue's goals, printed; 0 even when a goal is missed (a benchmark
    reports), 2 when the server could not start."""
    if seconds <= 0:
        raise ConfigError(f"--seconds must be above 0, not {seconds:g}.")
    for name in models:
        service.model_info(name)  # an unknown name fails now, not after the in-process phase
    data, source = benchmark_jpeg(image_path)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; the load generator "
          "runs on the same machine as the server")
    print(f"image: {source} cover-cropped to {IMAGE_SIZE[0]}×{IMAGE_SIZE[1]}, JPEG quality {JPEG_QUALITY}: "
          f"{len(data) / 1000:.1f} kB; {seconds:g} s per load level")
    measured = {name: in_process_rate(name, data, min(seconds, IN_PROCESS_MAX_S)) for name in models}
    in_process = {name: rate for name, (rate, _) in measured.items()}
    levels = _levels_through_the_api(models, clients, seconds, data)
    if levels is None:
        return 2
    print(_table(levels, measured).to_string(index=False))
    _print_goals(levels, in_process)
    return 0


def benchmark_jpeg(image_path: str | None) -> tuple[bytes, str]:
    """bus.jpg (or `image_path`; noise without either) cropped to 4:3 about its centre, resized to
    640×480 and encoded as JPEG in memory. Returns the bytes and what they were made from."""
    from PIL import Image, ImageOps

    from core.io.images import load_image

    path = Path(image_path) if image_path else default_image_path()
    pixels = load_image(path) if path else default_image()  # load_image applies the EXIF rotation
    source = path.name if path else "random noise (bus.jpg not found under VISION_DATA_DIR)"
    framed = ImageOps.fit(Image.fromarray(pixels), IMAGE_SIZE, Image.Resampling.LANCZOS)  # cover: crop, then resize
    encoded = io.BytesIO()
    framed.save(encoded, "JPEG", quality=JPEG_QUALITY)
    return encoded.getvalue(), source


def in_process_rate(name: str, data: bytes, seconds: float) -> tuple[float, float]:
    """Predictions per second of `service.predict` on the JPEG bytes, on one thread (decoding
    included, as the API decodes every upload), and the CPU milliseconds each took."""
    _progress(f"in process: {name} for {seconds:g} s")
    service.load(name)
    for _ in range(WARM_UP_RUNS):
        service.predict(name, data)
    count, start, cpu_start = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        service.predict(name, data)
        count += 1
    return count / (time.perf_counter() - start), (time.process_time() - cpu_start) * 1000 / count


def _levels_through_the_api(models: list[str], clients: list[int], seconds: float, data: bytes) -> list | None:
    """Start the server, load it at each level, stop it; None when it would not become ready."""
    with tempfile.TemporaryDirectory(prefix="bench-api-") as folder:
        log = Path(folder) / "server.log"
        _progress(f"starting the API server, preloading {', '.join(models)}")
        try:
            with api_server(models, log, report=_progress) as url:
                levels = _measure(url, models, clients, seconds, data)
                if any(level.errors for level in levels):
                    _progress(f"the server's log, for the errors above:\n{log_tail(log)}")
                return levels
        except ServerNotReady as error:
            _progress(str(error))
            return None


def _measure(base: str, models: list[str], clients: list[int], seconds: float, data: bytes) -> list[LoadLevel]:
    levels = []
    for name in models:
        url = f"{base}/v1/models/{name}/predict"
        _progress(f"api: {name} warm-up, {max(clients)} clients for {API_WARM_UP_S:g} s (not counted)")
        asyncio.run(_load(name, url, data, max(clients), API_WARM_UP_S))
        for count in clients:
            _progress(f"api: {name} with {count} client{'s' if count > 1 else ''} for {seconds:g} s")
            cpu_before = _server_cpu_s(base)
            level = asyncio.run(_load(name, url, data, count, seconds))
            level.server_cpu_s = _server_cpu_s(base) - cpu_before
            _report_level(level)
            levels.append(level)
    return levels


def _server_cpu_s(base: str) -> float:
    import httpx

    return metric_value(httpx.get(f"{base}/metrics", timeout=10).text, "process_cpu_seconds_total")


async def _load(name: str, url: str, data: bytes, clients: int, seconds: float) -> LoadLevel:
    """`clients` tasks posting the JPEG back to back until `seconds` have passed. Every request
    started is awaited, so the elapsed time runs until the last answer."""
    import httpx

    level = LoadLevel(name, clients)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    cpu_start, start = time.process_time(), time.perf_counter()
    deadline = start + seconds
    async with httpx.AsyncClient(limits=limits, timeout=REQUEST_TIMEOUT_S) as client:

        async def one_client() -> None:
            while time.perf_counter() < deadline:
                sent = time.perf_counter()
                try:
                    answer = await client.post(url, files={"file": (UPLOAD_NAME, data, "image/jpeg")})
                except httpx.HTTPError as error:
                    level.errors[type(error).__name__] += 1
                    continue
                if answer.status_code == 200:
                    level.latencies_ms.append((time.perf_counter() - sent) * 1000)
                else:
                    level.errors[str(answer.status_code)] += 1

        await asyncio.gather(*(one_client() for _ in range(clients)))
    level.elapsed_s = time.perf_counter() - start
    level.client_cpu_s = time.process_time() - cpu_start
    return level


def _report_level(level: LoadLevel) -> None:
    """One line when a level ends: its rate, what the load generator cost, and any errors by kind."""
    cpu_share = level.client_cpu_s / level.elapsed_s if level.elapsed_s else 0.0
    errors = ", ".join(f"{kind} ×{count}" for kind, count in level.errors.most_common())
    _progress(f"  {level.rate:.1f} requests/s; the load generator used {cpu_share:.0%} of a core"
              + (f"; errors: {errors}" if errors else ""))


def _table(levels: list[LoadLevel], in_process: dict[str, tuple[float, float]]):
    """One row per load level; the CPU columns are per request (server) and per prediction (in
    process), so their difference is what the HTTP layer costs the server."""
    import pandas as pd

    rows = []
    for level in levels:
        p50, p95, p99 = level.percentiles()
        own, own_cpu_ms = in_process[level.model]
        rows.append({"model": level.model, "clients": level.clients, "requests/s": level.rate, "p50 ms": p50,
                     "p95 ms": p95, "p99 ms": p99, "errors": sum(level.errors.values()),
                     "server CPU ms": level.server_cpu_ms, "in-process/s": own, "in-process CPU ms": own_cpu_ms,
                     "API ÷ in-process": level.rate / own if own else float("nan")})
    table = pd.DataFrame(rows)
    for column in ("requests/s", "p50 ms", "p95 ms", "p99 ms", "server CPU ms", "in-process/s", "in-process CPU ms"):
        table[column] = table[column].map(lambda value: f"{value:.1f}")
    table["API ÷ in-process"] = table["API ÷ in-process"].map(lambda value: f"{value:.2f}")
    return table


def _print_goals(levels: list[LoadLevel], in_process: dict[str, float]) -> None:
    """PASS or MISS for each of the issue's goals; SKIP for one this run did not measure."""
    at_goal = {level.model: level for level in levels if level.clients == GOAL_CLIENTS}
    print(f"goals at {GOAL_CLIENTS} clients:")
    for name, own in in_process.items():
        level = at_goal.get(name)
        if level is None:
            print(f"SKIP  {name}: {GOAL_CLIENTS} clients were not measured (--clients)")
            continue
        share = level.rate / own if own else 0.0
        _verdict(share >= GOAL_API_SHARE, f"{name}: the API's {level.rate:.1f} requests/s are {share:.2f} × the "
                 f"{own:.1f} predictions/s in process (goal: at least {GOAL_API_SHARE:.1f} ×)")
        if name in GOAL_RATES:
            p95 = level.percentiles()[1]
            p95_goal = GOAL_P95_MS.get(name)
            met = level.rate >= GOAL_RATES[name] and (p95_goal is None or p95 <= p95_goal)
            latency = f" with p95 {p95:.0f} ms (goal: at most {p95_goal:.0f} ms)" if p95_goal else ""
            _verdict(met, f"{name}: {level.rate:.1f} requests/s (goal: at least {GOAL_RATES[name]:.0f}){latency}")
    for name in sorted(set(GOAL_RATES) - set(in_process)):
        print(f"SKIP  {name}: not benchmarked in this run (--model)")


def _verdict(met: bool, sentence: str) -> None:
    print(f"{'PASS' if met else 'MISS'}  {sentence}")


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)

