"""Prometheus metrics of the API, served as text at GET /metrics.

Labels are bounded: `route` is the route's template (/v1/models/{name}/predict), never the raw
path, and `model` is a registered model's name or empty, so a client inventing paths or names
cannot grow the server's memory. Each app has its own registry (a test may build several). With
`--workers N` every worker process counts its own requests: scrape each, or run one worker per
container and let the orchestrator scale (the usual set-up).
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, disable_created_metrics

disable_created_metrics()  # the *_created series only repeat the start time, once per label set

# Seconds: from a cached CIFAR answer (~1 ms) to a Score-CAM explanation of a large photo.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class ApiMetrics:
    def __init__(self, models: set[str]):
        self.models = models
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)  # process_cpu_seconds_total, resident memory, open files
        self.requests = Counter("vision_api_requests", "HTTP requests answered", ["route", "model", "status"],
                                registry=self.registry)
        self.request_seconds = Histogram("vision_api_request_seconds", "Time to answer an HTTP request",
                                         ["route", "model", "status"], buckets=BUCKETS, registry=self.registry)
        self.inference_seconds = Histogram("vision_api_inference_seconds", "Time a worker spent on one inference "
                                           "(decoding included)", ["model", "kind"], buckets=BUCKETS,
                                           registry=self.registry)
        self.in_flight = Gauge("vision_api_requests_in_flight", "HTTP requests being answered", registry=self.registry)
        self.queued = Gauge("vision_api_inference_queue", "Inferences waiting or running", registry=self.registry)
        self.rejections = Counter("vision_api_queue_rejections", "Requests refused because the inference queue "
                                  "was full", ["model"], registry=self.registry)
        self.timeouts = Counter("vision_api_inference_timeouts", "Inferences that took longer than the limit",
                                ["model"], registry=self.registry)

        self.log_written = Gauge("vision_monitor_records_written", "Prediction records this process wrote to the "
                                 "log", registry=self.registry)
        self.log_dropped = Gauge("vision_monitor_records_dropped", "Prediction records dropped because the log's "
                                 "queue was full", registry=self.registry)
        self.log_queued = Gauge("vision_monitor_queue", "Prediction records waiting for the writer",
                                registry=self.registry)

        self.alert_firing = Gauge("vision_alert_firing", "1 while an alert rule fires for a model (the latest "
                                  "check's verdict)", ["rule", "model"], registry=self.registry)
        self.alert_checked = Gauge("vision_alert_last_check_timestamp_seconds", "When the alert rules were last "
                                   "judged", registry=self.registry)

    def observe_alerts(self, judged, checked_at: float) -> None:
        """A check's verdicts: every judged rule's gauge 1 or 0 (a rule not judged this time keeps its value)."""
        for alert in judged:
            self.alert_firing.labels(alert.rule, self.model_label(alert.model)).set(1 if alert.firing else 0)
        self.alert_checked.set(checked_at)

    def observe_log(self, log) -> None:
        """The prediction log's counters, as they are now (all 0 when logging is off)."""
        counts = log.counts if log else None
        self.log_written.set(counts.written if counts else 0)
        self.log_dropped.set(counts.dropped if counts else 0)
        self.log_queued.set(log.queued if log else 0)

    def model_label(self, name: str | None) -> str:
        return name if name in self.models else ""


class MetricsMiddleware:
    """ASGI middleware counting every request by route template, model and status."""

    def __init__(self, app, metrics: ApiMetrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        status = 500  # what the server answers if the app fails before it starts a response
        start = time.perf_counter()

        async def recorded(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, recorded)
        finally:
            self.metrics.in_flight.dec()
            route = getattr(scope.get("route"), "path", "unmatched")
            model = self.metrics.model_label(scope.get("path_params", {}).get("name"))
            labels = (route, model, str(status))
            self.metrics.requests.labels(*labels).inc()
            self.metrics.request_seconds.labels(*labels).observe(time.perf_counter() - start)


def metric_value(text: str, name: str, **labels: str) -> float:
    """The value of sample `name` with `labels` in Prometheus text, 0 when there is none yet."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(key) == value for key, value in labels.items()):
                return sample.value
    return 0.0
