"""Weight resolution order and the message when nothing is found."""

from __future__ import annotations

import pytest

from core.models import weights
from core.models.weights import WeightsNotFoundError, resolve_file


@pytest.fixture
def folders(tmp_path, monkeypatch):
    env, models, cache = (tmp_path / name for name in ("env", "models", "cache"))
    for folder in (env, models, cache):
        folder.mkdir()
    monkeypatch.setenv(weights.WEIGHTS_ENV, str(env))
    monkeypatch.setattr(weights, "MODELS_DIR", models)
    return env, models, cache


def test_search_order(folders, tmp_path):
    env, models, cache = folders
    for folder in (cache, models, env):
        (folder / "w.h5").write_text(folder.name)
        assert resolve_file("w.h5", cache_dirs=[cache]).read_text() == folder.name
    explicit = tmp_path / "mine.h5"
    explicit.write_text("explicit")
    assert resolve_file("w.h5", explicit=explicit, cache_dirs=[cache]) == explicit


def test_download_is_the_last_resort(folders, tmp_path, monkeypatch):
    monkeypatch.delenv(weights.OFFLINE_ENV, raising=False)
    downloaded = tmp_path / "downloaded.h5"
    downloaded.write_text("from the framework")
    assert resolve_file("w.h5", download=lambda: downloaded) == downloaded


def test_not_found_names_the_file_the_places_and_the_fix(folders, monkeypatch):
    env, models, cache = folders
    monkeypatch.delenv(weights.OFFLINE_ENV, raising=False)

    def failing_download():
        raise ConnectionError("no network")

    with pytest.raises(WeightsNotFoundError) as error:
        resolve_file("yolo11n.pt", cache_dirs=[cache], download=failing_download)
    message = str(error.value)
    for expected in ("yolo11n.pt", str(env), str(models), str(cache), "no network", weights.WEIGHTS_ENV):
        assert expected in message


def test_offline_never_downloads(folders, monkeypatch):
    monkeypatch.setenv(weights.OFFLINE_ENV, "1")
    with pytest.raises(WeightsNotFoundError):
        resolve_file("w.h5", download=lambda: pytest.fail("downloaded while offline"))


def test_explicit_path_must_exist(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="explicitly"):
        resolve_file("w.h5", explicit=tmp_path / "nope.h5")
