"""Adversarial attacks on the Keras classifiers: FGSM and PGD, and robust accuracy.

They work in the space a real image lives in: the model's input pixels, 0-255 (every saved
classifier scales its pixels inside the model), so ε = k/255 lets each pixel move by k grey
levels. Every attacked image is clipped to [0, 255] and rounded to uint8 before it is scored:
a perturbation a PNG cannot carry would not be an attack on an image. (A fractional ε is thus
floor(255 ε) whole levels.)

FGSM (Goodfellow et al. 2015): one step of ε along the sign of the loss's gradient. PGD (Madry et
al. 2018): `steps` steps of ε/4 (their 2.5 ε / steps for 10 steps), each projected back onto the
ε-ball around the image, from a random start in that ball drawn from a seeded generator. The
loss is the cross-entropy of the logits (before the softmax: saturated probabilities have no
gradient). An int8 variant (TFLite) has no gradients and a detector no single answer to attack:
both raise InvalidOptionError.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np

from core import frameworks
from core.errors import InvalidOptionError
from core.explain.keras_cams import logits
from core.models.loading import get_model
from core.models.registry import get_spec
from core.results import Classification

PGD_STEPS = 10
PGD_STEP_FRACTION = 0.25  # of ε per step: Madry et al.'s 2.5 ε / steps at 10 steps
BATCH = 100  # images per gradient call in robust_accuracy (a 224-px model gets a quarter of it)
EPSILONS = (1 / 255, 2 / 255, 4 / 255)  # what the robustness JSON reports
METHODS = {"fgsm": "FGSM (one step)", "pgd": f"PGD ({PGD_STEPS} steps)"}

_gradients: dict[int, object] = {}  # id(Keras model) -> traced loss-gradient function
_guard = threading.Lock()


@dataclass(frozen=True)
class AttackResult:
    """One image attacked: the model's input before and after, and its answers to both."""

    model: str
    method: str
    epsilon: float  # a fraction of the 0-255 range: 4/255 lets each pixel move 4 grey levels
    clean_input: np.ndarray = field(repr=False)  # RGB uint8, the model's input size
    adversarial: np.ndarray = field(repr=False)  # the same, attacked (what a PNG of it would hold)
    clean: Classification
    attacked: Classification
    target: str | None = None  # the class a targeted attack pushed towards
    latency_ms: float = 0.0

    @property
    def perturbation(self) -> np.ndarray:
        """adversarial - clean, in grey levels (int16: it can be negative)."""
        return self.adversarial.astype(np.int16) - self.clean_input.astype(np.int16)

    @property
    def changed(self) -> bool:
        return self.attacked.top.index != self.clean.top.index


def attackable(name: str):
    """The loaded Keras classifier `name`; InvalidOptionError for a detector or an int8 variant."""
    spec = get_spec(name)
    if spec.task != "classify":
        raise InvalidOptionError(f"{name} is a detector: adversarial attacks here need a Keras classifier "
                                 "(one answer per image, and gradients to follow).")
    if spec.variant_of:
        raise InvalidOptionError(f"{name} is an {spec.variant} TFLite file, which has no gradients to attack; "
                                 f"attack its source model, {spec.variant_of}.")
    return get_model(name)


def fgsm(model, images: np.ndarray, labels, epsilon: float) -> np.ndarray:
    """Images (N×S×S×3 uint8, the model's input size) moved ε·255 levels along the sign of the
    gradient of the loss of `labels`: clipped, rounded uint8."""
    return _attack(model, images, labels, epsilon, steps=1, step_fraction=1.0, random_start=False)


