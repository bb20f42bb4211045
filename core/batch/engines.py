"""The two engines of a batch run. Each takes the items and hands back rows in chunks:

- `local`: one Predictor in this process; its threads read and fit the next images while the
  models run on the current batch, so both cores stay busy.
- `ray`: Ray Data over a local Ray (started here with this machine's cores) or a cluster
  (`address`): the items become a dataset, and `map_batches` runs a Predictor per actor of an
  actor pool, so each actor loads its models once. Rows travel back as JSON text per nested
  column and are written by this process, chunk by chunk.
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator

from core import config
from core.batch.inputs import Item
from core.batch.predictor import Predictor
from core.batch.table import COLUMNS, NESTED, NUMBERS

SKIPPED = ""  # the model column of a Ray row that only says "this image was already done"

Report = Callable[[list[dict], int], None]  # (rows, images handled) after each batch


def run_local(items: Iterable[Item], predictor: Predictor, batch_size: int, report: Report) -> None:
    """Prepare ahead in the predictor's threads (a bounded window), predict batch by batch, in order."""
    window = deque()
    batch, handled = [], 0
    for item in items:
        window.append(predictor.pool.submit(predictor.prepare, item))
        if len(window) >= 3 * batch_size:
            batch, handled = _take(window.popleft().result(), batch, handled, predictor, batch_size, report)
    while window:
        batch, handled = _take(window.popleft().result(), batch, handled, predictor, batch_size, report)
    if batch or handled:
        report(predictor.predict(batch), handled)


def _take(prepared, batch, handled, predictor, batch_size, report):
    handled += 1
    if prepared is not None:
        batch.append(prepared)
    if len(batch) == batch_size:
        report(predictor.predict(batch), handled)
        return [], 0
    return batch, handled


class RayPredictor:
    """The callable class Ray Data runs on each actor of the pool."""

    def __init__(self, models: list[str], top_k: int | None, done: dict):
        self.predictor = Predictor(models, top_k, threads=2, done=done)

    def __call__(self, batch: dict) -> dict:
        items = [Item(path, member or None, label or None)
                 for path, member, label in zip(batch["path"], batch["member"], batch["true_label"])]
        prepared = list(self.predictor.pool.map(self.predictor.prepare, items))
        rows = self.predictor.predict([p for p in prepared if p is not None])
        rows += [{**dict.fromkeys(COLUMNS), "image": item.image, "model": SKIPPED}
                 for item, p in zip(items, prepared) if p is None]
        return {name: [json.dumps(row[name]) if name in NESTED else row[name] for row in rows] for name in COLUMNS}


def run_ray(items: list[Item], models: list[str], top_k: int | None, done: dict, batch_size: int, actors: int,
            address: str | None, report: Report) -> None:
    ray = start_ray(address)
    from ray.data import ActorPoolStrategy

    records = [{"path": i.path, "member": i.member or "", "true_label": i.true_label or ""} for i in items]
    dataset = ray.data.from_items(records, override_num_blocks=max(1, min(len(records) // batch_size, 200)))
    answered = dataset.map_batches(
        RayPredictor, fn_constructor_kwargs={"models": models, "top_k": top_k, "done": done},
        batch_size=batch_size, compute=ActorPoolStrategy(size=actors), num_cpus=1,
    )
    for batch in answered.iter_batches(batch_size=batch_size, batch_format="pandas"):
        rows = list(_rows(batch))
        report([row for row in rows if row["model"] != SKIPPED], len({row["image"] for row in rows}))


def _rows(frame) -> Iterator[dict]:
    for row in frame.to_dict("records"):
        yield {name: _value(name, row[name]) for name in COLUMNS}


def _value(name: str, value):
    """A value as pandas handed it over, back to the row's type (a column with gaps comes as floats)."""
    if name in NESTED:
        return json.loads(value) if isinstance(value, str) else None
    if value is None or (isinstance(value, float) and value != value):
        return None
    value = value.item() if hasattr(value, "item") else value
    return NUMBERS[name](value) if name in NUMBERS else value


def start_ray(address: str | None):
    """Join the cluster at `address`, or start a local Ray with this machine's cores. Workers get
    the project's `core` package and our settings, so each one resolves weights as we do."""
    import logging

    import ray

    ray.data.DataContext.get_current().enable_progress_bars = False  # ours says how far it is
    for name in ("ray.data", "ray.data._internal.execution.streaming_executor"):
        logging.getLogger(name).setLevel(logging.ERROR)  # nor its per-stage reports
    if not ray.is_initialized():
        runtime = {"py_modules": [str(config.PROJECT_ROOT / "core")], "env_vars": config.settings_for_workers()}
        local = {} if address else {"num_cpus": os.cpu_count() or 1}
        ray.init(address=address, runtime_env=runtime, include_dashboard=False, log_to_driver=False,
                 configure_logging=False, **local)
    return ray
