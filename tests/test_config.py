"""Settings live in core/config.py alone, the README's table lists them, and the framework caches
are found the way the frameworks find them."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core import config
from core.errors import ConfigError

SOURCES = [path for folder in ("core", "pages", "training") for path in sorted((config.PROJECT_ROOT / folder).rglob("*.py"))]
SOURCES.append(config.PROJECT_ROOT / "app.py")
# The framework helper sets the frameworks' own variables (KERAS_BACKEND, YOLO_OFFLINE, ...).
MAY_READ_THE_ENVIRONMENT = {config.PROJECT_ROOT / "core" / "config.py", config.PROJECT_ROOT / "core" / "frameworks.py"}


def _environment_reads(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv"):
            found.append(f"{path.relative_to(config.PROJECT_ROOT)}:{node.lineno}")
    return found


def test_only_the_config_module_reads_the_environment():
    reads = [hit for path in SOURCES if path not in MAY_READ_THE_ENVIRONMENT for hit in _environment_reads(path)]
    assert reads == []


def test_the_readme_lists_every_variable_with_its_default():
    readme = (config.PROJECT_ROOT / "README.md").read_text()
    rows = [line for line in readme.splitlines() if line.startswith(("| `VISION_", "| `MLFLOW_"))]
    assert [row.split("`")[1] for row in rows] == [variable.name for variable in config.VARIABLES]
    for row, variable in zip(rows, config.VARIABLES):
        assert f"| {variable.default} |" in row, row


def test_settings_are_read_when_asked_for(monkeypatch, tmp_path):
    monkeypatch.setenv(config.DATA_ENV, str(tmp_path))
    assert config.data_dir() == tmp_path
    monkeypatch.setenv(config.DATA_ENV, "")
    assert config.data_dir() is None
    monkeypatch.setenv(config.OFFLINE_ENV, "yes")
    assert config.offline()
    monkeypatch.setenv(config.RUNTIME_ENV, "native")
    assert not config.fast_runtime()
    monkeypatch.setenv(config.RUNTIME_ENV, "turbo")
    with pytest.raises(ConfigError, match="VISION_RUNTIME='turbo': use one of fast, native"):
        config.fast_runtime()
    monkeypatch.setenv(config.ICE_SERVERS_ENV, "[{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        config.ice_servers()


def test_api_settings_are_checked(monkeypatch):
    registered = ["mobilenet_v2", "yolo11n"]
    assert config.api_preload(registered) == registered and config.api_max_file_bytes() == 25_000_000
    monkeypatch.setenv(config.API_PRELOAD_ENV, "yolo11n, ")
    assert config.api_preload(registered) == ["yolo11n"]
    monkeypatch.setenv(config.API_PRELOAD_ENV, "none")
    assert config.api_preload(registered) == []
    monkeypatch.setenv(config.API_PRELOAD_ENV, "yolo12")
    with pytest.raises(ConfigError, match="names yolo12: use registered model names"):
        config.api_preload(registered)
    monkeypatch.setenv(config.API_QUEUE_ENV, "1.5")
    with pytest.raises(ConfigError, match="VISION_API_QUEUE='1.5': use a whole number above 0"):
        config.api_queue()
    monkeypatch.setenv(config.API_TIMEOUT_ENV, "-1")
    with pytest.raises(ConfigError, match="use a number above 0"):
        config.api_timeout_s()
    monkeypatch.setenv(config.API_MAX_FILE_ENV, "0.5")
    assert config.api_max_file_bytes() == 500_000
    monkeypatch.setenv(config.API_CORS_ENV, "https://a.example, https://b.example")
    assert config.api_cors_origins() == ["https://a.example", "https://b.example"]


def _ultralytics_settings(config_dir: Path) -> str:
    """Let Ultralytics write its settings file under `config_dir` (a fresh process, as a first run
    on a new machine would) and return the weights folder it reports."""
    code = "from core import frameworks; frameworks.ultralytics(); from ultralytics.utils import SETTINGS; " \
           "print(SETTINGS['weights_dir'])"
    environment = {**os.environ, "YOLO_CONFIG_DIR": str(config_dir)}
    done = subprocess.run([sys.executable, "-c", code], cwd=config.PROJECT_ROOT, env=environment,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.slow
def test_ultralytics_weights_folder_is_the_one_ultralytics_uses(tmp_path, monkeypatch):
    """Read from Ultralytics' settings file without importing it, checked against Ultralytics itself."""
    monkeypatch.setenv("YOLO_CONFIG_DIR", str(tmp_path))
    assert config.ultralytics_weights_dir() is None  # Ultralytics never ran with this folder: nothing cached
    reported = _ultralytics_settings(tmp_path)
    assert config.ultralytics_weights_dir() == Path(reported)


@pytest.mark.slow
def test_loading_the_cli_and_the_dashboard_agree_on_framework_caches(weights_dir, tmp_path):
    """With the weights only in Keras' and Ultralytics' own caches, `python -m core models`, loading
    and the dashboard's staleness check all find them (they used to disagree)."""
    keras_cache, yolo_weights = tmp_path / "keras" / "models", tmp_path / "yolo-weights"
    keras_cache.mkdir(parents=True)
    yolo_weights.mkdir()
    for name in ("mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5", "imagenet_class_index.json"):
        shutil.copy(weights_dir / name, keras_cache / name)
    shutil.copy(weights_dir / "yolo11n.pt", yolo_weights / "yolo11n.pt")
    _ultralytics_settings(tmp_path)
    settings = tmp_path / "Ultralytics" / "settings.json"
    settings.write_text(json.dumps({**json.loads(settings.read_text()), "weights_dir": str(yolo_weights)}))
    environment = {key: value for key, value in os.environ.items() if key != config.WEIGHTS_ENV}
    environment.update(KERAS_HOME=str(tmp_path / "keras"), YOLO_CONFIG_DIR=str(tmp_path), VISION_OFFLINE="1")
    code = textwrap.dedent("""
        import json
        from core import service
        from core.evaluation import reports
        listed = {i.name: i.weights_path for i in service.list_models()}
        loaded = {n: str(service.load(n).weights) for n in ("mobilenet_v2", "yolo11n")}
        stale = {n: reports.problems(n, json.loads((reports.METRICS_DIR / f"{n}.json").read_text())) for n in loaded}
        print(json.dumps({"listed": listed, "loaded": loaded, "stale": stale}))
    """)
    done = subprocess.run([sys.executable, "-c", code], cwd=config.PROJECT_ROOT, env=environment,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    for name in ("mobilenet_v2", "yolo11n"):
        assert found["listed"][name] == found["loaded"][name], name
        assert found["loaded"][name].startswith(str(tmp_path)), found["loaded"][name]
        assert found["stale"][name] == [], found["stale"][name]
    cli = subprocess.run([sys.executable, "-m", "core", "models"], cwd=config.PROJECT_ROOT, env=environment,
                         capture_output=True, text=True, timeout=120)
    assert str(keras_cache) in cli.stdout and str(yolo_weights) in cli.stdout, cli.stdout
