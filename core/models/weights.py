"""Find a model's files: an explicit path, $VISION_WEIGHTS_DIR, the project's models/, the
framework's own cache, and last the framework's own download (which needs the internet)."""

from __future__ import annotations

import contextlib
import os
import zipfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from core import config
from core.config import MODELS_DIR, OFFLINE_ENV, PROJECT_ROOT, WEIGHTS_ENV, keras_cache_dir  # noqa: F401 (re-exported)
from core.errors import VisionError, WeightsDamagedError, WeightsNotFoundError
from core.models import mlflow_models


def resolve_file(
    filename: str,
    *,
    explicit: str | os.PathLike | None = None,
    cache_dirs: Sequence[Path] = (),
    download: Callable[[], str | os.PathLike] | None = None,
) -> Path:
    """Return the path of `filename`, searching the documented places in order. `explicit` may be
    a registry URI (models:/NAME@ALIAS): then the registered version's file."""
    if mlflow_models.is_registry_uri(explicit):
        return mlflow_models.resolve(explicit)
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
    always agree. Without `download`, only what is already on this machine counts. With
    VISION_MLFLOW_ALIAS set, our trained models' weights are the registry version with that alias."""
    if spec.variant_of:  # a variant is built from its source's weights
        from core.models.registry import get_spec

        spec = get_spec(spec.variant_of)
    alias = config.mlflow_alias()
    if explicit is None and filename is None and alias and spec.framework == "keras-file":
        explicit = mlflow_models.champion_uri(spec.name, alias)
    return resolve_file(filename or spec.weights, explicit=explicit, cache_dirs=framework_cache_dirs(spec.framework),
                        download=download)


ZIP_FORMATS = {".keras": "Keras", ".pt": "PyTorch"}  # both are zip archives inside


@contextlib.contextmanager
def reading(spec, path: Path, what: str = "weights file") -> Iterator[None]:
    """Turn a framework's failure to read `path` into WeightsDamagedError naming the file and what
    is wrong with it, in our words: the frameworks' own messages name temporary copies, say "file
    not found" for a file that exists, or suggest other models."""
    try:
        yield
    except VisionError:
        raise
    except Exception as error:  # truncated zips, pickles and HDF5 files raise all kinds of errors
        size = f"{path.stat().st_size:,} bytes" if path.is_file() else "missing"
        raise WeightsDamagedError(
            f"{spec.title}: the {what} {path} ({size}) cannot be loaded: {_what_is_wrong(path, error)}. "
            f"Replace it with a good copy of {path.name}."
        ) from error


def _what_is_wrong(path: Path, error: Exception) -> str:
    if path.suffix in ZIP_FORMATS and path.is_file() and not zipfile.is_zipfile(path):
        kind = ZIP_FORMATS[path.suffix]
        return f"it is not a complete {kind} file (those are zip archives): truncated, damaged or another kind of file"
    while error.__cause__ is not None or error.__context__ is not None:  # the framework's innermost reason
        error = error.__cause__ or error.__context__
    detail = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
    return f"it is damaged or not the file its name says ({type(error).__name__}: {detail})"


def find_model_file(spec) -> Path | None:
    """The weights file loading would open now, or None; never downloads."""
    try:
        return model_file(spec)
    except WeightsNotFoundError:
        return None


def framework_cache_dirs(framework: str) -> list[Path]:
    """Where downloaded weights are kept: Keras' models folder; for YOLO ours, then Ultralytics' own
    weights folder (where an earlier Ultralytics download may have put them)."""
    if framework == "ultralytics":
        folder = config.ultralytics_weights_dir()
        return [config.downloaded_weights_dir()] + ([folder] if folder else [])
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
