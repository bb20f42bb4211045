"""Reading the prediction log: windows of records, feedback, alerts and the writers' counters, as
pandas tables. Everything here reads; writing is the writer's (and `record_feedback`'s)."""

from __future__ import annotations

import re
import time

import numpy as np
import pandas as pd
import sqlalchemy as sa

from core import config
from core.errors import ConfigError, RequestError
from core.monitoring import store

SINCE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
RECORD_COLUMNS = [column.name for column in store.predictions.columns if column.name != "image"]


def engine() -> sa.Engine:
    url = config.monitor_url()
    if url is None:
        raise ConfigError(f"Prediction logging is off ({config.MONITOR_DB_ENV}=none): there is nothing to read.")
    return store.ready_engine(url)


def parse_since(text: str) -> float:
    """'90s', '15m', '1h', '7d' as seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", text or "")
    if not match:
        raise RequestError(f"--since takes a duration such as 15m, 1h or 7d, not {text!r}.")
    return float(match[1]) * SINCE_UNITS[match[2]]


def window(model: str, size: int | None = None, since_s: float | None = None, role: str = "served",
           errors: bool = False) -> pd.DataFrame:
    """The latest `size` records of `model` (or those of the last `since_s` seconds), oldest first;
    successful predictions only unless `errors`."""
    table = store.predictions
    query = sa.select(*[table.c[name] for name in RECORD_COLUMNS]).where(table.c.model == model,
                                                                         table.c.role == role)
    if not errors:
        query = query.where(table.c.error.is_(None))
    if since_s is not None:
        query = query.where(table.c.created_at >= time.time() - since_s)
    query = query.order_by(table.c.id.desc())
    if size is not None:
        query = query.limit(size)
    with engine().connect() as connection:
        frame = pd.DataFrame(connection.execute(query).mappings().all(), columns=RECORD_COLUMNS)
    return frame.iloc[::-1].reset_index(drop=True)


def embeddings(frame: pd.DataFrame) -> np.ndarray | None:
    """The window's embeddings as rows (None when no record has one)."""
    stored = [np.frombuffer(blob, np.float32) for blob in frame["embedding"] if blob is not None]
    return np.stack(stored) if stored else None


def models_logged(since_s: float | None = None) -> list[str]:
    table = store.predictions
    query = sa.select(table.c.model).distinct()
    if since_s is not None:
        query = query.where(table.c.created_at >= time.time() - since_s)
    with engine().connect() as connection:
        return sorted(connection.execute(query).scalars())


def feedback_accuracy(model: str, size: int) -> tuple[float | None, int]:
    """Share of `model`'s latest `size` verdicts that say the prediction was right, and how many there were."""
    query = (sa.select(store.feedback.c.correct)
             .join(store.predictions, store.predictions.c.prediction_id == store.feedback.c.prediction_id)
             .where(store.predictions.c.model == model).order_by(store.feedback.c.id.desc()).limit(size))
    with engine().connect() as connection:
        verdicts = list(connection.execute(query).scalars())
    return (float(np.mean(verdicts)) if verdicts else None), len(verdicts)


def prediction(prediction_id: str) -> dict | None:
    table = store.predictions
    with engine().connect() as connection:
        row = connection.execute(sa.select(table.c.model, table.c.label)
                                 .where(table.c.prediction_id == prediction_id)).mappings().first()
    return dict(row) if row else None
