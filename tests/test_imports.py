"""Start-up stays light, and the two frameworks can share one process in any order."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from core.models.weights import PROJECT_ROOT


def _run(code: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, env=os.environ.copy(), timeout=timeout,
    )


def test_importing_core_imports_no_framework():
    done = _run("""
        import sys
        import core, core.cli, core.models.registry, core.io.images, core.models.loading, core.results, core.models.weights
        heavy = sorted(m for m in ("tensorflow", "torch", "torchvision", "keras", "ultralytics") if m in sys.modules)
        print(heavy)
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.slow
def test_keras_and_yolo_serve_and_explain_without_pytorch(weights_dir, photo_paths):
    """What a server does (a Keras model first, then YOLO and its EigenCAM) never imports PyTorch,
    which would cost about 900 MB (core/frameworks.py)."""
    done = _run(f"""
        import sys
        from core import get_model, load_image, service
        image = load_image({str(photo_paths['bus'])!r})
        print(get_model("mobilenet_v2").predict(image).top.label)
        print(sorted(set(get_model("yolo11n").predict(image).labels())))
        print(service.explain("yolo11n", image).layer)
        print(sorted(m for m in ("torch", "torchvision", "ultralytics", "tensorflow") if m in sys.modules))
    """)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stderr[-3000:]}"
    assert done.stdout.strip().splitlines()[-4:] == ["minibus", "['bus', 'person']", "P5/32", "['tensorflow']"]


@pytest.mark.slow
def test_pytorch_after_tensorflow_is_refused_with_a_message_not_a_crash(weights_dir):
    """torchvision after TensorFlow crashes the process (triton's LLVM against TensorFlow's)."""
    done = _run("""
        from core import frameworks, get_model
        get_model("cifar10_cnn")
        try:
            frameworks.torch()
        except frameworks.FrameworkOrderError as error:
            print("refused:", error)
    """)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stderr[-3000:]}"
    assert "refused: PyTorch is needed after TensorFlow" in done.stdout


@pytest.mark.slow
def test_the_native_runtime_brings_pytorch_before_tensorflow(weights_dir, photo_paths):
    """VISION_RUNTIME=native runs YOLO on PyTorch: a Keras model loaded first must not make it crash."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(f"""
            from core import get_model, load_image
            image = load_image({str(photo_paths['bus'])!r})
            print(get_model("cifar10_cnn").predict(image).top.label)
            print(sorted(set(get_model("yolo11n").predict(image).labels())))
        """)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, env={**os.environ, "VISION_RUNTIME": "native"}, timeout=600,
    )
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stderr[-3000:]}"
    assert done.stdout.strip().splitlines()[-1] == "['bus', 'person']"


@pytest.mark.slow
def test_keras_first_then_live_video(weights_dir):
    """pylibsrtp (aiortc, streamlit-webrtc) loaded after TensorFlow crashed the process too."""
    done = _run("""
        from core import get_model
        get_model("cifar10_cnn")
        from streamlit_webrtc import webrtc_streamer
        from pylibsrtp import Policy, Session
        Session(policy=Policy(key=b"0" * 30, ssrc_type=Policy.SSRC_ANY_OUTBOUND))
        print("live video ok")
    """)
    assert done.returncode == 0, f"exit {done.returncode}\\n{done.stderr[-3000:]}"
    assert done.stdout.strip().endswith("live video ok")


@pytest.mark.slow
@pytest.mark.parametrize("pooled", [True, False])
def test_training_can_pool_tensorflows_cpu_memory_before_it_loads(pooled):
    """Only the pooling allocator keeps statistics of the memory it holds: they show which one runs."""
    done = _run(f"""
        from core import frameworks
        if {pooled}:
            frameworks.pool_cpu_memory()
        tf = frameworks.tensorflow()
        product = tf.matmul(tf.ones((4096, 4096)), tf.ones((4096, 4096)))  # 64 MiB each
        try:
            print("peak MiB:", tf.config.experimental.get_memory_info("CPU:0")["peak"] // 2**20)
        except ValueError as error:
            print("not pooled:", error)
        try:
            frameworks.pool_cpu_memory()
        except frameworks.FrameworkOrderError as error:
            print("refused:", error)
    """)
    assert done.returncode == 0, f"exit {done.returncode}\\n{done.stderr[-3000:]}"
    first, second = done.stdout.strip().splitlines()[-2:]
    if pooled:
        assert first.startswith("peak MiB:") and int(first.split(":")[1]) >= 3 * 64
    else:
        assert first.startswith("not pooled: Allocator stats not available")
    assert second == "refused: pool_cpu_memory() must come before TensorFlow is imported"
