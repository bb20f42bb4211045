"""Damaged weights: one clear error naming the file, remembered, and the other models keep working."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time

import pytest

from core import service
from core.cli import main
from core.config import PROJECT_ROOT
from core.errors import WeightsDamagedError

MOBILENET = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5"


def _truncated(source, target, keep: int):
    target.write_bytes(source.read_bytes()[:keep])
    return target


@pytest.fixture(scope="module")
def damaged(weights_dir, tmp_path_factory):
    """A weights folder with a truncated copy of each format, and a photo named like a checkpoint."""
    folder = tmp_path_factory.mktemp("damaged")
    _truncated(weights_dir / "yolo11n.pt", folder / "yolo11n.pt", 200_000)
    _truncated(weights_dir / MOBILENET, folder / MOBILENET, 500_000)
    shutil.copy(weights_dir / "imagenet_class_index.json", folder)
    shutil.copy(weights_dir / "yolov8n.pt", folder)  # a good detector beside the damaged one
    (folder / "elsewhere").mkdir()  # not searched by name: the pages below still find our CIFAR-10 models
    _truncated(PROJECT_ROOT / "models" / "cifar10_cnn.keras", folder / "elsewhere" / "cifar10_cnn.keras", 300_000)
    shutil.copy(PROJECT_ROOT / "assets" / "eda" / "cifar10_samples.png", folder / "elsewhere" / "not_a_checkpoint.pt")
    return folder


@pytest.mark.parametrize("model, file, words", [
    ("yolo11n", "yolo11n.pt", "not a complete PyTorch file"),
    ("cifar10_cnn", "elsewhere/cifar10_cnn.keras", "not a complete Keras file"),
    ("mobilenet_v2", MOBILENET, "truncated file"),
    ("yolo11n", "elsewhere/not_a_checkpoint.pt", "not a complete PyTorch file"),
])
def test_the_cli_names_the_damaged_file(damaged, photo_paths, capsys, model, file, words):
    code = main(["predict", str(photo_paths["bus"]), "--model", model, "--weights", str(damaged / file)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert f"the weights file {damaged / file}" in err and "cannot be loaded" in err and words in err, err
    assert "tmp" not in err.replace(str(damaged), "")  # no temporary copy is named


def test_a_failed_load_is_remembered_not_retried(damaged):
    path = str(damaged / "yolo11n.pt")
    with pytest.raises(WeightsDamagedError) as first:
        service.load("yolo11n", path)
    start = time.perf_counter()
    with pytest.raises(WeightsDamagedError) as second:
        service.load("yolo11n", path)
    assert second.value is first.value and time.perf_counter() - start < 0.05


@pytest.mark.slow
def test_pages_show_the_damaged_file_once_and_other_models_work(damaged, data_dir):
    """The pages in a fresh process whose weights folder holds damaged YOLO and MobileNetV2 files
    (our CIFAR-10 models still load from models/)."""
    script = textwrap.dedent("""
        import json
        from streamlit.testing.v1 import AppTest
        shown = {}
        for page in ("pages/detect.py", "pages/compare.py"):
            at = AppTest.from_file("app.py", default_timeout=240)
            at.run()
            at.switch_page(page)
            at.run()
            shown[page] = {"errors": [e.value for e in at.error], "exception": bool(at.exception),
                           "markdown": [m.value for m in at.markdown]}
        print(json.dumps(shown))
    """)
    environment = {**os.environ, "VISION_WEIGHTS_DIR": str(damaged)}
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, env=environment, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    shown = json.loads(done.stdout.strip().splitlines()[-1])
    detect, compare = shown["pages/detect.py"], shown["pages/compare.py"]
    assert not detect["exception"] and not compare["exception"]
    assert len(detect["errors"]) == 1 and "yolo11n.pt" in detect["errors"][0]
    assert "cannot be loaded" in detect["errors"][0] and "failed on this image" not in detect["errors"][0]
    assert len(compare["errors"]) == 2 and all("cannot be loaded" in e for e in compare["errors"])
    assert sum(m.startswith("## ") for m in compare["markdown"]) == 3  # the CIFAR-10 models and yolov8n answered
