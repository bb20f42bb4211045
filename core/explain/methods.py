"""The table of explanation methods: adding one is a function plus one entry here, and the CLI,
the pages and the benchmark all read this table.

A classifier method's `compute(classifier, pixels, class_index, layer)` returns a coarse map at
the layer (see core.explain.keras_cams); a detector method's `run` does the whole explanation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.errors import InvalidOptionError
from core.explain import keras_cams
from core.explain.base import Explanation
from core.explain.classifier import explain_classifier
from core.explain.classifier import layer_choices as classifier_layers
from core.explain.detector import explain_detection
from core.explain.detector import layer_choices as detector_layers


@dataclass(frozen=True)
class Method:
    name: str  # what the CLI and the API take
    title: str  # what the pages show
    task: str  # "classify" or "detect"
    run: Callable[..., Explanation]  # (model, image, method, target, layer, box, faithfulness)
    compute: Callable | None = None  # a classifier method's map at the layer
    note: str = ""  # shown under every map it makes
    slow: bool = False  # the benchmark times fewer runs of it
    gradient_free: bool = False  # it needs only the model's answers (so int8 variants can use it)


METHODS = {method.name: method for method in (
    Method("gradcam", "Grad-CAM", "classify", explain_classifier, keras_cams.gradcam),
    Method("gradcam++", "Grad-CAM++", "classify", explain_classifier, keras_cams.gradcam_plus_plus),
    Method("scorecam", "Score-CAM", "classify", explain_classifier, keras_cams.scorecam,
           note=f"Score-CAM on the {keras_cams.SCORE_CAM_CHANNELS} most active channels", slow=True, gradient_free=True),
    Method("eigencam", "EigenCAM", "detect", explain_detection, slow=True, gradient_free=True),
)}
LAYER_CHOICES = {"classify": classifier_layers, "detect": detector_layers}


def methods_for(task: str) -> dict[str, str]:
    """Method name -> title for a task ("classify" or "detect"), the default first."""
    return {name: method.title for name, method in METHODS.items() if method.task == task}


def methods_of(spec) -> dict[str, str]:
    """The methods that can explain the model of registry entry `spec`: its task's, except that an
    int8 classifier is a TFLite file alone, with no gradients: only the gradient-free Score-CAM
    (masking with its source's feature maps)."""
    methods = methods_for(spec.task)
    if spec.variant and spec.task == "classify":
        return {name: title for name, title in methods.items() if METHODS[name].gradient_free}
    return methods


def layers_for(model) -> list[str]:
    """The layers a map of `model` can be taken at, its default first."""
    return LAYER_CHOICES[model.spec.task](model)


def explain(model, image: np.ndarray, method: str | None = None, target: int | str | None = None,
            layer: str | None = None, box: int | None = None, faithfulness: bool = True) -> Explanation:
    """Explain `model`'s answer for `image` (RGB uint8). `target` is a class index or label for a
    classifier (default: the top class); `box` the index of a detection for a detector (default:
    every detection orients the map, and the most confident one is scored)."""
    names = methods_of(model.spec)
    method = method or next(iter(names))
    if method not in names:
        why = " (an int8 TFLite file has no gradients)" if model.spec.variant else ""
        raise InvalidOptionError(f"{model.spec.name} supports {', '.join(names)}, not {method!r}{why}.")
    chosen = METHODS[method]
    return chosen.run(model, image, chosen, target, layer, box, faithfulness)
