"""The one way in: every front end (the CLI, the pages, live video, the benchmark, evaluation and
the REST API) asks this module for models, predictions and explanations.

Inputs are checked here, once: images go through core.io.images (anything it accepts: a path,
bytes, a file object, a PIL image or an array) and options through `options_for`. Results are the
typed results of core.results and core.explain.base, carrying the model's name, version, label
vocabulary and the options used. Failures are the typed errors of core.errors; a model that fails
on an input raises InferenceError naming the model and the cause.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, replace

from core import config, monitoring
from core.errors import ImageError, InferenceError, InvalidOptionError, RequestError, VisionError
from core.io.images import ImageSource, load_image
from core.models import loading
from core.models.registry import REGISTRY, get_spec
from core.models.runtimes import short_digest
from core.models.weights import find_model_file

BATCH_SIZE = 32  # images per model call in predict_many (classifiers)
MIN_IMGSZ, MAX_IMGSZ, STRIDE = 32, 2048, 32  # a detector's input side must be a multiple of its stride


@dataclass(frozen=True)
class ModelInfo:
    """A registry entry as a front end lists it: what the model is and whether it can run here."""

    name: str
    task: str
    title: str
    dataset: str
    input_size: int
    classes: int
    weights: str  # canonical file name
    weights_path: str | None  # where loading would find it now (None: missing, or downloaded on first use)
    loaded: bool
    version: str | None = None  # a short digest of the weights file (None until there is one)
    runtime: str = ""  # what runs a single image: tflite, tensorflow, onnxruntime or pytorch
    problem: str | None = None  # why the entry itself cannot be used (a broken sidecar)

    def to_dict(self) -> dict:
        return asdict(self)


def list_models(task: str | None = None) -> list[ModelInfo]:
    """Every registered model (of `task`, if given), then any whose sidecar cannot be used."""
    infos = [_info(name, spec) for name, spec in REGISTRY.items() if task is None or spec.task == task]
    for name, error in REGISTRY.broken().items():
        infos.append(ModelInfo(name, "unknown", name, "unknown", 0, 0, "", None, False, problem=str(error)))
    return infos


def model_info(name: str) -> ModelInfo:
    """One model's entry (raises UnknownModelError or ModelConfigError)."""
    return _info(name, get_spec(name))


def _info(name: str, spec) -> ModelInfo:
    found = find_model_file(spec)
    return ModelInfo(name, spec.task, spec.title, spec.dataset, spec.input_size, spec.num_classes, spec.weights,
                     str(found) if found else None, loading.is_loaded(name), short_digest(found) if found else None,
                     _runtime(spec))


def labels(name: str) -> tuple[str, ...]:
    """Model `name`'s label vocabulary in class-index order (loads the model)."""
    return tuple(load(name).labels)


def _runtime(spec) -> str:
    """What runs a single image of the model: its fast runtime, or its framework."""
    if spec.variant_of:  # an optimised file: it has no framework path
        return spec.framework
    detector = spec.framework == "ultralytics"
    if config.fast_runtime():
        return "onnxruntime" if detector else "tflite"
    return "pytorch" if detector else "tensorflow"


def is_loaded(name: str) -> bool:
    return loading.is_loaded(name)


def load(name: str, weights: str | None = None):
    """The shared model `name`, loaded on first use. Raises UnknownModelError, ModelConfigError or
    WeightsNotFoundError."""
    get_spec(name)
    return loading.get_model(name, weights)


def options_for(name: str, **given) -> dict:
    """The options a prediction of `name` runs with: `given` checked, defaults for the rest (None
    means the default). Raises InvalidOptionError for an option the model does not take or a value
    out of range."""
    spec = get_spec(name)
    accepted = _DEFAULTS[spec.task]
    unknown = sorted(set(given) - set(accepted))
    if unknown:
        kind = "classifier" if spec.task == "classify" else "detector"
        raise InvalidOptionError(f"{name} is a {kind}: it takes {', '.join(accepted)}, not {', '.join(unknown)}.")
    options = {key: default if given.get(key) is None else given[key] for key, default in accepted.items()}
    for key, value in options.items():
        _CHECKS[key](name, spec, value)
    if spec.task == "classify":
        options["top_k"] = min(int(options["top_k"]), spec.num_classes)
    return options


