"""Every setting in one place: the environment variables, the project's paths and the default
thresholds. Each `VISION_*` variable is read here and nowhere else (core.frameworks still sets the
frameworks' own variables, such as KERAS_BACKEND).

Variables are read when a setting is asked for, not once at import: a test, or a server whose
environment is changed before a model loads, gets the value in force at that moment.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from core.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = PROJECT_ROOT / "models"  # our trained artifacts and their JSON sidecars
METRICS_DIR = PROJECT_ROOT / "assets" / "metrics"  # written by `python -m training.evaluate`
EDA_DIR = PROJECT_ROOT / "assets" / "eda"  # written by `python -m training.eda`

# Defaults every front end shares (the CLI's flags, the pages' sliders, live video).
TOP_K = 5
MAX_TOP_K = 10
CONFIDENCE = 0.25  # detections below this score are dropped
NMS_IOU = 0.7  # boxes overlapping a better one by more than this are dropped

WEIGHTS_ENV = "VISION_WEIGHTS_DIR"
DATA_ENV = "VISION_DATA_DIR"
OFFLINE_ENV = "VISION_OFFLINE"
CACHE_ENV = "VISION_CACHE_DIR"
RUNTIME_ENV = "VISION_RUNTIME"
ICE_SERVERS_ENV = "VISION_ICE_SERVERS"
THREADS_ENV = "VISION_THREADS"
DEFAULT_ICE_SERVERS = [{"urls": ["stun:stun.l.google.com:19302"]}]
RUNTIMES = ("fast", "native")

# The REST API (python -m core serve).
API_HOST = "127.0.0.1"  # only this machine, unless told otherwise
API_PORT = 8000
API_PRELOAD_ENV = "VISION_API_PRELOAD"
API_MAX_FILE_ENV = "VISION_API_MAX_FILE_MB"
API_MAX_REQUEST_ENV = "VISION_API_MAX_REQUEST_MB"
API_TIMEOUT_ENV = "VISION_API_TIMEOUT_S"
API_QUEUE_ENV = "VISION_API_QUEUE"
API_THREADS_ENV = "VISION_API_THREADS"
API_CORS_ENV = "VISION_API_CORS_ORIGINS"

# MLflow (training/tracking.py, training/register.py): MLflow's own variable, and our alias switch.
MLFLOW_URI_ENV = "MLFLOW_TRACKING_URI"
MLFLOW_ALIAS_ENV = "VISION_MLFLOW_ALIAS"
# MLflow 3's own default is ./mlflow.db with artifacts in ./mlruns, relative to where it runs; we
# anchor both to the project so a script run from another folder finds the same runs.
MLFLOW_DB = PROJECT_ROOT / "mlflow.db"
MLFLOW_ARTIFACTS = PROJECT_ROOT / "mlruns"
# Optuna keeps its studies beside it: its schema version and MLflow's share alembic's table name,
# so one SQLite file cannot hold both (Optuna then refuses to open it).
OPTUNA_DB = PROJECT_ROOT / "optuna.db"
RETRAINING_DIR = METRICS_DIR / "retraining"  # one decision record per retraining run

MONITOR_DB_ENV = "VISION_MONITOR_DB"  # monitoring (core/monitoring): the prediction log
MONITOR_QUEUE_ENV = "VISION_MONITOR_QUEUE"
MONITOR_IMAGES_ENV = "VISION_MONITOR_IMAGES"
PROFILES_DIR = PROJECT_ROOT / "assets" / "monitoring"  # reference profiles (python -m training.profile)
ALERT_RULES = PROFILES_DIR / "alerts.toml"
ALERT_WEBHOOK_ENV = "VISION_ALERT_WEBHOOK"
MONITOR_CHECK_ENV = "VISION_MONITOR_CHECK_S"
SHADOW_SHARE_ENV = "VISION_SHADOW_SHARE"
SHADOW_ALIAS = "challenger"  # the registry alias that answers in shadow of the served model


@dataclass(frozen=True)
class Variable:
    name: str
    default: str
    meaning: str


# The README's table of settings is this list (tests/test_config.py keeps the two in step).
VARIABLES = (
    Variable(WEIGHTS_ENV, "unset", "a folder of weights files under their canonical names, searched first"),
    Variable(DATA_ENV, "unset", "the data folder: `photos/` (extra samples), `cifar10/` or `cifar-10-batches-py/`, "
             "`imagenet-sample/`, `coco128/`; unset, only the bundled samples are offered and training "
             "downloads CIFAR-10"),
    Variable(OFFLINE_ENV, "unset", "`1` never tries a download (weights, labels, datasets): a missing file fails "
             "at once"),
    Variable(CACHE_ENV, "`~/.cache/vision-side-by-side`", "where the fast runtimes' exports are kept"),
    Variable(RUNTIME_ENV, "`fast`", "`native` runs TensorFlow and PyTorch themselves instead of TFLite and "
             "ONNX Runtime"),
    Variable(ICE_SERVERS_ENV, "a public STUN server", "live video's ICE servers as a JSON list (a TURN server, "
             "or `[]`)"),
    Variable(THREADS_ENV, "the number of CPU cores", "threads one TFLite model call uses; fewer than the cores "
             "lets cores ÷ this many calls of a model run side by side (the API sets 1 per core)"),
    Variable(API_PRELOAD_ENV, "`all`", "the models the API loads before it reports ready (comma-separated names, "
             "`all` or `none`); the others load on first use"),
    Variable(API_MAX_FILE_ENV, "`25`", "the API's limit per uploaded file, in MB"),
    Variable(API_MAX_REQUEST_ENV, "`100`", "the API's limit per request body, in MB"),
    Variable(API_TIMEOUT_ENV, "`30`", "seconds an API inference may take before the request gets 504"),
    Variable(API_QUEUE_ENV, "`64`", "API inferences waiting or running at once; more get 503 with `Retry-After`"),
    Variable(API_THREADS_ENV, "the number of CPU cores", "threads running the API's inferences"),
    Variable(API_CORS_ENV, "unset (CORS off)", "origins allowed to call the API from a browser, comma-separated "
             "(`*` for any)"),
    Variable(MLFLOW_URI_ENV, "`sqlite:///mlflow.db` in the project", "MLflow's own setting: where training "
             "logs its runs and the registry lives (any MLflow server URL)"),
    Variable(MLFLOW_ALIAS_ENV, "unset (files in `models/`)", "an alias such as `champion`: the app, CLI and API "
             "load our trained models from the MLflow registry version that carries it"),
    Variable(MONITOR_DB_ENV, "`monitor.db` in the project", "the prediction log: a SQLite file path or a database "
             "URL (`postgresql://user:password@host/db`); `none` turns logging off"),
    Variable(MONITOR_QUEUE_ENV, "`1000`", "records waiting for the log's writer; more are dropped and counted"),
    Variable(MONITOR_IMAGES_ENV, "unset", "`1` also stores each prediction's model input (a JPEG) in the log"),
    Variable(ALERT_WEBHOOK_ENV, "unset", "a URL each firing or resolved alert is posted to as JSON (Slack-compatible)"),
    Variable(MONITOR_CHECK_ENV, "`300`", "seconds between the API's checks of the alert rules; `0` turns them off"),
    Variable(SHADOW_SHARE_ENV, "`0`", "share of the API's predictions (0 to 1) the registry's `challenger` also "
             "answers, after the response, for /monitor"),
)


def _value(name: str) -> str:
    return os.environ.get(name, "").strip()


def weights_dir() -> Path | None:
    return Path(_value(WEIGHTS_ENV)).expanduser() if _value(WEIGHTS_ENV) else None


def data_dir() -> Path | None:
    return Path(_value(DATA_ENV)).expanduser() if _value(DATA_ENV) else None


def offline() -> bool:
    return _value(OFFLINE_ENV).lower() in ("1", "true", "yes")


def cache_dir() -> Path:
    return Path(_value(CACHE_ENV) or Path.home() / ".cache" / "vision-side-by-side").expanduser()


def child_environment() -> dict[str, str]:
    """This process's environment for a Python child that imports core from this project."""
    path = os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


