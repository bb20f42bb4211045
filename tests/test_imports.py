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
def test_keras_first_then_yolo_and_grad_cam(weights_dir, photo_paths):
    """TensorFlow loaded before torchvision used to crash the process (triton's LLVM vs TensorFlow's)."""
    done = _run(f"""
        import numpy as np
        from core import get_model, load_image
        image = load_image({str(photo_paths['bus'])!r})
        print(get_model("mobilenet_v2").predict(image).top.label)
        print(sorted(set(get_model("yolo11n").predict(image).labels())))

        import torch
        from pytorch_grad_cam import EigenCAM
        yolo = get_model("yolo11n").network()

        class FirstOutput(torch.nn.Module):  # YOLO returns a tuple; grad-cam wants one tensor
            def __init__(self, model):
                super().__init__()
                self.model = model
            def forward(self, x):
                return self.model(x)[0]

        x = torch.from_numpy(np.zeros((1, 3, 320, 320), np.float32))
        cam = EigenCAM(FirstOutput(yolo), target_layers=[yolo.model[-2]])
        heatmap = cam(x, targets=[lambda output: output.sum()])
        print("cam", heatmap.shape)
    """)
    assert done.returncode == 0, f"exit {done.returncode}\\n{done.stderr[-3000:]}"
    lines = done.stdout.strip().splitlines()
    assert lines[0] == "minibus"
    assert "bus" in lines[1] and "person" in lines[1]
    assert lines[2] == "cam (1, 320, 320)"


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
