"""Champion and challenger side by side on live traffic: on a share of the API's predictions
(VISION_SHADOW_SHARE), the model's `challenger` in the MLflow registry answers the same image after
the response has been sent, and its answer is logged with role "shadow", linked to the served one
(shadow_of). /monitor then shows how often the two agree, and their confidence and latency.

Only our trained models have registry versions. A model without a challenger is skipped, said in
the log once, and looked up again after CHALLENGER_RETRY_S (an alias set later is picked up).
"""

from __future__ import annotations

import logging
import random
import threading
import time

from core import config, monitoring
from core.errors import ConfigError, VisionError, WeightsDamagedError, WeightsNotFoundError

log = logging.getLogger("core.monitoring")

CHALLENGER_RETRY_S = 300.0
UNAVAILABLE = (WeightsNotFoundError, WeightsDamagedError)  # no challenger alias, or its files are broken

_missing: dict[str, float] = {}  # model -> when its challenger was last found missing
_missing_guard = threading.Lock()


def chosen(name: str, answers: list) -> list[int]:
    """Which of a request's `answers` (results or errors) the challenger should also answer."""
    try:
        share = config.shadow_share()
    except ConfigError as error:  # a bad setting turns shadowing off, never the serving
        monitoring.warn_once(f"no shadow predictions: {error}")
        return []
    if share <= 0 or not _may_have_challenger(name):
        return []
    return [index for index, answer in enumerate(answers)
            if getattr(answer, "prediction_id", "") and random.random() < share]  # sampling, not secrets


def run(name: str, images: list, served: list, options: dict) -> int:
    """The challenger's answers to `images`, logged beside `served` (their served answers); how many
    were logged. A challenger that cannot load is remembered as missing; an image it fails on is
    skipped. Nothing reaches the client, who has had the champion's answer already."""
    from core import service
    from core.io.images import load_image
    from core.models.mlflow_models import champion_uri

    uri = champion_uri(name, config.SHADOW_ALIAS)
    logged = 0
    for image, answer in zip(images, served):
        start = time.perf_counter()
        try:
            pixels = load_image(image)
            result = service.predict(name, pixels, weights=uri, **options)
        except UNAVAILABLE as error:
            _remember_missing(name, error)
            return logged
        except VisionError as error:
            log.info("the challenger of %s failed on an image: %s", name, error)
            continue
        monitoring.record(result, pixels, "api", (time.perf_counter() - start) * 1000,
                          monitoring.new_prediction_id(), role="shadow", shadow_of=answer.prediction_id)
        logged += 1
    return logged


def _may_have_challenger(name: str) -> bool:
    from core.models.registry import get_spec

    if get_spec(name).framework != "keras-file":
        return False
    with _missing_guard:
        return time.monotonic() - _missing.get(name, -CHALLENGER_RETRY_S) >= CHALLENGER_RETRY_S


def _remember_missing(name: str, error: VisionError) -> None:
    with _missing_guard:
        first = name not in _missing
        _missing[name] = time.monotonic()
    if first:
        log.warning("no shadow predictions for %s: %s (looked up again every %g s)", name, error, CHALLENGER_RETRY_S)

