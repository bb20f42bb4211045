"""Shared fixtures: the real weights and photos from VISION_WEIGHTS_DIR / VISION_DATA_DIR."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core import frameworks, get_model, load_image

# The tests compare our ONNX detector with Ultralytics' PyTorch one in the same process, after Keras
# models have loaded: PyTorch must be imported first (see core/frameworks.py).
frameworks.torch()


def pytest_collection_modifyitems(items) -> None:
    """The container tests go last, so that their image's background build has the whole suite to
    finish in (a stable sort: every other test keeps its place)."""
    items.sort(key=lambda item: item.path.name == "test_container.py")


def pytest_collection_finish(session) -> None:
    """Start building the container image now if any test to run needs it: the build then overlaps
    the other tests (tests/container_build.py)."""
    if any("image" in getattr(item, "fixturenames", ()) and item.path.name == "test_container.py"
           for item in session.items):
        import container_build

        container_build.start()


def pytest_sessionfinish(session, exitstatus) -> None:
    import container_build

    container_build.stop()


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
def postgres():
    """A real PostgreSQL server's URL (tests/databases.py); skipped only where none is installed
    outside CI (CI installs it: there a missing server fails)."""
    from databases import postgres_bin, postgres_server

    if postgres_bin() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed: .ci/run installs Debian's postgresql package.")
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql).")
    with postgres_server() as url:
        yield url


@pytest.fixture
def fresh_log(tmp_path, monkeypatch) -> Path:
    """A prediction log of this test's own: a new SQLite file."""
    from core import monitoring

    path = tmp_path / "monitor.db"
    monkeypatch.setenv("VISION_MONITOR_DB", str(path))
    yield path
    monitoring.flush()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_log(request, tmp_path, monkeypatch) -> str:
    """A new prediction log in each database the project supports: a SQLite file, and a new
    database on a real PostgreSQL server."""
    from databases import new_database

    from core import monitoring

    setting = str(tmp_path / "monitor.db")
    if request.param == "postgresql":
        setting = new_database(request.getfixturevalue("postgres"))
    monkeypatch.setenv("VISION_MONITOR_DB", setting)
    yield setting
    monitoring.flush()


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
