"""Keras image classifiers behind one interface: RGB uint8 image in, Classification out."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from core import frameworks
from core.config import TOP_K, fast_runtime
from core.models.preprocess import fit_to_input
from core.models.registry import ModelSpec
from core.models.runtimes import TfliteRunner, cached_export, export_tflite, short_digest
from core.models.weights import model_file, reading
from core.results import Classification, top_k_scores


class Classifier:
    """What every classifier shares: RGB uint8 image in, Classification out. A subclass gives
    `probabilities_and_features` for a batch of model inputs, and sets spec, labels, weights and
    version."""

    spec: ModelSpec
    labels: tuple[str, ...]

    def model_input(self, image: np.ndarray) -> np.ndarray:
        """The exact RGB uint8 pixels the model receives for `image`."""
        spec = self.spec
        return fit_to_input(image, spec.input_size, spec.resize, spec.crop_fraction)

    def probabilities(self, inputs: np.ndarray) -> np.ndarray:
        """Class probabilities for a batch of model inputs (N×S×S×3 pixels)."""
        return self.probabilities_and_features(inputs)[0]

    def probabilities_and_features(self, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def predict(self, image: np.ndarray, top_k: int = TOP_K) -> Classification:
        return self.predict_batch([image], top_k)[0]

    def predict_batch(self, images: list[np.ndarray], top_k: int = TOP_K) -> list[Classification]:
        """Several images in one model call (one image goes through the fast runtime); each
        result's latency is its share of the call."""
        return self.classify_inputs(np.stack([self.model_input(image) for image in images]), top_k)

    def classify_inputs(self, pixels: np.ndarray, top_k: int = TOP_K) -> list[Classification]:
        """predict_batch on images already fitted by model_input (a batch job fits them in other threads)."""
        start = time.perf_counter()
        probabilities, features = self.probabilities_and_features(pixels)
        latency_ms = (time.perf_counter() - start) * 1000 / len(pixels)
        return [
            Classification(
                model=self.spec.name,
                top_k=top_k_scores(row, self.labels, top_k),
                probabilities=row,
                model_input=one,
                latency_ms=latency_ms,
                classes=self.labels,
                version=self.version,
                options={"top_k": top_k},
                features=vector,
            )
            for row, one, vector in zip(probabilities, pixels, features)
        ]


