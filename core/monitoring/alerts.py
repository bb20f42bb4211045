"""Alert rules over the prediction log (assets/monitoring/alerts.toml), and what a check does
with them: each firing or resolved alert is written to the `alerts` table and the server's log,
and posted to the webhook when one is set.

An alert is deduplicated per rule and model: a rule that keeps firing is stored and posted once,
then again every `renotify_hours` (a reminder), and once more when it resolves, the way
Alertmanager groups its notifications.
"""

from __future__ import annotations

import dataclasses
import logging
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from core import config
from core.errors import ConfigError
from core.monitoring import report

log = logging.getLogger("core.monitoring")



@dataclass(frozen=True)
class Rules:
    window: int = 500
    renotify_hours: float = 6.0
    drift: dict = field(default_factory=lambda: {"min_features": 2, "alpha": 0.05})
    confidence: dict = field(default_factory=lambda: {"max_drop": 0.10})
    errors: dict = field(default_factory=lambda: {"max_share": 0.05, "min_requests": 20})
    latency: dict = field(default_factory=lambda: {"p95_ms": 1000.0, "models": {}})
    feedback: dict = field(default_factory=lambda: {"min_accuracy": 0.7, "min_verdicts": 20})

    def latency_limit(self, model: str) -> float:
        return float(self.latency.get("models", {}).get(model, self.latency["p95_ms"]))


@dataclass(frozen=True)
class Alert:
    rule: str
    model: str
    firing: bool
    value: float
    threshold: float
    message: str  # what is wrong, in words
    action: str  # what would answer it

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def load_rules(path: Path | None = None) -> Rules:
    """The rules in `path` (default: the shipped file), each section over the defaults."""
    path = path or config.ALERT_RULES
    try:
        written = tomllib.loads(path.read_text())
    except OSError as error:
        raise ConfigError(f"The alert rules {path} cannot be read ({error.strerror}).") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"The alert rules {path} are not valid TOML: {error}.") from None
    defaults = Rules()
    known = {name: getattr(defaults, name) for name in (f.name for f in dataclasses.fields(Rules))}
    unknown = sorted(set(written) - set(known))
    for name, value in written.items():
        if isinstance(known.get(name), dict):
            unknown += [f"{name}.{key}" for key in sorted(set(value) - set(known[name]))]
    if unknown:
        raise ConfigError(f"The alert rules {path} have unknown settings: {', '.join(unknown)} "
                          f"(known: {', '.join(known)}).")
    merged = {name: {**known[name], **value} if isinstance(known[name], dict) else value
              for name, value in written.items()}
    return dataclasses.replace(defaults, **merged)


def evaluate(found: report.DriftReport, rules: Rules) -> list[Alert]:
    """Every rule that `found` holds enough records to judge, firing or not."""
    health, model, action = found.health, found.model, retraining_action(found.model)
    judged = []
    if found.tests:
        drifted = found.drifted
        words = "; ".join(test.description for test in drifted) or "no feature drifted"
        judged.append(Alert("drift", model, len(drifted) >= rules.drift["min_features"], len(drifted),
                            rules.drift["min_features"], f"{len(drifted)} features drifted ({words})", action))
    mean, reference = health.get("mean_confidence"), health.get("reference_confidence")
    if mean is not None and reference is not None:
        drop = reference - mean
        judged.append(Alert("confidence", model, drop > rules.confidence["max_drop"], drop,
                            rules.confidence["max_drop"],
                            f"mean confidence {mean:.3f} against {reference:.3f} in the reference", action))
    share, requests = health.get("error_share"), health.get("requests", 0)
    if share is not None and requests >= rules.errors["min_requests"]:
        judged.append(Alert("errors", model, share > rules.errors["max_share"], share, rules.errors["max_share"],
                            f"{share:.1%} of the latest {requests} requests failed",
                            "read the server's log and the failed requests' error codes"))
    p95 = health.get("latency_p95_ms")
    if p95 is not None and requests >= rules.errors["min_requests"]:
        limit = rules.latency_limit(model)
        judged.append(Alert("latency", model, p95 > limit, p95, limit, f"p95 latency {p95:.0f} ms (limit {limit:g})",
                            "python -m core bench; more API workers or the fast runtime (VISION_RUNTIME=fast)"))
    accuracy, verdicts = health.get("feedback_accuracy"), health.get("feedback", 0)
    if accuracy is not None and verdicts >= rules.feedback["min_verdicts"]:
        floor = rules.feedback["min_accuracy"]
        judged.append(Alert("feedback", model, accuracy < floor, accuracy, floor,
                            f"users marked {accuracy:.0%} of {verdicts} predictions right", action))
    return judged


def retraining_action(model: str) -> str:
    """The command that would answer drift or falling accuracy (the retraining pipeline knows our
    own trained models; a pretrained one can only be compared with another)."""
    from core.models.registry import get_spec

    if get_spec(model).framework == "keras-file":
        return f"python -m training.retrain --model {model} --new-data FOLDER (labelled images like the live ones)"
    return (f"{model} is pretrained here: compare it with the other models on the live images (the app's "
            f"Compare page), or fine-tune a model on labelled live images")
