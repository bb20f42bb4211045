"""Optimised variants (core.models.registry.VARIANTS), built from their source model on first use.

An int8 variant is derived from its source's weights and a fixed set of calibration images that
the model is never evaluated on, so it is cached like the fast runtimes' exports, under a key made
of both digests (a retrained source or other calibration images give a new file, never a stale
one), with a JSON sidecar saying what it was made from. Where the calibration images are missing,
loading says which folder is needed.

- A Keras classifier becomes a full-integer TFLite model: int8 weights and activations, uint8 pixels
  in (scale 1, zero point 0: the same raw pixels as the source), float probabilities and features out.
- YOLO becomes an ONNX model with QDQ nodes (uint8 activations, per-channel 7-bit int8 weights), with
  the Detect head's box decoding kept in float: it mixes pixel coordinates and 0-1 scores in one
  tensor, which one scale cannot hold. Its feature-map outputs stay, so EigenCAM works on it.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core import config, frameworks
from core.errors import ModelConfigError, VisionError, WeightsNotFoundError
from core.io import atomic
from core.io.datasets import CIFAR10_CLASSES, local_cifar10_train
from core.io.images import load_image
from core.models.preprocess import letterbox
from core.models.registry import ModelSpec
from core.models.runtimes import cached_export

RECIPE = "2"  # bump when a builder changes: every variant is then rebuilt
CIFAR10_PER_CLASS = 30  # 300 training images
COCO128 = "coco128/images/train2017"
IMAGENET_SAMPLE = "imagenet-sample"
DETECTOR_CALIBRATION_IMAGES = 100


@dataclass(frozen=True)
class Calibration:
    read: Callable[[], list[np.ndarray]]  # the images, RGB uint8 as found (each builder fits them to its model)
    count: int
    description: str
    digest: str  # of the files (or pixels): part of the cache key, found without decoding anything


def calibration_for(spec: ModelSpec) -> Calibration:
    """Images like the source's inputs that its evaluation never uses: CIFAR-10 training images for
    CIFAR-10 models; coco128's photos for ImageNet models (the ImageNet sample is their test set);
    the ImageNet sample's first 100 photos for COCO detectors (coco128 is theirs)."""
    if spec.labels == CIFAR10_CLASSES:
        found = local_cifar10_train(CIFAR10_PER_CLASS)  # 300 small images: decoded at once
        if found is None:
            raise _missing(spec, "CIFAR-10's training images (cifar10/train/ or cifar-10-batches-py/)")
        images = list(found.images)
        return Calibration(lambda: images, len(images), f"CIFAR-10 training images, the first {CIFAR10_PER_CLASS} of "
                           "each class", _digest(np.ascontiguousarray(image).tobytes() for image in images))
    if spec.dataset == "ImageNet-1k":
        return _photos(spec, COCO128, "*.jpg", None, "coco128's {} photos")
    if spec.dataset == "COCO 2017":
        return _photos(spec, IMAGENET_SAMPLE, "*.JPEG", DETECTOR_CALIBRATION_IMAGES, "the ImageNet sample's first {} photos")
    raise _missing(spec, f"calibration images for {spec.dataset} models (none are known)")


def _photos(spec: ModelSpec, folder: str, pattern: str, count: int | None, description: str) -> Calibration:
    """Photo files under the data folder, decoded only when a variant is built."""
    root = config.data_dir() / folder if config.data_dir() else None
    paths = sorted(root.glob(pattern))[:count] if root and root.is_dir() else []
    if not paths:
        raise _missing(spec, f"{folder}/ ({pattern})")
    return Calibration(lambda: [load_image(path) for path in paths], len(paths), description.format(len(paths)),
                       _digest(path.read_bytes() for path in paths))


def _digest(chunks) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(hashlib.sha256(chunk).digest())
    return digest.hexdigest()


def _missing(spec: ModelSpec, what: str) -> WeightsNotFoundError:
    return WeightsNotFoundError(
        f"{spec.name} is built from {spec.variant_of} on first use, calibrated on {what} under "
        f"{config.DATA_ENV}, which this machine does not have: set {config.DATA_ENV} to a data folder "
        f"that holds them, or use {spec.variant_of}.")


