"""A batch run from start to end: list the inputs, skip what a previous run already answered
(--resume), run an engine, write each chunk as it comes, show progress, merge the output, and sum up
(accuracy per model when the inputs carry true labels)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core import service
from core.batch import engines
from core.batch.inputs import Item, expand
from core.batch.predictor import Predictor
from core.batch.table import Output
from core.errors import RequestError
from core.models.registry import get_spec

ENGINES = ("local", "ray")
CHUNK_ROWS = 2000  # rows per checkpoint part: a killed run redoes at most this many


@dataclass
class Summary:
    output: Path
    images: int  # listed
    new_rows: int  # written by this run
    errors: int  # error rows written by this run
    seconds: float
    accuracy: dict[str, tuple[int, int]] = field(default_factory=dict)  # classifier -> (correct, labelled)

    @property
    def images_per_s(self) -> float:
        return self.images / self.seconds if self.seconds else 0.0


def run(inputs: list[str], models: list[str], out: str | Path, *, engine: str = "local", batch_size: int = 32,
        resume: bool = False, overwrite: bool = False, top_k: int | None = None, ray_address: str | None = None,
        actors: int = 2, threads: int = 2, chunk_rows: int = CHUNK_ROWS, progress: Callable[[int, int, list[dict]], None] | None = None) -> Summary:
    """Run `models` over every image of `inputs` into `out`. `progress(handled, total, rows)` is
    called after each batch. Raises RequestError for inputs, options or an output it cannot use."""
    for name in models:
        get_spec(name)  # an unknown model fails before anything is read
    if engine not in ENGINES:
        raise RequestError(f"--engine {engine}: use local or ray.")
    if min(batch_size, actors, chunk_rows) < 1:
        raise RequestError("--batch-size, --actors and --checkpoint-every must be at least 1.")
    items = list(expand(inputs))
    output = Output(out, resume=resume, overwrite=overwrite)
    done = output.done() if resume else {}
    counts = {"handled": 0, "rows": 0, "errors": 0}
    pending: list[dict] = []

    def report(rows: list[dict], handled: int) -> None:
        pending.extend(rows)
        counts["handled"] += handled
        counts["rows"] += len(rows)
        counts["errors"] += sum(row["error"] is not None for row in rows)
        if len(pending) >= chunk_rows:
            output.write_chunk(pending)
            pending.clear()
        if progress:
            progress(counts["handled"], len(items), rows)

    start = time.perf_counter()
    _run_engine(engine, items, models, top_k, done, batch_size, actors, threads, ray_address, report)
    output.write_chunk(pending)
    seconds = time.perf_counter() - start
    summary = Summary(output.path, len(items), counts["rows"], counts["errors"], seconds, accuracy_of(output, models))
    output.finish()
    return summary


def _run_engine(engine, items: list[Item], models, top_k, done, batch_size, actors, threads, address, report):
    if engine == "ray":
        engines.run_ray(items, models, top_k, done, batch_size, actors, address, report)
        return
    predictor = Predictor(models, top_k, threads=threads, done=done)
    try:
        engines.run_local(items, predictor, batch_size, report)
    finally:
        predictor.close()


def accuracy_of(output: Output, models: list[str]) -> dict[str, tuple[int, int]]:
    """(correct, labelled) per classifier over every answered row whose true label is one of its
    classes (this run's and those of the earlier runs a resumed run continues)."""
    known = {name: set(service.labels(name)) for name in models if get_spec(name).task == "classify"}
    totals: dict[str, list[int]] = {}
    for table in output.tables():
        for row in table.select(["model", "true_label", "top1_label", "error"]).to_pylist():
            if row["error"] is not None or row["true_label"] not in known.get(row["model"], ()):
                continue
            total = totals.setdefault(row["model"], [0, 0])
            total[0] += row["top1_label"] == row["true_label"]
            total[1] += 1
    return {model: (correct, labelled) for model, (correct, labelled) in totals.items()}
