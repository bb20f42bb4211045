"""`python -m core bench --batch`: a batch run's images per second beside the model alone, measured
side by side in one process on the same images:

- model only: batches of 32 already-fitted inputs through the classifier's batched graph;
- local: `python -m core batch`'s local engine, from the files (reading, decoding, fitting included);
- ray: the same over a local Ray, with 1 and with 2 actors (each actor loads its own model).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from core import config, service
from core.batch import runner
from core.batch.inputs import expand
from core.errors import ConfigError
from core.io.images import load_image

BATCH = 32


def default_images() -> str:
    """The CIFAR-10 test set's first 100 images per class (1,000 images)."""
    root = config.data_dir() / "cifar10" / "test" if config.data_dir() else None
    if root is None or not root.is_dir():
        raise ConfigError(f"bench --batch needs $VISION_DATA_DIR/cifar10/test ({root}); or give --image FOLDER.")
    return str(root)


def model_only_rate(name: str, files: list, rounds: int = 3) -> float:
    """Images per second of the batched model call alone, on inputs fitted beforehand."""
    model = service.load(name)
    inputs = np.stack([model.model_input(load_image(item.read())) for item in files])
    model.classify_inputs(inputs[:BATCH])  # warm
    start = time.perf_counter()
    for _ in range(rounds):
        for i in range(0, len(inputs), BATCH):
            model.classify_inputs(inputs[i:i + BATCH])
    return rounds * len(inputs) / (time.perf_counter() - start)


class SteadyRate:
    """A progress callback: images per second after the first answered batch (so neither Ray's
    start nor an actor's model loading counts)."""

    def __init__(self):
        self.marks: list[tuple[float, int]] = []

    def __call__(self, handled: int, total: int, rows) -> None:
        self.marks.append((time.perf_counter(), handled))

    def rate(self) -> float:
        (start, first), (end, last) = self.marks[0], self.marks[-1]
        return (last - first) / (end - start) if end > start else 0.0


def print_batch_benchmark(name: str, folder: str | None, limit: int = 1000) -> int:
    items = list(expand([folder or default_images()]))
    step = max(1, len(items) // limit)
    chosen = items[::step][:limit]  # spread over every class folder
    with tempfile.TemporaryDirectory() as scratch:
        listing = Path(scratch) / "images.txt"
        listing.write_text("\n".join(item.path for item in chosen if item.member is None) + "\n")
        print(f"{name} on {len(chosen)} images from {folder or default_images()}, batch {BATCH}:")
        rate = model_only_rate(name, chosen)
        print(f"  model only (fitted inputs)   {rate:8.1f} images/s")
        runs = [("local engine", {}), ("ray, 1 actor", {"engine": "ray", "actors": 1}),
                ("ray, 2 actors", {"engine": "ray", "actors": 2})]
        for label, options in runs:
            out = Path(scratch) / f"{label.replace(' ', '_').replace(',', '')}.parquet"
            steady = SteadyRate()
            summary = runner.run([str(listing)], [name], out, batch_size=BATCH, progress=steady, **options)
            print(f"  {label:<28} {steady.rate():8.1f} images/s ({steady.rate() / rate:.2f}x the model alone; "
                  f"{summary.seconds:.1f} s in all with the engine's start and model loading)")
    return 0
