"""Shared fixtures: the real weights and photos from VISION_WEIGHTS_DIR / VISION_DATA_DIR."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core import get_model, load_image


def _env_dir(variable: str) -> Path:
    value = os.environ.get(variable)
    if not value:
        pytest.skip(f"{variable} is not set: these tests need the real assets (see README, 'Tests').")
    return Path(value)


@pytest.fixture(scope="session", autouse=True)
def mlflow_store(tmp_path_factory) -> str:
    """Every MLflow run the tests make (training, evaluation, servers started by tests) goes to a
    temporary SQLite store, never the project's mlflow.db; its artifacts go beside it."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow')}/mlflow.db"
    os.environ["MLFLOW_TRACKING_URI"] = uri
    return uri


@pytest.fixture(scope="session", autouse=True)
def monitor_store(tmp_path_factory) -> Path:
    """The prediction log of every app, API and CLI the tests start is a temporary SQLite file,
    never the project's monitor.db (a test wanting its own sets VISION_MONITOR_DB itself)."""
    path = tmp_path_factory.mktemp("monitor") / "monitor.db"
    os.environ["VISION_MONITOR_DB"] = str(path)
    return path


@pytest.fixture(scope="session")
def weights_dir() -> Path:
    return _env_dir("VISION_WEIGHTS_DIR")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return _env_dir("VISION_DATA_DIR")


@pytest.fixture(scope="session")
def photos(data_dir: Path) -> dict[str, np.ndarray]:
    """bus.jpg, dog.jpg and cat.jpg as RGB uint8 arrays, keyed by stem."""
    return {path.stem: load_image(path) for path in sorted((data_dir / "photos").glob("*.jpg"))}


@pytest.fixture(scope="session")
def photo(photo_paths) -> Image.Image:
    """A real photo (bus.jpg), shrunk so that encoding it in every format stays fast."""
    with Image.open(photo_paths["bus"]) as image:
        return image.convert("RGB").resize((81, 108))


@pytest.fixture(scope="session")
def photo_paths(data_dir: Path) -> dict[str, Path]:
    return {path.stem: path for path in sorted((data_dir / "photos").glob("*.jpg"))}


@pytest.fixture(scope="session")
def mobilenet(weights_dir: Path):
    return get_model("mobilenet_v2")


@pytest.fixture(scope="session")
def yolo(weights_dir: Path):
    return get_model("yolo11n")
