"""Alert rules over the prediction log (assets/monitoring/alerts.toml), and each rule's verdict on
a model's drift report. What a check does with the verdicts (store, log, post) is in checks.py.

An alert is deduplicated per rule and model: a rule that keeps firing is stored and posted once,
then again every `renotify_hours` (a reminder), and once more when it resolves, the way
Alertmanager groups its notifications.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path

from core import config
from core.errors import ConfigError
from core.monitoring import report


@dataclass(frozen=True)
class Rules:
    """The rules as config.ALERT_RULES ships them, or another file's settings over those."""

    window: int  # latest records per model
    renotify_hours: float
    drift: dict  # min_features, alpha
    confidence: dict  # max_drop
    errors: dict  # max_share, min_requests
    latency: dict  # p95_ms, models: {name: p95_ms}
    feedback: dict  # min_accuracy, min_verdicts

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
    """The shipped rules, with `path`'s settings (when given) over them, section by section."""
    shipped = _read(config.ALERT_RULES)
    if path is None:
        return Rules(**shipped)
    written = _read(path)
    unknown = sorted(set(written) - set(shipped))
    for name, value in written.items():
        if isinstance(shipped.get(name), dict) and not isinstance(value, dict):
            raise ConfigError(f"The alert rules {path}: {name} is a section ([{name}]), not a value.")
        if isinstance(shipped.get(name), dict):
            unknown += [f"{name}.{key}" for key in sorted(set(value) - set(shipped[name]))]
    if unknown:
        raise ConfigError(f"The alert rules {path} have unknown settings: {', '.join(unknown)} "
                          f"(known: {', '.join(shipped)}).")
    merged = {name: {**shipped[name], **value} if isinstance(shipped[name], dict) else value
              for name, value in written.items()}
    return Rules(**{**shipped, **merged})


def _read(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text())
    except OSError as error:
        raise ConfigError(f"The alert rules {path} cannot be read ({error.strerror}).") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"The alert rules {path} are not valid TOML: {error}.") from None


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
    from core.errors import VisionError
    from core.models.registry import get_spec

    try:
        trained_here = get_spec(model).framework == "keras-file"
    except VisionError:  # a model the log remembers but the registry no longer has
        return f"{model} is no longer registered: nothing to retrain"
    if trained_here:
        return f"python -m training.retrain --model {model} --new-data FOLDER (labelled images like the live ones)"
    return (f"{model} is pretrained here: compare it with the other models on the live images (the app's "
            f"Compare page), or fine-tune a model on labelled live images")