def load_variant(spec: ModelSpec, source):
    """The variant `spec` of the loaded model `source`, built (once) and loaded. Raises
    WeightsNotFoundError without calibration images, ModelConfigError when the build fails."""
    if spec.task == "detect" and not hasattr(source, "export"):
        raise ModelConfigError(f"{spec.name} is built from {spec.variant_of}'s ONNX export, which "
                               f"{config.RUNTIME_ENV}=native turns off.")
    calibration = calibration_for(spec)
    try:
        return _build_and_load(spec, source, calibration)
    except VisionError:
        raise
    except Exception as error:  # the converters raise many types; say which variant failed and why
        raise ModelConfigError(f"{spec.name}: building it from {spec.variant_of} failed "
                               f"({type(error).__name__}: {str(error).strip()[:300]}).") from error


def _build_and_load(spec: ModelSpec, source, calibration: Calibration):
    if spec.task == "classify":
        from core.models.classifier import TfliteClassifier

        path = _cached(spec, source, calibration, ".tflite", lambda target: _int8_tflite(source, calibration, target))
        return TfliteClassifier(spec, path, source)
    from core.models.yolo_onnx import OnnxYolo

    path = _cached(spec, source, calibration, ".onnx", lambda target: _int8_onnx(source, calibration, target))
    return OnnxYolo(spec, path, path)


def _cached(spec: ModelSpec, source, calibration: Calibration, suffix: str, build) -> Path:
    key = hashlib.sha256(f"{calibration.digest} {RECIPE}".encode()).hexdigest()[:8]
    path = cached_export(spec.name, source.weights, suffix, build, key=key)
    for stale in path.parent.glob(f"{spec.name}-*.json"):  # sidecars of the files cached_export replaced
        if not stale.with_suffix(suffix).exists():
            stale.unlink(missing_ok=True)
    sidecar = path.with_suffix(".json")
    if not sidecar.exists():
        atomic.write_text(sidecar, json.dumps({
            "name": spec.name, "variant": spec.variant, "variant_of": spec.variant_of,
            "source_weights": str(source.weights), "source_version": source.version,
            "method": _METHODS[(spec.variant, spec.task)], "recipe": RECIPE,
            "calibration": {"images": calibration.count, "description": calibration.description,
                            "sha256": calibration.digest},
            "bytes": path.stat().st_size,
        }, indent=2) + "\n")
    return path


_METHODS = {
    ("int8", "classify"): "TFLite full-integer quantization: int8 weights (per channel) and activations, "
                          "uint8 input, float32 outputs",
    ("int8", "detect"): "ONNX Runtime static quantization, QDQ: uint8 activations (min-max), 7-bit per-channel "
                        "int8 weights; the Detect head's box decoding left in float32",
}


def variant_sidecar(model) -> dict | None:
    """What a loaded variant was made from (its sidecar beside the cached file), or None."""
    path = Path(model.weights).with_suffix(".json")
    return json.loads(path.read_text()) if model.spec.variant and path.is_file() else None


def _int8_tflite(source, calibration: Calibration, target: Path) -> None:
    tf = frameworks.tensorflow()
    pixels = [source.model_input(image)[None].astype(np.float32) for image in calibration.read()]
    converter = tf.lite.TFLiteConverter.from_keras_model(source.with_features)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([batch] for batch in pixels)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.uint8  # raw pixels, as the source takes them
    target.write_bytes(converter.convert())


def _int8_onnx(source, calibration: Calibration, target: Path) -> None:
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType
    from onnxruntime.quantization import quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    canvases = (letterbox(image, source.spec.input_size)[0] for image in calibration.read())

    class Canvases(CalibrationDataReader):
        def get_next(self):
            canvas = next(canvases, None)
            return None if canvas is None else {"images": canvas.transpose(2, 0, 1)[None].astype(np.float32) / 255}

    with tempfile.TemporaryDirectory() as scratch:
        prepared = Path(scratch) / "prepared.onnx"
        quant_pre_process(str(source.export), str(prepared), skip_symbolic_shape=True)  # dynamic shapes
        graph = onnx.load(str(prepared)).graph
        head = f"/model.{max(source.feature_layers.values()) + 1}/"
        # The head's convolutions (cv2.*, cv3.*) are quantized; what decodes their output is not.
        decoding = [node.name for node in graph.node if node.name.startswith(head)
                    and not node.name.startswith((f"{head}cv2.", f"{head}cv3."))]
        # 7-bit weights (reduce_range): without AVX-512 VNNI, ONNX Runtime multiplies uint8 by int8
        # with VPMADDUBSW, whose 16-bit sums saturate; full-range weights cost yolo11n about ten
        # times as much mAP50-95 here.
        quantize_static(str(prepared), str(target), Canvases(), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                        reduce_range=True, nodes_to_exclude=decoding, calibrate_method=CalibrationMethod.MinMax)
