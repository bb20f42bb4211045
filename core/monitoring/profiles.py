"""Reference profiles: what a model's inputs and answers look like on data it was not trained on.

A profile is `assets/monitoring/<model>.json` (the statistics' and confidences' samples, the label
shares, where the data came from) with its arrays beside it in `<model>.npz` (the embedding's
projection and a sample of projected embeddings). `python -m training.profile` writes them; drift
reports compare live windows with them.
"""

from __future__ import annotations

import functools
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core import config
from core.io.atomic import atomic_path, write_text
from core.monitoring.features import Projection

NUMERIC = ("brightness", "contrast", "saturation", "sharpness", "score", "entropy", "boxes", "mean_box_score")


@dataclass(frozen=True)
class Profile:
    model: str
    version: str
    task: str
    data: dict  # {"name", "images", "digest", "note"}
    samples: dict[str, np.ndarray]  # feature -> the reference values
    label_shares: dict[str, float]
    projection: Projection | None = None
    embeddings: np.ndarray | None = None  # reference embeddings, projected


def path_for(model: str, folder: Path | None = None) -> Path:
    return (folder or config.PROFILES_DIR) / f"{model}.json"


def build(model: str, version: str, task: str, data: dict, rows: list[dict], features: np.ndarray | None,
          dims: int = 32, embedding_sample: int = 1000, seed: int = 0) -> Profile:
    """A profile from the records of the reference images (as the prediction log would write them)
    and, for a classifier, their penultimate-layer features."""
    samples = {name: np.array([row[name] for row in rows if row.get(name) is not None], np.float64)
               for name in NUMERIC}
    samples = {name: values for name, values in samples.items() if len(values)}
    labels = [row["label"] for row in rows if row.get("label") is not None]
    shares = {label: labels.count(label) / len(labels) for label in sorted(set(labels))} if labels else {}
    projection = embeddings = None
    if features is not None and len(features):
        projection = Projection.fit(features, min(dims, features.shape[1]))
        chosen = np.random.default_rng(seed).permutation(len(features))[:embedding_sample]
        embeddings = projection(features[np.sort(chosen)])
    return Profile(model, version, task, data, samples, shares, projection, embeddings)


def save(profile: Profile, folder: Path | None = None) -> Path:
    """The profile's JSON (its sidecar) and arrays, each written atomically."""
    target = path_for(profile.model, folder)
    body = {"model": profile.model, "version": profile.version, "task": profile.task, "data": profile.data,
            "label_shares": {label: round(share, 6) for label, share in profile.label_shares.items()},
            "samples": {name: np.round(values, 6).tolist() for name, values in profile.samples.items()},
            "embedding": None}
    if profile.projection is not None:
        arrays = target.with_suffix(".npz")
        buffer = io.BytesIO()
        np.savez_compressed(buffer, mean=profile.projection.mean, components=profile.projection.components,
                            sample=profile.embeddings.astype(np.float32))
        with atomic_path(arrays) as staged:
            staged.write_bytes(buffer.getvalue())
        body["embedding"] = {"file": arrays.name, "dims": int(profile.projection.components.shape[0]),
                             "features": int(profile.projection.components.shape[1]),
                             "sample": len(profile.embeddings)}
    write_text(target, json.dumps(body, separators=(",", ":")) + "\n")  # thousands of samples: no indent
    return target


def load(model: str) -> Profile | None:
    """Model `model`'s committed profile, or None when it has none."""
    path = path_for(model)
    if not path.exists():
        return None
    stat = path.stat()
    return _read(str(path), stat.st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _read(path: str, _mtime_ns: int) -> Profile:
    body = json.loads(Path(path).read_text())
    projection = embeddings = None
    if body.get("embedding"):
        with np.load(Path(path).parent / body["embedding"]["file"]) as arrays:
            projection = Projection(arrays["mean"], arrays["components"])
            embeddings = arrays["sample"]
    samples = {name: np.asarray(values, np.float64) for name, values in body["samples"].items()}
    return Profile(body["model"], body["version"], body["task"], body["data"], samples, body["label_shares"],
                   projection, embeddings)


def projection_for(model: str) -> Projection | None:
    profile = load(model)
    return profile.projection if profile else None
