"""The one registry of models, looked up by name.

Each entry carries everything its model needs: task, input size and resizing, labels, where the
weights come from, and the Grad-CAM layer. Models trained by our own scripts register themselves
through the JSON sidecar written beside their artifact in models/, so adding one needs no code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from core.models.weights import MODELS_DIR

KERAS_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    task: str  # "classify" or "detect"
    framework: str  # "keras-application", "keras-file" or "ultralytics": picks the loader
    title: str
    dataset: str
    input_size: int  # square side in pixels
    num_classes: int
    weights: str  # canonical file name, resolved by core.models.weights
    weights_url: str | None = None  # the framework's own download, used last
    resize: str = "stretch"  # "center-crop", "stretch" or "letterbox": how an image becomes the input
    crop_fraction: float = 1.0  # for "center-crop": 0.875 means resize to 256, crop 224
    labels: tuple[str, ...] = ()  # class names, when the entry knows them without loading anything
    labels_file: str | None = None  # a class-name file resolved like the weights
    labels_url: str | None = None
    architecture: str | None = None  # for "keras-application": the keras.applications builder
    input_scale: float = 1.0  # for "keras-application": pixels * scale + offset inside the model
    input_offset: float = 0.0
    gradcam_layer: str | None = None  # last convolutional layer, the default for Grad-CAM
    description: str = ""


class UnknownModelError(KeyError):
    def __str__(self) -> str:
        return f"Unknown model {self.args[0]!r}; registered: {', '.join(model_names())}."


BUILT_IN = (
    ModelSpec(
        name="mobilenet_v2",
        task="classify",
        framework="keras-application",
        title="MobileNetV2 (ImageNet)",
        dataset="ImageNet-1k",
        input_size=224,
        num_classes=1000,
        weights="mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5",
        weights_url=KERAS_WEIGHTS_URL + "mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5",
        resize="center-crop",
        crop_fraction=0.875,
        labels_file="imagenet_class_index.json",
        labels_url="https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json",
        architecture="MobileNetV2",
        input_scale=1 / 127.5,  # MobileNetV2 expects pixels in [-1, 1]
        input_offset=-1.0,
        gradcam_layer="Conv_1",
        description="Keras MobileNetV2 1.0/224 pretrained on ImageNet (1,000 classes).",
    ),
    ModelSpec(
        name="yolo11n",
        task="detect",
        framework="ultralytics",
        title="YOLO11n (COCO)",
        dataset="COCO 2017",
        input_size=640,
        num_classes=80,
        weights="yolo11n.pt",
        resize="letterbox",
        gradcam_layer="model.model[-2]",
        description="Ultralytics YOLO11n detector pretrained on COCO (80 classes).",
    ),
)


def spec_from_sidecar(path: Path) -> ModelSpec:
    """Build an entry from the JSON sidecar that our training scripts write beside an artifact."""
    meta = json.loads(path.read_text())
    labels = tuple(meta["labels"])
    return ModelSpec(
        name=meta["name"],
        task="classify",
        framework="keras-file",
        title=meta.get("title", meta["name"]),
        dataset=meta.get("dataset", "unknown"),
        input_size=int(meta["input_size"]),
        num_classes=len(labels),
        weights=meta.get("artifact", f"{meta['name']}.keras"),
        resize=meta.get("resize", "stretch"),
        labels=labels,
        gradcam_layer=meta.get("gradcam_layer"),
        description=meta.get("description", ""),
    )


def _trained_specs(folder: Path) -> list[ModelSpec]:
    return [spec_from_sidecar(path) for path in sorted(folder.glob("*.json"))]


REGISTRY: dict[str, ModelSpec] = {spec.name: spec for spec in (*BUILT_IN, *_trained_specs(MODELS_DIR))}


def model_names(task: str | None = None) -> list[str]:
    return [name for name, spec in REGISTRY.items() if task is None or spec.task == task]


def get_spec(name: str) -> ModelSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownModelError(name) from None
