"""Class activation maps of a Keras classifier, put back over the original image and scored.

The map itself comes from the method's function (core.explain.keras_cams); what is shared is
here: choosing the target class and the layer, resizing the map to the input, then to the
original image, and the faithfulness curves (on the model's input, scored by the target's
probability).
"""

from __future__ import annotations

import time

import numpy as np

from core.errors import InvalidOptionError
from core.explain import keras_cams
from core.explain.base import Explanation, Target, normalise, resize_map, to_original
from core.explain.faithfulness import Faithfulness, faithfulness, shared_baseline

CROP_NOTE = "the model sees only the centre crop; outside it the map is zero"


def resolve_target(model, probabilities: np.ndarray, target: int | str | None) -> Target:
    """The class to explain: by label, by index (an int or a string of digits), or the top class."""
    if target is None:
        index = int(np.argmax(probabilities))
    elif isinstance(target, str) and not target.lstrip("-").isdigit():
        if target not in model.labels:
            raise InvalidOptionError(f"{target!r} is not a class of {model.spec.name}.")
        index = model.labels.index(target)
    else:
        index = int(target)
        if not 0 <= index < len(model.labels):
            last = len(model.labels) - 1
            raise InvalidOptionError(f"Class index {index} is outside 0..{last} for {model.spec.name}.")
    return Target(model.labels[index], index, float(probabilities[index]))


def layer_choices(model) -> list[str]:
    """Layers a map can be taken at, the registry's default first, then deepest first."""
    layers = keras_cams.spatial_layers(keras_cams.keras_model(model))[::-1]
    default = model.spec.gradcam_layer
    return [default] + [name for name in layers if name != default] if default in layers else layers


def explain_classifier(model, image: np.ndarray, method, target, layer, box, with_faithfulness: bool) -> Explanation:
    """`method.compute(model, pixels, class_index, layer)` gives the coarse map at the layer."""
    if box is not None:
        raise InvalidOptionError(f"box chooses a detection; {model.spec.name} is a classifier (use target).")
    pixels = model.model_input(image)
    probabilities = model.probabilities(pixels[None])[0]
    chosen = resolve_target(model, probabilities, target)
    layer = layer or model.spec.gradcam_layer or keras_cams.spatial_layers(keras_cams.keras_model(model))[-1]
    start = time.perf_counter()
    on_input = map_on_input(model, pixels, method, chosen.index, layer)
    latency_ms = (time.perf_counter() - start) * 1000
    score = class_faithfulness(model, pixels, on_input, chosen.index) if with_faithfulness else None
    source = getattr(model, "source", None)
    masks = f"masks from {source.spec.name}'s feature maps, scores from this int8 model" if source else ""
    notes = [method.note, masks, CROP_NOTE if model.spec.resize == "center-crop" else ""]
    return Explanation(model.spec.name, method.name, chosen, layer, to_original(on_input, image.shape, model.spec),
                       score, latency_ms, "; ".join(n for n in notes if n), version=model.version)


def map_on_input(model, pixels: np.ndarray, method, index: int, layer: str) -> np.ndarray:
    """The method's map for class `index` at `layer`, resized to the model's input and scaled to [0, 1]."""
    return normalise(resize_map(method.compute(model, pixels, index, layer), pixels.shape[:2]))


def class_faithfulness(model, pixels: np.ndarray, on_input: np.ndarray, index: int) -> Faithfulness:
    """The map's curves for class `index`, against random maps shared with other maps of this image."""
    score = class_score(model, index)
    # id(): a model built in a test can share the served one's name and weights file, not its answers
    baseline = shared_baseline((id(model), model.spec.name, model.version, index), pixels, score)
    return faithfulness(on_input, pixels, score, baseline)


def class_score(model, index: int):
    """What the faithfulness curves follow: class `index`'s probability for each image of a batch.
    When a TFLite export answers single images (the model's `served_file`), they go one at a time:
    on 2 CPU cores, 30 MobileNetV2 inputs took 0.9-1.4 s that way against 3.1-3.9 s as one
    TensorFlow batch, with the same answers (to 4e-6)."""
    if getattr(model, "served_file", None) != getattr(model, "weights", None):
        return lambda batch: np.array([model.probabilities(one[None])[0, index] for one in batch])
    return lambda batch: model.probabilities(batch)[:, index]