def pgd(model, images: np.ndarray, labels, epsilon: float, steps: int = PGD_STEPS, seed: int | None = 0) -> np.ndarray:
    """Projected gradient ascent on the loss of `labels`: `steps` steps of ε/4 inside the ε-ball,
    from a random start drawn with `seed` (None: start at the image itself)."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise InvalidOptionError(f"steps must be a whole number of at least 1, not {steps!r}.")
    return _attack(model, images, labels, epsilon, steps, PGD_STEP_FRACTION, random_start=seed is not None, seed=seed)


ATTACKS = {"fgsm": fgsm, "pgd": pgd}


def _attack(model, images, labels, epsilon, steps, step_fraction, random_start, seed=None, direction=1.0) -> np.ndarray:
    """The loop both attacks share. `direction` -1 descends the loss instead: a targeted attack,
    whose `labels` are the targets."""
    _check_epsilon(epsilon)
    clean = _checked_inputs(model, images)
    gradient = loss_gradient(_keras_model(model), clean.shape[1])
    radius = np.float32(epsilon * 255)
    low, high = np.maximum(clean - radius, 0), np.minimum(clean + radius, 255)
    labels = np.asarray(labels, np.int32).reshape(-1)
    current = clean.copy()
    if random_start and radius > 0:
        current = np.clip(current + np.random.default_rng(seed).uniform(-radius, radius, clean.shape), low, high)
    for _ in range(steps if radius > 0 else 0):
        grad = np.asarray(gradient(current.astype(np.float32), labels))
        current = np.clip(current + direction * step_fraction * radius * np.sign(grad), low, high)
    return _to_pixels(current, clean, epsilon)


def _to_pixels(current: np.ndarray, clean: np.ndarray, epsilon: float) -> np.ndarray:
    """Round to whole grey levels, still within the ε-ball: the rounded image is what is scored."""
    levels = np.floor(epsilon * 255 + 1e-6)  # a whole number of levels (1e-6: 4/255 * 255 is 3.9999...)
    return np.clip(np.rint(current), clean - levels, clean + levels).clip(0, 255).astype(np.uint8)


def _check_epsilon(epsilon) -> None:
    number = not isinstance(epsilon, bool) and isinstance(epsilon, (int, float, np.floating))
    if not number or not 0 <= epsilon <= 1:
        raise InvalidOptionError(f"epsilon must be a number from 0 to 1 (a share of the 0-255 range: 4/255 is "
                                 f"4 grey levels), not {epsilon!r}.")


def _checked_inputs(model, images) -> np.ndarray:
    """The batch as float32 pixels, after checking it is the model's input size."""
    pixels = np.asarray(images)
    side = model.spec.input_size
    if pixels.ndim != 4 or pixels.shape[1:] != (side, side, 3):
        raise InvalidOptionError(f"{model.spec.name} attacks a batch of its {side}×{side} RGB inputs, "
                                 f"not an array of shape {pixels.shape}.")
    return pixels.astype(np.float32)


def _keras_model(model):
    """The Keras model of a loaded classifier; an int8 variant has none it can be attacked through."""
    keras_model = getattr(model, "model", None)
    if keras_model is None or getattr(model.spec, "variant_of", None):
        raise InvalidOptionError(f"{model.spec.name} has no gradients to attack (a TFLite file); "
                                 "attack its source model.")
    return keras_model


def loss_gradient(keras_model, side: int):
    """A traced function (pixels N×S×S×3 float32, labels N int32) -> d(cross-entropy)/d(pixels),
    built once per model. Tracing happens under the lock, so concurrent first calls build one."""
    with _guard:
        if id(keras_model) not in _gradients:
            _gradients[id(keras_model)] = _build_loss_gradient(keras_model, side)
        return _gradients[id(keras_model)]


def _build_loss_gradient(keras_model, side: int):
    tf, keras = frameworks.tensorflow(), frameworks.keras()
    # A second model over the shared one's own layers, ending at the logits: nothing of the shared
    # model is changed, and its weights are read, never copied.
    logits_model = keras.Model(keras_model.inputs, logits(keras_model))

    @tf.function(input_signature=[tf.TensorSpec((None, side, side, 3), tf.float32), tf.TensorSpec((None,), tf.int32)])
    def run(pixels, labels):
        with tf.GradientTape() as tape:
            tape.watch(pixels)
            logits = logits_model(pixels, training=False)
            # Summed, not averaged: each image's gradient is its own loss's (only its sign is used)
            loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
        return tape.gradient(loss, pixels)

    run(np.zeros((1, side, side, 3), np.float32), np.zeros(1, np.int32))  # trace now, while locked
    return run


