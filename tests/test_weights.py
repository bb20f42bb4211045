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


@pytest.fixture
def release_server(weights_dir):
    """A local HTTP server standing in for the release download: /yolo11n.pt is the real file."""
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(weights_dir))
    handler.log_message = lambda *args: None
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield f"http://127.0.0.1:{server.server_address[1]}"
        server.shutdown()


def test_yolo_weights_download_into_our_cache_whatever_the_working_folder(
        folders, release_server, weights_dir, tmp_path, monkeypatch):
    """Fetched by us (not by Ultralytics, which resolved a relative weights/ folder), written
    atomically into VISION_CACHE_DIR/weights, and found there from any working folder afterwards."""
    from dataclasses import replace

    from core.models.detector import _download
    from core.models.registry import get_spec

    monkeypatch.delenv(weights.OFFLINE_ENV, raising=False)
    monkeypatch.setenv("VISION_CACHE_DIR", str(tmp_path / "cache-home"))
    monkeypatch.chdir(tmp_path)
    spec = replace(get_spec("yolo11n"), weights_url=f"{release_server}/yolo11n.pt")
    path = weights.model_file(spec, download=_download(spec))
    assert path == tmp_path / "cache-home" / "weights" / "yolo11n.pt"
    assert path.read_bytes() == (weights_dir / "yolo11n.pt").read_bytes()
    assert [p.name for p in path.parent.iterdir()] == ["yolo11n.pt"]  # no partial file left beside it
    monkeypatch.chdir(folders[0])
    assert weights.model_file(spec) == path  # found without a download, from another folder

    missing = replace(spec, weights="yolo_missing.pt", weights_url=f"{release_server}/yolo_missing.pt")
    with pytest.raises(WeightsNotFoundError, match="HTTPError.*404"):
        weights.model_file(missing, download=_download(missing))
    assert not (path.parent / "yolo_missing.pt").exists()
