"""Monitoring: every prediction a front end asks the service for is recorded in the prediction log
(see writer.py and store.py), compared with the model's reference profile (profiles.py, drift.py,
report.py), and judged by the alert rules (alerts.py).

The service calls `record` and `record_failure`; each returns at once. Nothing here raises into a
prediction: a log that cannot start or write is reported in the server's log, once.
"""

from __future__ import annotations

import io
import logging
import threading
import time
import uuid

import numpy as np

from core import config
from core.errors import VisionError
from core.monitoring import features
from core.monitoring.writer import Pending, PredictionLog

log = logging.getLogger("core.monitoring")

FEEDBACK_WAIT_S = 5.0  # how long feedback waits for its prediction to be written

_log: PredictionLog | None = None
_log_guard = threading.Lock()
_warned: set[str] = set()


def prediction_log() -> PredictionLog | None:
    """This process's log for the configured database (None when logging is off or cannot start)."""
    global _log
    try:
        url = config.monitor_url()
    except VisionError as error:
        warn_once(f"prediction logging is off: {error}")
        return None
    if url is None:
        return None
    with _log_guard:
        if _log is None or _log.url != url:  # a test (or a server) pointed the setting elsewhere
            _log = PredictionLog(url, config.monitor_queue(), finish)
    return _log


def new_prediction_id() -> str:
    return uuid.uuid4().hex


def record(result, pixels: np.ndarray, source: str, latency_ms: float, prediction_id: str, role: str = "served",
           shadow_of: str | None = None) -> None:
    """Log a prediction (a Classification or Detections) of `pixels`: one a front end served, or a
    challenger's "shadow" answer to the same image (`shadow_of`: the served one's id)."""
    target = prediction_log()
    if target is None:
        return
    record = pending(result, pixels)
    record.row.update({"prediction_id": prediction_id, "created_at": time.time(), "source": source,
                       "model": result.model, "version": result.version, "role": role, "shadow_of": shadow_of,
                       "latency_ms": latency_ms, "error": None})
    target.submit(record)


def pending(result, pixels: np.ndarray) -> Pending:
    """What a record needs of a prediction of `pixels`: the answer's summary, the image's size, a
    thumbnail to take the statistics on (a classifier's input is already small; a detector's photo
    is shrunk now, so the queue never holds a full-size image) and the penultimate layer."""
    classify = result.task == "classify"
    summary = features.classification_summary(result) if classify else features.detection_summary(result)
    height, width = pixels.shape[:2]
    thumbnail = result.model_input if classify else features.thumbnail(pixels)
    return Pending({"width": width, "height": height, **summary}, thumbnail, getattr(result, "features", None))


def record_failure(model: str, error: VisionError, source: str, latency_ms: float) -> None:
    """Log a request for `model` that failed with `error` (its code only: messages may quote input)."""
    target = prediction_log()
    if target is None:
        return
    row = {"prediction_id": new_prediction_id(), "created_at": time.time(), "source": source, "model": model,
           "version": "", "role": "served", "latency_ms": latency_ms, "error": error.code}
    target.submit(Pending(row))


def logged_prediction(prediction_id: str) -> dict:
    """The model and label of a logged prediction (waiting briefly for the writer, since a client
    may answer faster than the log writes). Raises RequestError for an id never handed out."""
    from core.errors import ConfigError, RequestError
    from core.monitoring import queries

    if prediction_log() is None:
        raise ConfigError(f"Prediction logging is off ({config.MONITOR_DB_ENV}=none): feedback cannot be kept.")
    found = queries.prediction(prediction_id)
    if found is None:
        flush(FEEDBACK_WAIT_S)
        found = queries.prediction(prediction_id)
    if found is None:
        raise RequestError(f"No logged prediction has the id {prediction_id!r}.")
    return found


def record_feedback(prediction_id: str, correct: bool, label: str | None, source: str) -> None:
    """Store a verdict at once (a user's click is rare, and they expect it kept)."""
    from core.monitoring import queries, store

    with queries.connect(write=True) as connection:
        connection.execute(store.feedback.insert().values(prediction_id=prediction_id, created_at=time.time(),
                                                          correct=bool(correct), label=label, source=source))


def finish(record: Pending) -> dict:
    """A record's row as stored: the cheap fields plus what is computed off the request's path."""
    row = dict(record.row)
    if record.thumbnail is not None:
        small = features.thumbnail(record.thumbnail)
        row.update(features.image_statistics(small))
        if config.monitor_images():
            row["image"] = _jpeg(small)
    if record.features is not None:
        from core.monitoring.profiles import projection_for

        projection = projection_for(row["model"])
        if projection is not None and projection.mean.shape[-1] == record.features.shape[-1]:
            row["embedding"] = projection(record.features).astype(np.float32).tobytes()
    from core.monitoring.store import complete_row

    return complete_row(row)


def flush(timeout_s: float = 10.0) -> bool:
    """Wait for the log to write what it holds (the CLI before it exits; tests)."""
    return _log.flush(timeout_s) if _log is not None else True


def _jpeg(pixels: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def warn_once(message: str) -> None:
    """Log `message` as an error the first time only (a setting read on every request)."""
    if message not in _warned:
        _warned.add(message)
        log.error(message)