def attack_image(name: str, image: np.ndarray, epsilon: float, method: str = "fgsm",
                 target: int | str | None = None) -> AttackResult:
    """One RGB uint8 image attacked through model `name`'s input: away from its own answer, or
    towards `target` (a label or class index)."""
    if method not in ATTACKS:
        raise InvalidOptionError(f"method must be one of {', '.join(ATTACKS)}, not {method!r}.")
    _check_epsilon(epsilon)
    model = attackable(name)
    start = time.perf_counter()
    clean_input = model.model_input(image)[None]
    clean = model.classify_inputs(clean_input, top_k=5)[0]
    wanted = None if target is None else class_index(model, target)
    label = clean.top.index if wanted is None else wanted
    direction = 1.0 if wanted is None else -1.0  # towards a target: descend its loss
    steps, fraction = (1, 1.0) if method == "fgsm" else (PGD_STEPS, PGD_STEP_FRACTION)
    adversarial = _attack(model, clean_input, [label], epsilon, steps, fraction, method == "pgd", 0, direction)
    attacked = model.classify_inputs(adversarial, top_k=5)[0]
    return AttackResult(name, method, float(epsilon), clean_input[0], adversarial[0], clean, attacked,
                        None if wanted is None else model.labels[wanted], (time.perf_counter() - start) * 1000)


def class_index(model, target: int | str) -> int:
    """A class given by label or index (an int or a string of digits)."""
    if isinstance(target, str) and not target.isdigit():
        if target not in model.labels:
            raise InvalidOptionError(f"{target!r} is not a class of {model.spec.name}.")
        return model.labels.index(target)
    index = int(target)
    if not 0 <= index < len(model.labels):
        raise InvalidOptionError(f"Class index {index} is outside 0..{len(model.labels) - 1} for {model.spec.name}.")
    return index


def robust_accuracy(model_name: str, images, labels, epsilons=EPSILONS, attack: str = "pgd",
                    seed: int = 0) -> dict[float, dict]:
    """Accuracy of `model_name` on `images` (RGB uint8, any size: fitted to the model's input)
    attacked with `attack` at each ε, by batches: {ε: {"accuracy", "images", "attack"}}."""
    if attack not in ATTACKS:
        raise InvalidOptionError(f"attack must be one of {', '.join(ATTACKS)}, not {attack!r}.")
    model = attackable(model_name)
    labels = np.asarray(labels, np.int64)
    inputs = np.stack([model.model_input(image) for image in images])
    size = BATCH if model.spec.input_size <= 64 else BATCH // 4  # a 224-px batch's gradients take ~1 GB
    results = {}
    for epsilon in epsilons:
        correct = 0
        for start in range(0, len(inputs), size):
            batch, truth = inputs[start:start + size], labels[start:start + size]
            extra = {"seed": seed + start} if attack == "pgd" else {}  # a seed per batch: reproducible
            attacked = ATTACKS[attack](model, batch, truth, epsilon, **extra)
            correct += int((model.probabilities(attacked).argmax(axis=1) == truth).sum())
        results[epsilon] = {"accuracy": correct / len(inputs), "images": len(inputs), "attack": attack}
    return results


def clean_accuracy(model_name: str, images, labels) -> float:
    """Accuracy on the unattacked images, scored the same way as robust_accuracy."""
    return robust_accuracy(model_name, images, labels, (0.0,), attack="fgsm")[0.0]["accuracy"]


def adversarial_section(model_name: str, images, labels, dataset: str, epsilons=EPSILONS, seed: int = 0) -> dict:
    """The `adversarial` section of assets/metrics/<model>_robustness.json: clean accuracy, then
    FGSM's and PGD's robust accuracy per ε on the same images, and how they were attacked."""
    start = time.perf_counter()
    model = attackable(model_name)
    fgsm_results = robust_accuracy(model_name, images, labels, epsilons, "fgsm")
    pgd_results = robust_accuracy(model_name, images, labels, epsilons, "pgd", seed)
    rows = [{"epsilon": round(epsilon, 6), "epsilon_255": round(epsilon * 255, 3),
             "fgsm_accuracy": round(fgsm_results[epsilon]["accuracy"], 4),
             "pgd_accuracy": round(pgd_results[epsilon]["accuracy"], 4)} for epsilon in epsilons]
    return {
        "model": model_name,
        "version": model.version,
        "dataset": dataset,
        "images": len(labels),
        "clean_accuracy": round(clean_accuracy(model_name, images, labels), 4),
        "results": rows,
        "attacks": {
            "space": "the model's input pixels, 0-255 (preprocessing is inside the model); ε = k/255 is k grey levels",
            "rounded": "every attacked image is clipped to [0, 255] and rounded to uint8 before it is scored",
            "loss": "cross-entropy of the logits (before the softmax), untargeted",
            "fgsm": "one step of ε along the gradient's sign",
            "pgd": {"steps": PGD_STEPS, "step": f"{PGD_STEP_FRACTION} ε", "random_start": True, "seed": seed},
        },
        "wall_s": round(time.perf_counter() - start, 1),
    }
