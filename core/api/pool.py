"""The API's inference workers: a fixed set of threads and a bounded queue in front of them.

Model calls block (TFLite, ONNX Runtime and TensorFlow release the GIL while they compute), so they
run on threads, never on the event loop, which keeps answering health checks and metrics while the
workers are busy. A request arriving when `capacity` calls are already waiting or running is
refused at once with BusyError (503 and Retry-After) instead of queueing without end, and one that
waits or runs longer than `timeout_s` gets InferenceTimeoutError (504); its thread finishes the
call in the background, still counted against the capacity until it has.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from core.errors import BusyError, InferenceTimeoutError


class InferencePool:
    def __init__(self, threads: int, capacity: int, timeout_s: float):
        self.threads = threads
        self.capacity = capacity
        self.timeout_s = timeout_s
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="inference")
        self._pending = 0
        self._lock = threading.Lock()

    @property
    def pending(self) -> int:
        return self._pending

    async def run(self, call: Callable, *args, **kwargs):
        """`call(*args, **kwargs)` on a worker thread; raises what it raises."""
        with self._lock:
            if self._pending >= self.capacity:
                raise BusyError(f"The server is busy ({self._pending} inferences waiting or running): try again "
                                "in a moment.", retry_after_s=1)
            self._pending += 1
        future = self._executor.submit(call, *args, **kwargs)
        future.add_done_callback(self._release)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout_s)
        except TimeoutError:  # asyncio.wait_for cancelled the call if it had not started
            raise InferenceTimeoutError(f"The inference took longer than this server's limit of "
                                        f"{self.timeout_s:g} s.") from None

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _release(self, future: Future) -> None:
        with self._lock:
            self._pending -= 1
