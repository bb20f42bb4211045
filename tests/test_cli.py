"""The command line: JSON schema, CSV, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from core.cli import main
from core.models.weights import PROJECT_ROOT


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_models_lists_the_registry(capsys, weights_dir):
    assert main(["models", "--json"]) == 0
    rows = {row["name"]: row for row in _json_lines(capsys.readouterr().out)}
    assert rows["mobilenet_v2"]["classes"] == 1000 and rows["mobilenet_v2"]["input_size"] == 224
    assert rows["yolo11n"]["task"] == "detect" and rows["yolo11n"]["weights_found"]


def test_predict_detect_json(capsys, photo_paths):
    assert main(["predict", str(photo_paths["bus"]), "--model", "yolo11n", "--json"]) == 0
    (row,) = _json_lines(capsys.readouterr().out)
    assert list(row) == ["image", "model", "task", "version", "detections", "latency_ms"]
    assert row["task"] == "detect" and row["image"] == str(photo_paths["bus"])
    labels = [d["label"] for d in row["detections"]]
    assert "bus" in labels and labels.count("person") >= 3
    first = row["detections"][0]
    assert list(first) == ["label", "class_id", "score", "box"] and len(first["box"]) == 4


def test_predict_classify_json_with_a_bad_file(capsys, photo_paths, tmp_path):
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a picture")
    images = [str(photo_paths["dog"]), str(bad), str(photo_paths["cat"])]
    assert main(["predict", *images, "--model", "mobilenet_v2", "--top-k", "3", "--json"]) == 1
    rows = _json_lines(capsys.readouterr().out)
    assert [row["image"] for row in rows] == images
    assert list(rows[0]) == ["image", "model", "task", "version", "top_k", "latency_ms"]
    assert len(rows[0]["top_k"]) == 3 and rows[0]["top_k"][0]["label"] == "Samoyed"
    assert set(rows[0]["top_k"][0]) == {"label", "index", "score"}
    assert rows[1] == {"image": str(bad), "error": {"code": "invalid_image", "message": rows[1]["error"]["message"]}}
    assert "not an image" in rows[1]["error"]["message"]
    assert "top_k" in rows[2]


def test_predict_csv(capsys, photo_paths, tmp_path):
    out = tmp_path / "results.csv"
    images = [str(photo_paths[name]) for name in ("bus", "dog", "cat", "bus")]
    assert main(["predict", *images, "--model", "yolo11n", "--csv", str(out)]) == 0
    table = pd.read_csv(out)
    assert {"image", "label", "score", "x1", "y2"} <= set(table.columns)
    assert set(table["image"]) == set(images)
    assert "images" in capsys.readouterr().err  # the progress bar


def test_unknown_model_is_a_message_not_a_traceback(capsys):
    assert main(["predict", "x.jpg", "--model", "nope"]) == 2
    err = capsys.readouterr().err
    assert "Unknown model 'nope'" in err and "Traceback" not in err


@pytest.mark.slow
@pytest.mark.parametrize("images, expected_code", [(["bus.jpg"], 0), (["bus.jpg", "missing.jpg"], 1)])
def test_exit_codes_from_the_real_command_line(photo_paths, images, expected_code):
    paths = [str(photo_paths["bus"].parent / name) for name in images]
    done = subprocess.run(
        [sys.executable, "-m", "core", "predict", *paths, "--model", "yolo11n", "--json"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, env=os.environ.copy(), timeout=300,
    )
    assert done.returncode == expected_code, done.stderr
    assert "Traceback" not in done.stderr
    rows = _json_lines(done.stdout)
    assert len(rows) == len(paths) and "bus" in [d["label"] for d in rows[0]["detections"]]


def test_explicit_weights_path(capsys, photo_paths, weights_dir, tmp_path):
    assert main(["predict", str(photo_paths["bus"]), "--model", "yolo11n", "--weights", str(tmp_path / "no.pt")]) == 2
    assert "no.pt" in capsys.readouterr().err
    explicit = str(weights_dir / "yolo11n.pt")
    assert main(["predict", str(photo_paths["bus"]), "--model", "yolo11n", "--weights", explicit, "--json"]) == 0
    assert "bus" in capsys.readouterr().out
