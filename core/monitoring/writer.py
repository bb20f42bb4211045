"""The prediction log's writer: a bounded in-memory queue in front of one thread that writes to the
database, so logging never slows or breaks a prediction.

A request only puts a small record on the queue (put_nowait). When the queue is full the record is
dropped and counted. The thread finishes each record (image statistics, the embedding's
projection), writes them in batches, and on a database error logs once, then retries with a
growing pause; records arriving meanwhile wait in the queue, and are dropped and counted once it
is full. Its counters are also written to the database, so the /monitor page can show drops in
every process.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger("core.monitoring")

BATCH = 128  # records per insert
STATS_EVERY_S = 5.0  # how often the counters are written to the database
RETRY_FIRST_S, RETRY_MAX_S = 0.5, 30.0


@dataclass
class Pending:
    """A record as a request leaves it: the cheap fields, and what the writer computes the rest from."""

    row: dict
    thumbnail: np.ndarray | None = None
    features: np.ndarray | None = field(default=None, repr=False)


@dataclass
class Counts:
    written: int = 0
    dropped: int = 0
    failed_writes: int = 0


class PredictionLog:
    def __init__(self, url: str, capacity: int, finish: Callable[[Pending], dict]):
        self.url = url
        self.capacity = capacity
        self.counts = Counts()
        self.writer_id = f"{socket.gethostname()}:{os.getpid()}:{int(time.time())}"
        self._finish = finish
        self._queue: queue.Queue[Pending] = queue.Queue(capacity)
        self._failing = False
        self._count_lock = threading.Lock()  # requests on many threads count their drops
        self._stats_at = 0.0
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    def submit(self, record: Pending) -> bool:
        """Queue `record`; False (and counted as dropped) when the queue is full."""
        try:
            self._queue.put_nowait(record)
            return True
        except queue.Full:
            with self._count_lock:
                self.counts.dropped += 1
            return False

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every queued record is written (or dropped); False if that took too long."""
        deadline = time.monotonic() + timeout_s
        with self._queue.all_tasks_done:
            while self._queue.unfinished_tasks:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._queue.all_tasks_done.wait(left)
        return True

    def _run(self) -> None:
        while True:
            try:
                batch = [self._queue.get(timeout=STATS_EVERY_S)]
            except queue.Empty:
                self._write_stats()
                continue
            while len(batch) < BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._write(batch)
            for _ in batch:
                self._queue.task_done()

    def _write(self, batch: list[Pending]) -> None:
        try:
            rows = [self._finish(record) for record in batch]
        except Exception:
            log.exception("could not prepare %d prediction records; they are dropped", len(batch))
            self.counts.dropped += len(batch)
            return
        pause = RETRY_FIRST_S
        while True:
            try:
                self._insert(rows)
                break
            except Exception as error:  # noqa: BLE001 (the database's errors, or a URL that cannot connect)
                self.counts.failed_writes += 1
                if not self._failing:
                    log.error("the prediction log cannot write to %s (%s: %s); predictions go on, and the "
                              "writer retries", self._safe_url(), type(error).__name__, str(error).splitlines()[0])
                    self._failing = True
                if self._queue.full() and pause >= RETRY_MAX_S:
                    self.counts.dropped += len(rows)  # the oldest records give way
                    return
                time.sleep(pause)
                pause = min(pause * 2, RETRY_MAX_S)
        if self._failing:
            log.warning("the prediction log writes to %s again", self._safe_url())
            self._failing = False
        self.counts.written += len(rows)
        if time.monotonic() - self._stats_at > STATS_EVERY_S:
            self._write_stats()

    def _insert(self, rows: list[dict]) -> None:
        from core.monitoring import store

        with store.ready_engine(self.url).begin() as connection:
            connection.execute(store.predictions.insert(), rows)

    def _write_stats(self) -> None:
        """This process's counters into log_writers (an update, else an insert: both databases)."""
        from core.monitoring import store

        self._stats_at = time.monotonic()
        values = {"updated_at": time.time(), "written": self.counts.written, "dropped": self.counts.dropped,
                  "failed_writes": self.counts.failed_writes}
        table = store.log_writers
        try:
            with store.ready_engine(self.url).begin() as connection:
                done = connection.execute(table.update().where(table.c.writer == self.writer_id).values(values))
                if not done.rowcount:
                    connection.execute(table.insert().values(writer=self.writer_id, **values))
        except Exception:  # noqa: BLE001, S110 (already reported by _write when the database is down)
            pass

    def _safe_url(self) -> str:
        from core.monitoring.store import safe_url

        return safe_url(self.url)
