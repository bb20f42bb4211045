"""The vision core: image loading, the model registry, inference and results.

Importing it is cheap: TensorFlow and torch are imported only when a model is loaded.
"""

from core.io.images import ImageError, load_image
from core.models.loading import get_model
from core.models.registry import REGISTRY, ModelSpec, get_spec, model_names
from core.results import Classification, ClassScore, Detection, Detections
from core.models.weights import WeightsNotFoundError

__all__ = [
    "REGISTRY",
    "ClassScore",
    "Classification",
    "Detection",
    "Detections",
    "ImageError",
    "ModelSpec",
    "WeightsNotFoundError",
    "get_model",
    "get_spec",
    "load_image",
    "model_names",
]
