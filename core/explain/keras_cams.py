"""Class activation maps for Keras classifiers: Grad-CAM, Grad-CAM++ and Score-CAM.

Each works on a separate "gradient model" (pixels -> chosen layer's activations and the logits)
built from the cached model's own layers and cached itself: the shared model is never changed.
The logits are taken before the softmax (a softmax layer's input, or a linear copy of a softmax
Dense layer), since gradients of saturated probabilities vanish. Maps come out at the layer's
resolution; core.explain.classifier maps them onto the original image.
"""

from __future__ import annotations

import threading

import numpy as np

from core import frameworks
from core.errors import InvalidOptionError

SCORE_CAM_CHANNELS = 32  # Score-CAM masks with this many channels (highest mean activation) to stay fast

_gradient_models: dict[tuple[int, str], object] = {}
_guard = threading.Lock()


def spatial_layers(model) -> list[str]:
    """Names of the layers with a 4-D output (batch, height, width, channels), input to output."""
    names = []
    for layer in model.layers:
        try:
            shape = layer.output.shape
        except (AttributeError, ValueError):  # layers used twice, or never called
            continue
        if len(shape) == 4 and not layer.name.startswith(("pixels", "input")):
            names.append(layer.name)
    return names


def gradient_function(model, layer: str):
    """A traced function pixels (1xSxSx3), class index -> (activations, logits, d logit / d activations),
    built once per model and layer."""
    key = (id(model), layer)
    with _guard:
        if key not in _gradient_models:
            _gradient_models[key] = _build_gradient_function(model, layer)
        return _gradient_models[key]


def _build_gradient_function(model, layer: str):
    tf, keras = frameworks.tensorflow(), frameworks.keras()
    if layer not in spatial_layers(model):
        raise InvalidOptionError(f"{layer!r} is not a layer with a spatial output in {model.name}; choose one of: "
                         f"{', '.join(spatial_layers(model)[-8:])}.")
    gradient_model = keras.Model(model.inputs, [model.get_layer(layer).output, logits(model)])

    @tf.function(reduce_retracing=True)
    def run(pixels, index):
        with tf.GradientTape() as tape:
            activations, logits = gradient_model(pixels, training=False)
            score = tf.gather(logits[0], index)
        return activations, logits, tape.gradient(score, activations)

    return run


def logits(model):
    """The pre-softmax output tensor of `model`."""
    keras = frameworks.keras()
    last = model.layers[-1]
    if isinstance(last, keras.layers.Softmax):
        return last.input
    activation = getattr(last, "activation", None)
    if isinstance(last, keras.layers.Dense) and getattr(activation, "__name__", "") == "softmax":
        linear = keras.layers.Dense(last.units, name=f"{last.name}_logits")  # same weights, no softmax
        logits = linear(last.input)
        linear.set_weights(last.get_weights())
        return logits
    return model.outputs[0]  # already logits


def gradcam(classifier, pixels: np.ndarray, index: int, layer: str) -> np.ndarray:
    """Grad-CAM (Selvaraju et al. 2017): channels weighted by their mean gradient, then ReLU."""
    activations, gradients = _activations_and_gradients(classifier.model, pixels, index, layer)
    weights = gradients.mean(axis=(0, 1))
    return np.maximum((activations * weights).sum(axis=-1), 0)


def gradcam_plus_plus(classifier, pixels: np.ndarray, index: int, layer: str) -> np.ndarray:
    """Grad-CAM++ (Chattopadhay et al. 2018), the closed form for an exponential of the logit:
    each position's gradient gets its own weight alpha, so several instances all count."""
    activations, gradients = _activations_and_gradients(classifier.model, pixels, index, layer)
    squared, cubed = gradients**2, gradients**3
    denominator = 2 * squared + activations.sum(axis=(0, 1)) * cubed
    alpha = np.where(np.abs(denominator) > 1e-12, squared / np.where(denominator == 0, 1, denominator), 0)
    weights = (alpha * np.maximum(gradients, 0)).sum(axis=(0, 1))
    return np.maximum((activations * weights).sum(axis=-1), 0)


def scorecam(classifier, pixels: np.ndarray, index: int, layer: str, channels: int = SCORE_CAM_CHANNELS) -> np.ndarray:
    """Score-CAM (Wang et al. 2020) without gradients: each channel, upsampled and scaled to [0, 1],
    masks the input; its weight is the target's probability on that masked input. Only the
    `channels` channels with the highest mean activation are tried. An int8 variant keeps no
    readable activations, so its masks are its source's feature maps; the weights, the answers to
    the masked inputs, are its own."""
    tf = frameworks.tensorflow()
    activations, _ = _activations_and_gradients(keras_model(classifier), pixels, index, layer)
    chosen = np.argsort(-activations.mean(axis=(0, 1)))[:channels]
    maps = activations[:, :, chosen]
    masks = np.asarray(tf.image.resize(maps[None], pixels.shape[:2], method="bilinear"))[0]  # S x S x C
    low, high = masks.min(axis=(0, 1)), masks.max(axis=(0, 1))
    masks = (masks - low) / np.where(high - low > 1e-12, high - low, 1)
    masked = pixels[None].astype(np.float32) * masks.transpose(2, 0, 1)[..., None]  # C x S x S x 3
    weights = classifier.probabilities(masked)[:, index]
    return np.maximum((maps * weights).sum(axis=-1), 0)


def keras_model(classifier):
    """The Keras model whose layers a map of `classifier` is taken at: its own, or an int8 variant's source's."""
    return getattr(classifier, "source", classifier).model


def _activations_and_gradients(model, pixels: np.ndarray, index: int, layer: str) -> tuple[np.ndarray, np.ndarray]:
    run = gradient_function(model, layer)
    activations, _, gradients = run(pixels[None].astype(np.float32), np.int32(index))
    return np.asarray(activations)[0].astype(np.float64), np.asarray(gradients)[0].astype(np.float64)
