"""The vision core: image loading, the model registry, inference, explanations and results.

Front ends go through core.service. Importing core is cheap: TensorFlow and torch are imported
only when a model is loaded.
"""

from core.errors import (
                         ImageError,
                         InferenceError,
                         InvalidOptionError,
                         ModelConfigError,
                         UnknownModelError,
                         VisionError,
                         WeightsNotFoundError,
)
from core.io.images import load_image
from core.models.loading import get_model
from core.models.registry import REGISTRY, ModelSpec, get_spec, model_names
from core.results import Classification, ClassScore, Detection, Detections

__all__ = [
    "REGISTRY",
    "ClassScore",
    "Classification",
    "Detection",
    "Detections",
    "ImageError",
    "InferenceError",
    "InvalidOptionError",
    "ModelConfigError",
    "ModelSpec",
    "UnknownModelError",
    "VisionError",
    "WeightsNotFoundError",
    "get_model",
    "get_spec",
    "load_image",
    "model_names",
]
