"""The one place that imports the heavy frameworks, lazily and in a safe order.

`import tensorflow` followed by `import torchvision` crashes the process: triton (imported by torch)
ships an LLVM that clashes with TensorFlow's. Whichever model a user runs first, every path goes
through these helpers, and they always import torch and torchvision before TensorFlow. The same
holds for pylibsrtp (live webcam video, via aiortc), whose bundled libsrtp/OpenSSL crashes when
loaded after TensorFlow.
"""

from __future__ import annotations

import os
from types import ModuleType


def torch() -> ModuleType:
    """Import torch and torchvision (torchvision registers the NMS operator ultralytics needs)."""
    import torch as torch_module
    import torchvision  # noqa: F401  (imported here so that it always precedes TensorFlow)

    return torch_module


def _before_tensorflow() -> None:
    """Import what crashes when it comes after TensorFlow (see above)."""
    torch()
    try:
        import pylibsrtp  # noqa: F401  (60 ms)
    except ImportError:  # live video is optional
        pass


def tensorflow() -> ModuleType:
    """Import TensorFlow, after torch and pylibsrtp, with its start-up chatter silenced."""
    _before_tensorflow()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    return tf


def keras() -> ModuleType:
    """Import Keras 3 on the TensorFlow backend unless the caller chose another one."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if os.environ["KERAS_BACKEND"] == "tensorflow":
        tensorflow()
    else:  # Keras and our tf.data pipelines still import TensorFlow when it is installed
        _before_tensorflow()
    import keras as keras_module

    return keras_module


def ultralytics() -> ModuleType:
    """Import ultralytics quietly, without its online checks or automatic package installs."""
    torch()
    os.environ.setdefault("YOLO_VERBOSE", "False")
    os.environ.setdefault("YOLO_OFFLINE", "True")  # no update checks or telemetry
    os.environ.setdefault("YOLO_AUTOINSTALL", "False")  # never pip-install packages into a running server
    import ultralytics as ultralytics_module

    return ultralytics_module


def mlflow() -> ModuleType:
    """Import MLflow (about 1 s) without its download progress bars, which would fill servers' logs."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow as mlflow_module

    return mlflow_module
