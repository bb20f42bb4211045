"""Reading the prediction log: windows of records, feedback, alerts and the writers' counters, as
pandas tables. Everything here reads; writing is the writer's (and `record_feedback`'s)."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator

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


@contextlib.contextmanager
def connect(write: bool = False) -> Iterator[sa.Connection]:
    """A connection to the log (a transaction when `write`), a database that cannot be reached
    raising ConfigError with its (password-free) URL instead of the driver's error."""
    try:
        with engine().begin() if write else engine().connect() as connection:
            yield connection
    except sa.exc.OperationalError as error:
        where = store.safe_url(config.monitor_url() or "")
        raise ConfigError(f"The monitoring database {where} cannot be reached "
                          f"({str(error.orig).splitlines()[0] if error.orig else error}).") from None


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
    with connect() as connection:
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
    with connect() as connection:
        return sorted(connection.execute(query).scalars())


TIMELINE_ROWS = 50_000  # the page's charts read at most this many of the latest records


def timeline(model: str, since_s: float | None = None) -> pd.DataFrame:
    """`model`'s records (failed ones too) of the last `since_s` seconds for charts over time:
    time, role, latency, label, score, error; oldest first."""
    table = store.predictions
    columns = [table.c[name] for name in ("created_at", "role", "latency_ms", "label", "score", "error")]
    query = sa.select(*columns).where(table.c.model == model)
    if since_s is not None:
        query = query.where(table.c.created_at >= time.time() - since_s)
    with connect() as connection:
        rows = connection.execute(query.order_by(table.c.id.desc()).limit(TIMELINE_ROWS)).mappings().all()
    frame = pd.DataFrame(rows, columns=[column.name for column in columns]).iloc[::-1].reset_index(drop=True)
    frame["time"] = pd.to_datetime(frame["created_at"], unit="s")  # naive UTC: what plotly and st.dataframe draw as is
    return frame


def shadow_pairs(model: str, since_s: float | None = None) -> pd.DataFrame:
    """Each shadow answer of `model`'s challenger beside the served answer to the same image: time,
    both labels, scores, latencies and versions; oldest first."""
    served, shadow = store.predictions.alias("served"), store.predictions.alias("shadow")
    query = (sa.select(served.c.created_at, served.c.label.label("served_label"),
                       shadow.c.label.label("shadow_label"), served.c.score.label("served_score"),
                       shadow.c.score.label("shadow_score"), served.c.latency_ms.label("served_latency_ms"),
                       shadow.c.latency_ms.label("shadow_latency_ms"), served.c.version.label("served_version"),
                       shadow.c.version.label("shadow_version"))
             .join(shadow, shadow.c.shadow_of == served.c.prediction_id)
             .where(served.c.model == model, shadow.c.role == "shadow"))
    if since_s is not None:
        query = query.where(served.c.created_at >= time.time() - since_s)
    with connect() as connection:
        rows = connection.execute(query.order_by(served.c.id.desc()).limit(TIMELINE_ROWS)).mappings().all()
    frame = pd.DataFrame(rows, columns=list(query.selected_columns.keys())).iloc[::-1].reset_index(drop=True)
    frame["agree"] = frame["served_label"] == frame["shadow_label"]
    frame["time"] = pd.to_datetime(frame["created_at"], unit="s")  # naive UTC: what plotly and st.dataframe draw as is
    return frame


def writer_counts() -> dict[str, int]:
    """Records written and dropped, summed over every process that has logged (log_writers)."""
    table = store.log_writers
    query = sa.select(sa.func.coalesce(sa.func.sum(table.c.written), 0),
                      sa.func.coalesce(sa.func.sum(table.c.dropped), 0))
    with connect() as connection:
        written, dropped = connection.execute(query).one()
    return {"written": int(written), "dropped": int(dropped)}


def feedback_accuracy(model: str, size: int) -> tuple[float | None, int]:
    """Share of `model`'s latest `size` verdicts that say the prediction was right, and how many there were."""
    query = (sa.select(store.feedback.c.correct)
             .join(store.predictions, store.predictions.c.prediction_id == store.feedback.c.prediction_id)
             .where(store.predictions.c.model == model).order_by(store.feedback.c.id.desc()).limit(size))
    with connect() as connection:
        verdicts = list(connection.execute(query).scalars())
    return (float(np.mean(verdicts)) if verdicts else None), len(verdicts)


def prediction(prediction_id: str) -> dict | None:
    table = store.predictions
    with connect() as connection:
        row = connection.execute(sa.select(table.c.model, table.c.label)
                                 .where(table.c.prediction_id == prediction_id)).mappings().first()
    return dict(row) if row else None