def downloaded_weights_dir() -> Path:
    """Where weights that we download ourselves (YOLO's release files) are kept."""
    return cache_dir() / "weights"


def fast_runtime() -> bool:
    runtime = _value(RUNTIME_ENV).lower() or "fast"
    if runtime not in RUNTIMES:
        raise ConfigError(f"{RUNTIME_ENV}={runtime!r}: use one of {', '.join(RUNTIMES)}.")
    return runtime == "fast"


def inference_threads() -> int:
    return int(_number(THREADS_ENV, os.cpu_count() or 1, whole=True))


def keras_cache_dir() -> Path:
    """Where keras.utils.get_file keeps models ($KERAS_HOME/models), computed without importing Keras."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser() / "models"


def keras_backend() -> str:
    """The backend Keras trains on (its own KERAS_BACKEND; core.frameworks defaults it to TensorFlow)."""
    return os.environ.get("KERAS_BACKEND") or "tensorflow"


def ultralytics_weights_dir() -> Path | None:
    """Ultralytics' own weights folder, as its settings file names it (found without importing
    Ultralytics, which costs seconds). None before Ultralytics has ever run here: then it has
    downloaded nothing either."""
    if os.environ.get("YOLO_CONFIG_DIR"):
        folder = Path(os.environ["YOLO_CONFIG_DIR"]).expanduser() / "Ultralytics"
    elif sys.platform == "darwin":
        folder = Path.home() / "Library" / "Application Support" / "Ultralytics"
    elif sys.platform == "win32":
        folder = Path.home() / "AppData" / "Roaming" / "Ultralytics"
    else:
        folder = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "Ultralytics"
    try:
        weights = json.loads((folder / "settings.json").read_text()).get("weights_dir")
    except (OSError, ValueError, AttributeError):
        return None
    return Path(weights) if weights else None


def api_preload(registered: list[str], everyday: list[str] | None = None) -> list[str]:
    """The models the API loads at start-up: unless the variable says otherwise, `everyday` (every
    registered model but the optimised variants, which are built on first use; default: all)."""
    value = _value(API_PRELOAD_ENV).lower() or "all"
    if value == "all":
        return list(registered if everyday is None else everyday)
    names = [] if value == "none" else [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in registered]
    if unknown:
        raise ConfigError(f"{API_PRELOAD_ENV} names {', '.join(unknown)}: use registered model names "
                          f"({', '.join(registered)}), `all` or `none`.")
    return names


def mlflow_tracking_uri() -> str:
    return _value(MLFLOW_URI_ENV) or f"sqlite:///{MLFLOW_DB}"


def mlflow_artifact_root() -> Path | None:
    """Where new experiments keep their artifacts: beside the SQLite file of a local store (the
    project's mlruns/ for the default one), wherever the script runs; None for a server, which
    decides itself."""
    uri = mlflow_tracking_uri()
    if uri == f"sqlite:///{MLFLOW_DB}":
        return MLFLOW_ARTIFACTS
    if uri.startswith("sqlite:///"):
        return Path(uri.removeprefix("sqlite:///")).resolve().parent / "mlruns"
    return None


def mlflow_alias() -> str | None:
    """The registry alias our trained models are served from, or None to serve the files in models/."""
    return _value(MLFLOW_ALIAS_ENV) or None


def monitor_url() -> str | None:
    """The prediction log's SQLAlchemy URL, or None when logging is off."""
    from core.monitoring.store import database_url  # SQLAlchemy stays unimported until a log is wanted
    value = _value(MONITOR_DB_ENV) or str(PROJECT_ROOT / "monitor.db")  # beside mlflow.db; gitignored
    return None if value.lower() in ("none", "off", "0") else database_url(value)


def use_monitor_db(value: str) -> None:
    os.environ[MONITOR_DB_ENV] = value  # the log of this process, and of the processes it starts


def monitor_queue() -> int:
    return int(_number(MONITOR_QUEUE_ENV, 1000, whole=True))


def monitor_images() -> bool:
    return _value(MONITOR_IMAGES_ENV).lower() in ("1", "true", "yes")


def alert_webhook() -> str | None:
    return _value(ALERT_WEBHOOK_ENV) or None


def monitor_check_s() -> float | None:
    """Seconds between the API's alert checks; None when they are off."""
    return None if _value(MONITOR_CHECK_ENV) in ("0", "off", "none") else _number(MONITOR_CHECK_ENV, 300)


def shadow_share() -> float:
    text = _value(SHADOW_SHARE_ENV) or "0"
    try:
        share = float(text)
    except ValueError:
        share = -1.0
    if not 0 <= share <= 1:
        raise ConfigError(f"{SHADOW_SHARE_ENV}={text!r}: use a share from 0 to 1, such as 0.1.")
    return share


def settings_for_workers() -> dict[str, str]:
    """Our settings as set in this process (VISION_*, MLflow's URI, Keras' backend), for worker
    processes that do not inherit our environment (a Ray cluster's)."""
    names = [variable.name for variable in VARIABLES] + ["KERAS_BACKEND"]
    return {name: os.environ[name] for name in names if os.environ.get(name)}


def environment_with(extra: dict[str, str] | None) -> dict[str, str]:
    """This process's environment plus `extra`: for a server started as a subprocess."""
    return {**os.environ, **(extra or {})}


def prefer_parallel_inference() -> None:
    """For a server of concurrent requests: one thread per TFLite call unless VISION_THREADS says
    otherwise, so the cores serve that many calls side by side (measured with
    `python -m core bench --api`: more requests/s at 8 clients, a longer wait for a lone one)."""
    os.environ.setdefault(THREADS_ENV, "1")


def export_api_preload(names: list[str]) -> None:
    """Hand the preload list to API worker processes started after this (they read it back above)."""
    os.environ[API_PRELOAD_ENV] = ",".join(names) or "none"


def api_max_file_bytes() -> int:
    return int(_number(API_MAX_FILE_ENV, 25) * 1_000_000)


def api_max_request_bytes() -> int:
    return int(_number(API_MAX_REQUEST_ENV, 100) * 1_000_000)


def api_timeout_s() -> float:
    return _number(API_TIMEOUT_ENV, 30)


def api_queue() -> int:
    return int(_number(API_QUEUE_ENV, 64, whole=True))


def api_threads() -> int:
    return int(_number(API_THREADS_ENV, os.cpu_count() or 1, whole=True))


def api_cors_origins() -> list[str]:
    return [origin.strip() for origin in _value(API_CORS_ENV).split(",") if origin.strip()]


def _number(name: str, default: float, whole: bool = False) -> float:
    """A positive number from variable `name`, or `default` when it is unset."""
    text = _value(name)
    if not text:
        return default
    try:
        value = int(text) if whole else float(text)
    except ValueError:
        value = 0
    if not value > 0:
        kind = "a whole number" if whole else "a number"
        raise ConfigError(f"{name}={text!r}: use {kind} above 0.")
    return value


def ice_servers() -> list[dict]:
    """WebRTC ICE servers: $VISION_ICE_SERVERS as JSON (a TURN server for restrictive networks, or []
    on a machine without internet), else a public STUN server."""
    value = _value(ICE_SERVERS_ENV)
    if not value:
        return DEFAULT_ICE_SERVERS
    example = json.dumps(DEFAULT_ICE_SERVERS)
    try:
        servers = json.loads(value)
    except json.JSONDecodeError as error:
        raise ConfigError(f"{ICE_SERVERS_ENV} is not valid JSON ({error}); write it like {example}.") from None
    if not isinstance(servers, list):
        raise ConfigError(f"{ICE_SERVERS_ENV} must be a JSON list of ICE servers, like {example}.")
    return servers
