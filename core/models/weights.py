"""Find a model's files: an explicit path, $VISION_WEIGHTS_DIR, the project's models/, the
framework's own cache, and last the framework's own download (which needs the internet)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from core import config
from core.config import MODELS_DIR, OFFLINE_ENV, PROJECT_ROOT, WEIGHTS_ENV, keras_cache_dir  # noqa: F401 (re-exported)
from core.errors import WeightsNotFoundError


def resolve_file(
    filename: str,
    *,
    explicit: str | os.PathLike | None = None,
    cache_dirs: Sequence[Path] = (),
    download: Callable[[], str | os.PathLike] | None = None,
) -> Path:
    """Return the path of `filename`, searching the documented places in order."""
    if explicit is not None:
        path = Path(explicit).expanduser()
        if path.is_file():
            return path
        raise WeightsNotFoundError(f"{filename}: the path given explicitly, {path}, is not a file.")
    candidates = [folder / filename for folder in search_dirs(cache_dirs)]
    for path in candidates:
        if path.is_file():
            return path
    searched = [str(path) for path in candidates]
    if download is not None and not config.offline():
        try:
            return Path(download())
        except Exception as error:  # any failure of the framework's download ends in our message
            searched.append(f"the framework's download ({type(error).__name__}: {error})")
    raise WeightsNotFoundError(_not_found_message(filename, searched))


def model_file(spec, filename: str | None = None, *, explicit: str | os.PathLike | None = None,
               download: Callable[[], str | os.PathLike] | None = None) -> Path:
    """The one lookup of a model's files (its weights, or `filename`, e.g. a labels file): what
    loading opens, what `python -m core models` lists and what the dashboard checks, so the three
    always agree. Without `download`, only what is already on this machine counts."""
    return resolve_file(filename or spec.weights, explicit=explicit, cache_dirs=framework_cache_dirs(spec.framework),
                        download=download)


def find_model_file(spec) -> Path | None:
    """The weights file loading would open now, or None; never downloads."""
    try:
        return model_file(spec)
    except WeightsNotFoundError:
        return None


def framework_cache_dirs(framework: str) -> list[Path]:
    """Where the framework keeps what it downloaded: Keras' models folder, or Ultralytics' weights folder."""
    if framework == "ultralytics":
        folder = config.ultralytics_weights_dir()
        return [folder] if folder else []
    return [keras_cache_dir()]


def search_dirs(cache_dirs: Sequence[Path] = ()) -> list[Path]:
    """The folders searched before any download, in order."""
    folders = [config.weights_dir()] if config.weights_dir() else []
    folders.append(MODELS_DIR)
    folders.extend(cache_dirs)
    return folders


def _not_found_message(filename: str, searched: list[str]) -> str:
    places = "; ".join(searched) if searched else "nowhere"
    return (
        f"Could not find the model file {filename}. Searched: {places}. "
        f"Put {filename} in a folder and set {WEIGHTS_ENV} to it, copy it into {MODELS_DIR}, "
        "or run once on a machine with internet access so the framework downloads it."
    )
