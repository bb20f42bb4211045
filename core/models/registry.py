"""The one registry of models, looked up by name.

Each entry carries everything its model needs: task, input size and resizing, labels, where the
weights come from, and the Grad-CAM layer. Models trained by our own scripts register themselves
through the JSON sidecar written beside their artifact in models/, so adding one needs no code.
Every model also gets one entry per optimised variant (VARIANTS: "mobilenet_v2-int8"), built from
it on first use; adding a variant is one entry there and its builder in core.models.variants.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from core.config import MODELS_DIR
from core.errors import ModelConfigError, UnknownModelError  # noqa: F401 (UnknownModelError re-exported)

KERAS_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"
ULTRALYTICS_WEIGHTS_URL = "https://github.com/ultralytics/assets/releases/download/v8.3.0/"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    task: str  # "classify" or "detect"
    framework: str  # "keras-application", "keras-file" or "ultralytics" (a variant: what runs it): picks the loader
    title: str
    dataset: str
    input_size: int  # square side in pixels
    num_classes: int
    weights: str  # canonical file name, resolved by core.models.weights
    weights_url: str | None = None  # where the weights can be downloaded from, tried last
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
    variant_of: str | None = None  # for an optimised variant (see VARIANTS): the model it is built from
    variant: str | None = None  # which one: a key of VARIANTS


@dataclass(frozen=True)
class Variant:
    """A way of optimising a model: every registered model gets the variant "<name>-<key>", built
    from it on first use (core.models.variants)."""

    key: str
    title: str
    description: str


VARIANTS = {variant.key: variant for variant in (
    Variant("int8", "int8", "full-integer int8 quantization of {source}: TFLite for a Keras classifier, ONNX "
                            "Runtime (QDQ, per-channel weights) for YOLO; calibrated on images it is never "
                            "evaluated on"),
)}


# What Ultralytics' COCO detectors share: task, geometry, and the feature map EigenCAM defaults to.
_COCO_DETECTOR = dict(task="detect", framework="ultralytics", dataset="COCO 2017", input_size=640, num_classes=80,
                      resize="letterbox", gradcam_layer="P5/32")

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
    ModelSpec(**_COCO_DETECTOR, name="yolo11n", title="YOLO11n (COCO)", weights="yolo11n.pt",
              weights_url=ULTRALYTICS_WEIGHTS_URL + "yolo11n.pt",
              description="Ultralytics YOLO11n detector pretrained on COCO (80 classes)."),
    ModelSpec(**_COCO_DETECTOR, name="yolov8n", title="YOLOv8n (COCO)", weights="yolov8n.pt",
              weights_url=ULTRALYTICS_WEIGHTS_URL + "yolov8n.pt",
              description="Ultralytics YOLOv8n detector pretrained on COCO (80 classes): the previous generation, "
                          "for comparison with YOLO11n."),
)


def variant_spec(source: ModelSpec, key: str) -> ModelSpec:
    """The registry entry of `source`'s variant `key` ("int8"): the same task, labels and geometry."""
    variant = VARIANTS[key]
    return replace(source, name=f"{source.name}-{key}", title=f"{source.title} · {variant.title}",
                   framework="tflite" if source.task == "classify" else "onnxruntime",  # what runs it
                   description=variant.description.format(source=source.name), variant_of=source.name,
                   variant=key)


def spec_from_sidecar(path: Path) -> ModelSpec:
    """Build an entry from the JSON sidecar that our training scripts write beside an artifact.
    Raises ModelConfigError, naming the file and what is wrong with it."""
    try:
        meta = json.loads(path.read_text())
        labels = tuple(str(label) for label in meta["labels"])
        spec = ModelSpec(
            name=str(meta["name"]),
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
    except (OSError, ValueError) as error:  # unreadable, not JSON, or a value of the wrong kind
        raise ModelConfigError(f"{path}: cannot be read as a model sidecar ({error}).") from None
    except (KeyError, TypeError) as error:
        raise ModelConfigError(f"{path}: a model sidecar needs name, labels and input_size ({error!r} is "
                               "missing or of the wrong kind).") from None
    if not labels or spec.input_size < 8:
        raise ModelConfigError(f"{path}: a model sidecar needs at least one label and an input size of 8 px or more.")
    return spec


class Registry(Mapping[str, ModelSpec]):
    """The built-in entries plus one per sidecar in `folder`, read on first use (so importing core
    reads no file). A sidecar that cannot be used keeps its model out of the usable entries: asking
    for it raises ModelConfigError with the reason, and every other model keeps working."""

    def __init__(self, built_in: tuple[ModelSpec, ...], folder: Path):
        self._built_in, self._folder = built_in, folder
        self._specs: dict[str, ModelSpec] | None = None
        self._broken: dict[str, ModelConfigError] = {}
        self._lock = threading.Lock()

    def _load(self) -> dict[str, ModelSpec]:
        with self._lock:
            if self._specs is None:
                specs, broken = {spec.name: spec for spec in self._built_in}, {}
                for path in sorted(self._folder.glob("*.json")):
                    try:
                        spec = spec_from_sidecar(path)
                        specs[spec.name] = spec
                    except ModelConfigError as error:
                        broken[path.stem] = error
                variants = [variant_spec(spec, key) for spec in specs.values() for key in VARIANTS]
                self._specs = {**specs, **{spec.name: spec for spec in variants}}
                self._broken = broken
            return self._specs

    def reload(self) -> None:
        """Read the sidecars again on next use (after training wrote a new one)."""
        with self._lock:
            self._specs = None

    def broken(self) -> dict[str, ModelConfigError]:
        """Models whose sidecar cannot be used, by file stem, with the reason."""
        self._load()
        return dict(self._broken)

    def __getitem__(self, name: str) -> ModelSpec:
        specs = self._load()
        if name in specs:
            return specs[name]
        if name in self._broken:
            raise self._broken[name]
        raise UnknownModelError(name, list(specs))

    def __contains__(self, name: object) -> bool:  # Mapping's own would raise for a broken sidecar
        return name in self._load()

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())


REGISTRY = Registry(BUILT_IN, MODELS_DIR)


def model_names(task: str | None = None, variants: bool = True) -> list[str]:
    """Registered names (of `task`, if given); `variants=False` leaves the optimised variants out:
    what front ends show and load by default."""
    return [name for name, spec in REGISTRY.items()
            if (task is None or spec.task == task) and (variants or spec.variant_of is None)]


def get_spec(name: str) -> ModelSpec:
    """The entry of `name`; raises UnknownModelError, or ModelConfigError for a broken sidecar."""
    return REGISTRY[name]
