"""One check of the alert rules: every logged model's latest window judged, what changed since
the last check stored in the `alerts` table, logged, and posted to the webhook.

The webhook's body is Slack-compatible (a `text` field that Slack's and Mattermost's incoming
webhooks show as it is) and carries the alerts as data too:
    {"text": "...", "alerts": [{"rule", "model", "state", "value", "threshold", "message",
                                "action", "created_at"}, ...]}
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

import sqlalchemy as sa

from core import config
from core.monitoring import alerts, queries, report, store

log = logging.getLogger("core.monitoring")

WEBHOOK_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Change:
    alert: alerts.Alert
    state: str  # firing (new, or a reminder), or resolved
    created_at: float

    def to_dict(self) -> dict:
        described = {key: value for key, value in self.alert.to_dict().items() if key != "firing"}
        return {**described, "state": self.state, "created_at": self.created_at}


@dataclass(frozen=True)
class CheckResult:
    judged: list[alerts.Alert]  # every rule each model's window could be judged by
    changes: list[Change]  # what was stored (and posted) this time
    reports: list[report.DriftReport]
    webhook_error: str | None = None

    @property
    def firing(self) -> list[alerts.Alert]:
        return [alert for alert in self.judged if alert.firing]


def check(models: list[str] | None = None, rules: alerts.Rules | None = None, notify: bool = True) -> CheckResult:
    """Judge `models` (default: every model in the log) and store and post what changed."""
    rules = rules or alerts.load_rules()
    names = models or queries.models_logged()
    reports = [report.build(name, rules.window, alpha=rules.drift["alpha"],
                            min_features=rules.drift["min_features"]) for name in names]
    judged = [alert for found in reports for alert in alerts.evaluate(found, rules)]
    now = time.time()
    changes = [change for alert in judged if (change := _change(alert, now, rules.renotify_hours * 3600))]
    error = post(changes) if changes and notify else None
    _store(changes, notified=bool(changes) and notify and error is None and config.alert_webhook() is not None)
    for change in changes:
        level = logging.WARNING if change.state == "firing" else logging.INFO
        log.log(level, "alert %s: %s on %s: %s (%s)", change.state, change.alert.rule, change.alert.model,
                change.alert.message, change.alert.action)
    return CheckResult(judged, changes, reports, error)


def _change(alert: alerts.Alert, now: float, renotify_s: float) -> Change | None:
    """What `alert` means against the last stored state of its rule and model (None: nothing new)."""
    last = latest(alert.rule, alert.model)
    unsent = last is not None and not last["notified"] and config.alert_webhook() is not None  # post it again
    if alert.firing and (last is None or last["state"] == "resolved" or unsent
                         or now - last["created_at"] >= renotify_s):
        return Change(alert, "firing", now)
    if not alert.firing and last is not None and last["state"] == "firing":
        return Change(alert, "resolved", now)
    return None


def latest(rule: str, model: str) -> dict | None:
    table = store.alerts
    query = (sa.select(table.c.state, table.c.created_at, table.c.notified).where(table.c.rule == rule, table.c.model == model)
             .order_by(table.c.id.desc()).limit(1))
    with queries.connect() as connection:
        row = connection.execute(query).mappings().first()
    return dict(row) if row else None


def history(model: str | None = None, limit: int = 200) -> list[dict]:
    """The latest stored alerts (of `model`, or of all), newest first (the /monitor page's table)."""
    table = store.alerts
    columns = [table.c[name] for name in ("created_at", "model", "rule", "state", "message", "action", "notified")]
    query = sa.select(*columns).order_by(table.c.id.desc()).limit(limit)
    if model is not None:
        query = query.where(table.c.model == model)
    with queries.connect() as connection:
        return [dict(row) for row in connection.execute(query).mappings()]


def _store(changes: list[Change], notified: bool) -> None:
    if not changes:
        return
    rows = [{**change.to_dict(), "notified": notified} for change in changes]
    with queries.connect(write=True) as connection:
        connection.execute(store.alerts.insert(), rows)


def post(changes: list[Change]) -> str | None:
    """Post `changes` to VISION_ALERT_WEBHOOK (when set); the error in words if it failed, never raised."""
    url = config.alert_webhook()
    if url is None:
        return None
    body = json.dumps({"text": summary(changes), "alerts": [change.to_dict() for change in changes]}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_S) as answer:
            answer.read()
        return None
    except (urllib.error.URLError, OSError, ValueError) as error:
        where = urllib.parse.urlsplit(url)  # the host only: a Slack webhook's path is its secret
        reason = f"the alert webhook at {where.scheme}://{where.hostname} did not take the alerts ({error})"
        log.error(reason)
        return reason


def summary(changes: list[Change]) -> str:
    """The webhook's `text`: one line per alert, the way a person reads it in a chat channel."""
    lines = []
    for change in changes:
        alert = change.alert
        mark = "FIRING" if change.state == "firing" else "resolved"
        lines.append(f"[{mark}] {alert.model} {alert.rule}: {alert.message}. Action: {alert.action}")
    return "\n".join(lines)
