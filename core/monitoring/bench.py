"""`python -m core bench --monitor`: what logging adds to a prediction, measured in one run with
calls interleaved (logged, not logged, logged, ...) so that both see the same machine state."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from core import config, monitoring, service
from core.bench import default_image
from core.io.images import load_image

GOAL_MS = 0.3  # the budget for logging at p50


def print_monitor_benchmark(models: list[str], image: str | None, runs: int) -> int:
    pixels = load_image(image) if image else default_image()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        config.use_monitor_db(str(Path(folder) / "bench.db"))  # never the project's log
        for name in models:
            service.predict(name, pixels, source="cli")  # load, export, warm, open the log
            timings = {"off": [], "on": []}
            for _ in range(runs):
                for source, key in ((None, "off"), ("cli", "on")):
                    start = time.perf_counter()
                    service.predict(name, pixels, source=source)
                    timings[key].append((time.perf_counter() - start) * 1000)
            monitoring.flush(60)
            off, on = np.median(timings["off"]), np.median(timings["on"])
            rows.append({"model": name, "runs": runs, "p50 off ms": round(off, 3), "p50 on ms": round(on, 3),
                         "added ms": round(on - off, 3), "written": monitoring.prediction_log().counts.written,
                         "dropped": monitoring.prediction_log().counts.dropped})
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    worst = table["added ms"].max()
    print(f"{'PASS' if worst <= GOAL_MS else 'MISS'}  logging adds at most {worst:.3f} ms at p50 (goal ≤ {GOAL_MS} ms)")
    return 0
