"""The API's periodic check of the alert rules (every VISION_MONITOR_CHECK_S seconds, on a thread
of its own): what `python -m core monitor check` does from cron, plus the verdicts as gauges on
/metrics, so Prometheus' Alertmanager can take over.

With several workers (or hosts) each one checks; the alerts table dedupes what they store, but
two checks at the same moment may both post a new alert. Run one checker (cron, or one worker
with the checks on) where that matters.
"""

from __future__ import annotations

import logging
import threading
import time

from core import config, monitoring
from core.errors import VisionError

log = logging.getLogger("core.api")


def start_checks(metrics) -> threading.Event | None:
    """Start checking (when logging is on and the checks are not turned off); set the event to stop."""
    try:
        interval = config.monitor_check_s()
        logging_on = config.monitor_url() is not None
    except VisionError as error:
        log.error("the alert checks are off: %s", error)
        return None
    if interval is None or not logging_on:
        return None
    stop = threading.Event()
    threading.Thread(target=_run, args=(metrics, interval, stop), name="alert-checks", daemon=True).start()
    return stop


def _run(metrics, interval: float, stop: threading.Event) -> None:
    from core.monitoring import checks

    while not stop.wait(interval):
        try:
            monitoring.flush(interval)  # judge what was answered, not what waits in the queue
            result = checks.check()
            metrics.observe_alerts(result.judged, time.time())
        except VisionError as error:  # a bad rules file: said plainly; the API goes on
            log.error("the alert check failed: %s; the next one is in %g s", error, interval)
        except Exception:  # a database down, or a bug: in full in the server's log; the API goes on
            log.exception("the alert check failed; the next one is in %g s", interval)
