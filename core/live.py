"""Live video: run a model on the newest frame only, never on a backlog.

`LiveProcessor` is what the webcam page's frame callback calls, and it is plain Python (no Streamlit,
no WebRTC), so tests and the benchmark feed it frames directly. `submit(frame)` never blocks: it
replaces any frame still waiting (a slow model skips frames instead of falling behind) and returns
the latest annotated frame. One worker thread runs the model; results go to a one-slot queue the
page reads.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from core import service
from core.results import label_counts

FPS_WINDOW = 20  # processed frames the frame rate is averaged over
IDLE_EXIT_S = 60.0  # the worker thread ends after this long without frames (an ended session's
# processor never hears about it); the next frame starts a new one


@dataclass(frozen=True)
class FrameResult:
    frame: int  # which submitted frame this is (1, 2, ...): gaps are skipped frames
    model: str
    rows: tuple[dict, ...]  # {"label", "score"}: detections, or a classifier's top 3
    latency_ms: float  # the model call
    fps: float  # frames processed per second, recently

    @property
    def summary(self) -> str:
        return label_counts(row["label"] for row in self.rows) or "nothing found"


class LiveProcessor:
    """Frames through model `name` with `options` (as core.service.predict takes them: e.g. imgsz=320
    for a detector, where 320 is fast and 640 sees small things; top_k=3 for a classifier)."""

    def __init__(self, name: str, idle_exit_s: float = IDLE_EXIT_S, **options):
        self.name = name
        self.options = service.options_for(name, **options)  # a bad option fails here, not in the worker
        self.results: queue.Queue[FrameResult] = queue.Queue(maxsize=1)
        self.submitted = 0
        self.processed = 0
        self._pending: tuple[int, np.ndarray] | None = None
        self._latest_output: np.ndarray | None = None
        self._done_times: deque[float] = deque(maxlen=FPS_WINDOW)
        self._condition = threading.Condition()
        self._stopped = False
        self._busy = False  # a frame is in the model right now
        self._idle_exited = False  # the worker ended for lack of frames (set and read under the lock)
        self.error: str | None = None  # the last failure of the model, if any
        self._idle_exit_s = idle_exit_s
        self._worker = self._start_worker()

    def _start_worker(self) -> threading.Thread:
        worker = threading.Thread(target=self._run, name="live-model", daemon=True)
        worker.start()
        return worker

    @property
    def worker_alive(self) -> bool:
        return self._worker.is_alive()

    def submit(self, frame: np.ndarray) -> np.ndarray:
        """Hand over a frame (RGB uint8) and get the newest annotated frame back at once (the frame
        itself until the first result is ready)."""
        with self._condition:
            self.submitted += 1
            self._pending = (self.submitted, frame)  # an older frame still waiting is dropped here
            if self._idle_exited:
                self._idle_exited = False
                self._worker = self._start_worker()
            self._condition.notify()
            latest = self._latest_output
        return frame if latest is None or latest.shape != frame.shape else latest

    def stop(self) -> None:
        with self._condition:
            self._stopped = True
            self._condition.notify()
        self._worker.join(timeout=5)

    def wait_until_idle(self, timeout: float = 30) -> None:
        """Block until no frame is waiting or being processed (tests, the benchmark)."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while (self._pending is not None or self._busy) and time.monotonic() < deadline:
                self._condition.wait(timeout=0.05)

    def _run(self) -> None:
        while True:
            with self._condition:
                idle_since = time.monotonic()
                while self._pending is None and not self._stopped:
                    if time.monotonic() - idle_since >= self._idle_exit_s:
                        self._idle_exited = True
                        return
                    self._condition.wait(timeout=self._idle_exit_s)
                if self._stopped:
                    return
                (index, frame), self._pending = self._pending, None
                self._busy = True
            try:
                output, result = self._process(index, frame)
            except Exception as error:  # one bad frame must not end live mode; the page shows it
                output, result = None, None
                self.error = f"{type(error).__name__}: {error}"
            with self._condition:
                if output is not None:
                    self._latest_output = output
                    self.processed += 1
                self._busy = False
                self._condition.notify_all()
            if result is not None:
                _put_latest(self.results, result)

    def _process(self, index: int, frame: np.ndarray) -> tuple[np.ndarray, FrameResult]:
        from core.viz.drawing import annotate

        result = service.predict(self.name, frame, **self.options)
        self._done_times.append(time.perf_counter())
        rows = tuple(result.rows())
        return annotate(frame, result), FrameResult(index, self.name, rows, result.latency_ms, self.fps())

    def fps(self) -> float:
        times = self._done_times
        if len(times) < 2:
            return 0.0
        return (len(times) - 1) / max(times[-1] - times[0], 1e-9)


def _put_latest(slot: queue.Queue, item) -> None:
    """Replace whatever the page has not read yet: it only ever wants the newest result."""
    try:
        slot.get_nowait()
    except queue.Empty:
        pass
    try:
        slot.put_nowait(item)
    except queue.Full:  # another thread refilled it meanwhile; the newest one wins next time
        pass