def predict(name: str, image: ImageSource, *, weights: str | None = None, source: str | None = None, **options):
    """One image through model `name`: a Classification or Detections. Options: top_k for a
    classifier; conf, iou and imgsz for a detector. With a `source` (app, api, cli) the prediction,
    or its failure, is recorded in the prediction log and the result carries its `prediction_id`."""
    chosen = options_for(name, **options)
    model = load(name, weights)
    start = time.perf_counter()
    try:
        pixels = load_image(image)
        result = guarded(name, lambda: model.predict(pixels, **chosen))
    except (ImageError, InferenceError) as error:
        if source:
            monitoring.record_failure(name, error, source, _ms_since(start))
        raise
    return _logged(result, pixels, source, _ms_since(start))


def _logged(result, pixels, source: str | None, latency_ms: float):
    """`result`, recorded in the prediction log (and carrying its id) when a `source` asks for it."""
    if not source:
        return result
    prediction_id = monitoring.new_prediction_id()
    monitoring.record(result, pixels, source, latency_ms, prediction_id)
    return replace(result, prediction_id=prediction_id)


def _ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def feedback(prediction_id: str, correct: bool, label: str | None = None, source: str = "api") -> None:
    """A user's verdict on a logged prediction: right, or wrong (and, if they say, what it shows).
    Raises RequestError for an id the log has never handed out or a label the model does not
    know, ConfigError when logging is off."""
    if not isinstance(correct, bool):
        raise RequestError(f"correct must be true or false, not {correct!r}.")
    found = monitoring.logged_prediction(prediction_id)
    if label is not None and label not in labels(found["model"]):
        raise RequestError(f"{get_spec(found['model']).title} has no class {label!r}.")
    monitoring.record_feedback(prediction_id, correct, label, source)


def iter_predictions(name: str, images: Iterable[ImageSource], *, batch_size: int = BATCH_SIZE,
                     weights: str | None = None, source: str | None = None, **options) -> Iterator:
    """Results for many images, in order, produced as they are computed (a classifier runs
    `batch_size` images per model call). A bad image raises ImageError when it is reached. A
    `source` logs each prediction (see `predict`)."""
    chosen = options_for(name, **options)
    model = load(name, weights)
    if get_spec(name).task != "classify":
        for image in images:
            yield predict(name, image, weights=weights, source=source, **chosen)
        return
    batch = []
    for image in images:
        batch.append(load_image(image))
        if len(batch) == batch_size:
            yield from _classified(name, model, batch, chosen, source)
            batch = []
    if batch:
        yield from _classified(name, model, batch, chosen, source)


def _classified(name: str, model, batch: list, options: dict, source: str | None) -> list:
    start = time.perf_counter()
    results = guarded(name, lambda: model.predict_batch(batch, **options))
    each_ms = _ms_since(start) / len(batch)
    return [_logged(result, pixels, source, each_ms) for result, pixels in zip(results, batch)]


def predict_many(name: str, images: Iterable[ImageSource], **options) -> list:
    """`iter_predictions` as a list."""
    return list(iter_predictions(name, images, **options))


def predict_each(name: str, images: Iterable[ImageSource], *, source: str | None = None, **options) -> list:
    """`predict_many`, except that an image that cannot be decoded takes its ImageError's place in
    the list instead of stopping the rest (what a request of several uploads wants). A `source`
    logs each image's prediction or error (see `predict`)."""
    chosen = options_for(name, **options)
    load(name)  # a model that cannot load fails the whole call, before any decoding
    start = time.perf_counter()
    decoded = []
    for image in images:
        try:
            decoded.append(load_image(image))
        except ImageError as error:
            decoded.append(error)
            if source:
                monitoring.record_failure(name, error, source, 0.0)
    good = [pixels for pixels in decoded if not isinstance(pixels, ImageError)]
    try:
        answers = iter(predict_many(name, good, source=source, **chosen))
    except InferenceError as error:
        for _ in good if source else ():
            monitoring.record_failure(name, error, source, _ms_since(start) / len(good))
        raise
    return [item if isinstance(item, ImageError) else next(answers) for item in decoded]