class KerasClassifier(Classifier):
    """A loaded Keras model taking raw RGB pixels (0-255); shared, never mutated after loading."""

    def __init__(
        self, spec: ModelSpec, model, labels: tuple[str, ...], weights: Path, fast_path: Path | None = None
    ):
        if len(labels) != model.output_shape[-1]:
            raise ValueError(f"{spec.name}: {len(labels)} labels for {model.output_shape[-1]} outputs.")
        tf = frameworks.tensorflow()
        self.spec = spec
        self.weights = weights  # the file the model was loaded from
        self.version = short_digest(weights)
        self.model = model
        self.labels = labels
        self.outputs_probabilities = _ends_in_softmax(model)  # else logits, turned into probabilities here
        # The penultimate layer comes out of the same call as the answer: monitoring's embedding
        # costs no second pass.
        self.with_features = with_features(model)
        # One traced graph for any batch size: much faster than model.predict per image, and
        # safe to call from several threads once traced (we trace it here, while loading).
        signature = tf.TensorSpec((None, spec.input_size, spec.input_size, 3), tf.float32)
        self._forward = tf.function(lambda x: self.with_features(x, training=False), input_signature=[signature])
        self._forward(np.zeros((1, spec.input_size, spec.input_size, 3), np.float32))
        # Single images go through TFLite when an export exists: same outputs, ~4x faster.
        self._single = TfliteRunner(fast_path, spec.num_classes) if fast_path else self._forward
        self.served_file = fast_path or weights  # what answers a single image

    def probabilities_and_features(self, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Class probabilities and the penultimate layer's features, from one model call."""
        batch = np.asarray(inputs, np.float32)
        outputs, features = self._single(batch) if len(batch) == 1 else self._forward(batch)
        outputs = np.asarray(outputs)
        return (outputs if self.outputs_probabilities else _softmax(outputs)), np.asarray(features)


class TfliteClassifier(Classifier):
    """A classifier that is a TFLite file alone (an int8 variant): no gradients, so no Grad-CAM;
    Score-CAM masks with its source's feature maps (`source`, the FP32 model it was built from) and
    weighs them by its own answers. Its outputs are the source's: probabilities, then the
    penultimate features."""

    def __init__(self, spec: ModelSpec, path: Path, source: KerasClassifier):
        self.spec = spec
        self.source = source
        self.weights = path
        self.version = short_digest(path)
        self.labels = source.labels
        self.outputs_probabilities = source.outputs_probabilities
        self._runner = TfliteRunner(path, spec.num_classes)
        self.served_file = path

    def probabilities_and_features(self, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One interpreter call per image (TFLite files are built for a batch of one)."""
        rows = [self._runner(one[None]) for one in np.asarray(inputs)]
        outputs = np.concatenate([row[0] for row in rows])
        features = np.concatenate([row[1] for row in rows])
        return (outputs if self.outputs_probabilities else _softmax(outputs)), features


def load_keras_classifier(spec: ModelSpec, weights_path: str | None = None) -> KerasClassifier:
    path = model_file(spec, explicit=weights_path, download=_keras_download(spec))
    keras = frameworks.keras()
    with reading(spec, path):
        if spec.framework == "keras-application":
            model = _build_application(spec, path)
        else:
            model = keras.saving.load_model(path, compile=False)
    fast_path = None
    if fast_runtime():
        fast_path = cached_export(spec.name, path, ".tflite",
                                  lambda target: export_tflite(with_features(model), target))
    return KerasClassifier(spec, model, _labels(spec), path, fast_path)


def with_features(model):
    """`model` with a second output: its penultimate layer, the pooled features the head reads
    (the last global pooling layer's output, else the last Dense layer's input)."""
    keras = frameworks.keras()
    kinds = [type(layer).__name__ for layer in model.layers]
    pooled = [i for i, kind in enumerate(kinds) if kind.startswith("Global")]
    at = pooled[-1] + 1 if pooled else max(i for i, kind in enumerate(kinds) if kind == "Dense")
    try:
        inputs, outputs = model.inputs, model.output
        features = model.layers[at - 1].output if pooled else model.layers[at].input
    except (AttributeError, ValueError):  # a Sequential model never called: call its layers on an input
        inputs = keras.Input(model.input_shape[1:])
        outputs = inputs
        for index, layer in enumerate(model.layers):
            if index == at:
                features = outputs
            outputs = layer(outputs)
    return keras.Model(inputs, [outputs, features], name=f"{model.name}_with_features")


def _build_application(spec: ModelSpec, weights: Path):
    """A keras.applications model with its input scaling inside, so it takes raw pixels."""
    keras = frameworks.keras()
    inputs = keras.Input((spec.input_size, spec.input_size, 3), name="pixels")
    scaled = keras.layers.Rescaling(spec.input_scale, spec.input_offset, name="scale_pixels")(inputs)
    builder = getattr(keras.applications, spec.architecture)
    return builder(input_tensor=scaled, weights=str(weights), classes=spec.num_classes)


def _labels(spec: ModelSpec) -> tuple[str, ...]:
    if spec.labels:
        return spec.labels
    path = model_file(spec, spec.labels_file, download=_keras_download(spec, labels=True))
    with reading(spec, path, "labels file"):
        index = json.loads(Path(path).read_text())  # {"0": ["n01440764", "tench"], ...}
        return tuple(index[str(i)][1] for i in range(len(index)))


def _keras_download(spec: ModelSpec, labels: bool = False):
    filename, url = (spec.labels_file, spec.labels_url) if labels else (spec.weights, spec.weights_url)
    if url is None:
        return None
    return lambda: frameworks.keras().utils.get_file(filename, url, cache_subdir="models")


def _ends_in_softmax(model) -> bool:
    activation = getattr(model.layers[-1], "activation", None)
    return getattr(activation, "__name__", "") == "softmax" or type(model.layers[-1]).__name__ == "Softmax"


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)
