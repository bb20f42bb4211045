"""The one place that imports the heavy frameworks, lazily and in a safe order.

`import tensorflow` followed by `import torchvision` crashes the process: triton (imported by torch)
ships an LLVM that clashes with TensorFlow's. The same holds for pylibsrtp (live webcam video, via
aiortc), whose bundled libsrtp/OpenSSL crashes when loaded after TensorFlow, so it always comes first.

PyTorch costs about 900 MB of resident memory (its CUDA build loads CUDA libraries even on a CPU),
and serving needs none of it: YOLO runs on ONNX Runtime. So TensorFlow brings PyTorch in first only
where this process may need it later: Keras on the torch backend, VISION_RUNTIME=native (YOLO
through Ultralytics), or a process that asked for torch() before TensorFlow (training, evaluation,
the tests). Asking for torch() after TensorFlow without that raises FrameworkOrderError instead of
crashing.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType


class FrameworkOrderError(RuntimeError):
    """PyTorch was asked for after TensorFlow, which would crash the process."""


def torch() -> ModuleType:
    """Import torch and torchvision (torchvision registers the NMS operator ultralytics needs)."""
    if "tensorflow" in sys.modules and "torchvision" not in sys.modules:
        raise FrameworkOrderError(
            "PyTorch is needed after TensorFlow was imported, and torchvision would now crash the process: "
            "call core.frameworks.torch() at the start of this program (before any Keras model loads)."
        )
    import torch as torch_module
    import torchvision  # noqa: F401  (imported here so that it always precedes TensorFlow)

    return torch_module


def _torch_may_follow() -> bool:
    """Whether this process may need PyTorch after TensorFlow (see the module's docstring)."""
    from core import config

    return config.keras_backend() != "tensorflow" or not config.fast_runtime()


def _before_tensorflow() -> None:
    """Import what crashes when it comes after TensorFlow (see above)."""
    if _torch_may_follow():
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


def pool_cpu_memory() -> None:
    """Make TensorFlow keep and reuse the CPU memory of its tensors (its BFC allocator) for the rest
    of this process. Training and the long evaluation scripts want it: by default each tensor over
    glibc's 32 MB mmap limit (a fine-tuning step of the transfer model makes dozens) is mapped fresh
    from the kernel and faulted in page by page, which cost a third of the CPU time of
    train_transfer's steps (train_cnn's runs gain a quarter, mostly while evaluating). Serving keeps
    the default, which gives memory back.
    Call it before TensorFlow is imported."""
    if "tensorflow" in sys.modules:
        raise FrameworkOrderError("pool_cpu_memory() must come before TensorFlow is imported")
    os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")


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