def explain(name: str, image: ImageSource, method: str | None = None, *, target: int | str | None = None,
            layer: str | None = None, box: int | None = None, faithfulness: bool = True):
    """A heatmap of why model `name` answers what it does for `image` (see core.explain.methods)."""
    from core.explain.methods import explain as explain_with

    model = load(name)
    pixels = load_image(image)
    return guarded(name, lambda: explain_with(model, pixels, method, target, layer, box, faithfulness))


def methods(name: str) -> dict[str, str]:
    """The explanation methods model `name` supports (name -> title), its default first."""
    from core.explain.methods import methods_of

    return methods_of(get_spec(name))


def layers(name: str) -> list[str]:
    """The layers an explanation of model `name` can be taken at, its default first."""
    from core.explain.methods import layers_for

    return guarded(name, lambda: layers_for(load(name)))


def guarded(name: str, call):
    """Run `call`; a failure that is not one of ours becomes InferenceError naming model and cause."""
    try:
        return call()
    except VisionError:
        raise
    except Exception as error:  # the frameworks raise many types; the user needs one clear message
        cause = f"{type(error).__name__}: {error}"
        raise InferenceError(f"{get_spec(name).title} failed on this image ({cause}).") from error


def _check_top_k(name: str, spec, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidOptionError(f"top_k must be a whole number of at least 1, not {value!r}.")


def _check_fraction(key: str, low_open: bool):
    """A check of a number in [0, 1], or in (0, 1] when `low_open` (an IoU of 0 would drop every box)."""
    def check(name: str, spec, value) -> None:
        number = not isinstance(value, bool) and isinstance(value, (int, float))
        if not number or not (0 < value <= 1 if low_open else 0 <= value <= 1):
            raise InvalidOptionError(f"{key} must be a number {'above' if low_open else 'from'} 0 to 1, not {value!r}.")
    return check


def _check_imgsz(name: str, spec, value) -> None:
    whole = not isinstance(value, bool) and isinstance(value, int)
    if not whole or not MIN_IMGSZ <= value <= MAX_IMGSZ or value % STRIDE:
        raise InvalidOptionError(f"imgsz must be a multiple of {STRIDE} from {MIN_IMGSZ} to {MAX_IMGSZ}, "
                                 f"not {value!r}.")


_DEFAULTS = {
    "classify": {"top_k": config.TOP_K},
    "detect": {"conf": config.CONFIDENCE, "iou": config.NMS_IOU, "imgsz": None},
}
_CHECKS = {
    "top_k": _check_top_k,
    "conf": _check_fraction("conf", low_open=False),
    "iou": _check_fraction("iou", low_open=True),
    "imgsz": lambda name, spec, value: value is None or _check_imgsz(name, spec, value),
}


# Robustness (/robustness): the page's perturbations, a sweep of one of them, adversarial attacks
def perturb(image: ImageSource, *, seed: int = 0, **controls):
    """`image` as RGB uint8 with the page's perturbations (core.robustness.perturb.CONTROLS: blur,
    noise, jpeg_quality, brightness, contrast, rotation, occlusion_size/_x/_y). InvalidOptionError
    for an unknown control or a value out of its range."""
    from core.robustness.perturb import perturb as perturbed

    return perturbed(load_image(image), seed, **controls)


def sweep(name: str, image: ImageSource, control: str, *, seed: int = 0, **fixed) -> list:
    """Model `name`'s confidence in its clean answer at each level of `control` (SweepPoints)."""
    from core.robustness.perturb import confidence_curve, sweep_images

    levels, images = sweep_images(load_image(image), control, seed, **fixed)
    return confidence_curve(name, control, levels, predict_many(name, images))


def attack(name: str, image: ImageSource, epsilon: float, method: str = "fgsm", target: int | str | None = None):
    """`image` attacked through Keras classifier `name` with FGSM or PGD within ε (a share of 0-255),
    away from its answer or towards `target`: an AttackResult (core.robustness.adversarial)."""
    from core.robustness.adversarial import attack_image

    pixels = load_image(image)
    return guarded(name, lambda: attack_image(name, pixels, epsilon, method, target))
