"""The work of a batch run on one machine: read, hash, decode and fit each image in threads, then
run each model on a whole batch at once (a classifier's batched TensorFlow graph; the detector one
image at a time through ONNX Runtime). The same code serves the local engine and every Ray actor,
so both give exactly the answers of single-image `predict`: the same decoding, fitting and model.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from core import service
from core.batch.inputs import Item
from core.batch.table import error_row, result_row
from core.errors import ImageError, VisionError
from core.io.images import load_image
from core.models.registry import get_spec

DIGEST_CHARS = 16


@dataclass
class Prepared:
    """One image, read and fitted for each model that still has to see it."""

    item: Item
    digest: str | None
    todo: list[str]
    size: tuple[int, int] | None = None
    image: np.ndarray | None = field(default=None, repr=False)  # decoded, for detectors
    inputs: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # fitted, per classifier
    error: str | None = None


class Predictor:
    """The models of a batch run, loaded once; safe to call from one thread while `threads` others
    prepare images."""

    def __init__(self, models: list[str], top_k: int | None = None, threads: int = 2,
                 done: dict[tuple[str, str], str] | None = None):
        self.names = list(models)
        self.models = {name: service.load(name) for name in self.names}
        self.options = {name: service.options_for(name, **({"top_k": top_k} if _classifies(name) else {}))
                        for name in self.names}
        self.done = done or {}
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="batch-decode")

    def prepare(self, item: Item) -> Prepared | None:
        """Read, hash and decode `item`; None when every model has already answered for these bytes."""
        try:
            data = item.read()
        except ImageError as error:
            return Prepared(item, None, self.names, error=str(error))
        digest = hashlib.sha256(data).hexdigest()[:DIGEST_CHARS]
        todo = [name for name in self.names if self.done.get((item.image, name)) != digest]
        if not todo:
            return None
        try:
            image = load_image(data)
        except ImageError as error:
            return Prepared(item, digest, todo, error=str(error))
        prepared = Prepared(item, digest, todo, (image.shape[1], image.shape[0]))
        for name in todo:
            if _classifies(name):
                prepared.inputs[name] = self.models[name].model_input(image)
            else:
                prepared.image = image
        return prepared

    def predict(self, batch: list[Prepared]) -> list[dict]:
        """Rows for a batch of prepared images: one per image and model still to do."""
        rows = []
        for name in self.names:
            ready = [p for p in batch if name in p.todo and p.error is None]
            for p in batch:
                if name in p.todo and p.error is not None:
                    rows.append(error_row(p.item.image, p.digest, p.item.true_label, name, p.error))
            try:
                results = self._run(name, ready)
            except VisionError as error:  # the model failed on this batch: each image says so
                rows += [error_row(p.item.image, p.digest, p.item.true_label, name, str(error)) for p in ready]
                continue
            rows += [result_row(p.item.image, p.digest, p.item.true_label, p.size, r) for p, r in zip(ready, results)]
        return rows

    def _run(self, name: str, ready: list[Prepared]) -> list:
        if not ready:
            return []
        model, options = self.models[name], self.options[name]
        if _classifies(name):
            pixels = np.stack([p.inputs[name] for p in ready])
            return service.guarded(name, lambda: model.classify_inputs(pixels, **options))
        return [service.guarded(name, lambda p=p: model.predict(p.image, **options)) for p in ready]

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def _classifies(name: str) -> bool:
    return get_spec(name).task == "classify"
