"""The monitoring database: one schema in SQLAlchemy Core, so SQLite (the default, one file in WAL
mode) and PostgreSQL (a deployment with several API workers or hosts) run the same statements.

Tables: `predictions` (one row per logged prediction or failed request), `feedback` (a user's
verdict on a prediction), `alerts` (each time a rule started firing, was still firing at a
reminder, or resolved) and `log_writers` (each process's writer counters, so that drops in
every API worker can be read in one place).
Times are Unix seconds (a float): the same type and meaning in both databases.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path

import sqlalchemy as sa

from core.errors import ConfigError

metadata = sa.MetaData()

predictions = sa.Table(
    "predictions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("prediction_id", sa.String(32), nullable=False, unique=True),
    sa.Column("created_at", sa.Float, nullable=False, index=True),
    sa.Column("source", sa.String(16), nullable=False),  # app, api, cli
    sa.Column("model", sa.String(64), nullable=False, index=True),
    sa.Column("version", sa.String(32), nullable=False, default=""),
    sa.Column("role", sa.String(16), nullable=False, default="served"),  # served, or shadow (a challenger)
    sa.Column("shadow_of", sa.String(32)),  # the served prediction a shadow one ran beside
    sa.Column("latency_ms", sa.Float),
    sa.Column("error", sa.String(32)),  # the error's code when the request failed
    sa.Column("label", sa.String(128)),  # top-1 label (classifiers) or most confident box's label
    sa.Column("score", sa.Float),  # its probability or confidence
    sa.Column("entropy", sa.Float),  # of the class probabilities, in nats
    sa.Column("boxes", sa.Integer),  # detectors: how many boxes
    sa.Column("mean_box_score", sa.Float),
    sa.Column("width", sa.Integer),
    sa.Column("height", sa.Integer),
    sa.Column("brightness", sa.Float),
    sa.Column("contrast", sa.Float),
    sa.Column("saturation", sa.Float),
    sa.Column("sharpness", sa.Float),
    sa.Column("embedding", sa.LargeBinary),  # float32 bytes of the projected penultimate layer
    sa.Column("image", sa.LargeBinary),  # the model's input as JPEG, only when the user opted in
)
sa.Index("predictions_model_id", predictions.c.model, predictions.c.id)

feedback = sa.Table(
    "feedback", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("prediction_id", sa.String(32), nullable=False, index=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("correct", sa.Boolean, nullable=False),
    sa.Column("label", sa.String(128)),  # what the image really shows, when the user said
    sa.Column("source", sa.String(16), nullable=False),
)

alerts = sa.Table(
    "alerts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.Float, nullable=False, index=True),
    sa.Column("rule", sa.String(16), nullable=False),  # drift, confidence, errors, latency, feedback
    sa.Column("model", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # firing, or resolved
    sa.Column("value", sa.Float),
    sa.Column("threshold", sa.Float),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("notified", sa.Boolean, nullable=False),  # the webhook took it
)
sa.Index("alerts_rule_model", alerts.c.rule, alerts.c.model, alerts.c.id)

log_writers = sa.Table(
    "log_writers", metadata,
    sa.Column("writer", sa.String(96), primary_key=True),  # host:pid:start
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("written", sa.Integer, nullable=False),
    sa.Column("dropped", sa.Integer, nullable=False),
    sa.Column("failed_writes", sa.Integer, nullable=False),
)


_WRITTEN = {column.name: column.default.arg if column.default is not None else None
            for column in predictions.columns if column.name != "id"}


def complete_row(row: dict) -> dict:
    """`row` with every column present (None where it has no value): one insert of many rows needs
    the same keys in each, and a failed request's row lacks the answer's fields."""
    return {name: row.get(name, default) for name, default in _WRITTEN.items()}


def database_url(setting: str) -> str:
    """A SQLAlchemy URL for VISION_MONITOR_DB's value: a URL as given (postgresql:// uses psycopg 3,
    the driver we install), anything else a SQLite file path."""
    if "://" not in setting:
        return f"sqlite:///{Path(setting).expanduser().resolve()}"
    for prefix in ("postgresql://", "postgres://"):
        if setting.startswith(prefix):
            return "postgresql+psycopg://" + setting.removeprefix(prefix)
    return setting


@functools.lru_cache(maxsize=4)
def engine(url: str) -> sa.Engine:
    """One engine (with its connection pool) per database; the schema is created on first use."""
    try:
        made = sa.create_engine(url, pool_pre_ping=True)
    except (sa.exc.ArgumentError, ImportError) as error:
        raise ConfigError(f"The monitoring database URL {safe_url(url)!r} cannot be used: {error}.") from None
    if made.dialect.name == "sqlite":
        sa.event.listen(made, "connect", _sqlite_pragmas)
        Path(made.url.database or ".").parent.mkdir(parents=True, exist_ok=True)
    return made


def ready_engine(url: str) -> sa.Engine:
    """The engine for `url`, its schema created once (under a lock: the writer and a reader may
    ask at the same moment; another process may too, hence the second try)."""
    made = engine(url)
    with _ready_guard:
        if url not in _ready:
            try:
                metadata.create_all(made, checkfirst=True)
            except sa.exc.DBAPIError:  # another process created a table between our check and create
                metadata.create_all(made, checkfirst=True)
            _ready.add(url)
    return made


_ready: set[str] = set()
_ready_guard = threading.Lock()


def _sqlite_pragmas(connection, _record) -> None:
    """WAL lets the page and reports read while the writer writes; `busy_timeout` makes a second
    process wait for the lock instead of failing."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def safe_url(url: str) -> str:
    """`url` without its password, for messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url.split("@")[-1]
