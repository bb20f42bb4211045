"""`python -m core batch`: real CIFAR-10 test images through the local engine and a local Ray, bad
inputs reported per row, and a run killed half-way resumed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from core import service
from core.batch import runner
from core.errors import RequestError
from core.models.weights import PROJECT_ROOT

PER_CLASS = 50  # 500 images


@pytest.fixture(scope="module")
def cifar_slice(data_dir, tmp_path_factory) -> Path:
    """The first 50 test images of each class, in the folder-per-class layout."""
    root = tmp_path_factory.mktemp("cifar_slice")
    for folder in sorted((data_dir / "cifar10" / "test").iterdir()):
        (root / folder.name).mkdir()
        for path in sorted(folder.glob("*.jpg"))[:PER_CLASS]:
            (root / folder.name / path.name).write_bytes(path.read_bytes())
    return root


def committed_accuracy_on(root: Path) -> float:
    """What assets/metrics/cifar10_cnn.json says of exactly these test images."""
    metrics = json.loads((PROJECT_ROOT / "assets" / "metrics" / "cifar10_cnn.json").read_text())
    files = metrics["test_set"]["files"]
    wrong = {index for indices in metrics["classification"]["misclassified"].values() for index in indices}
    chosen = {f"{p.parent.name}/{p.name}" for p in root.rglob("*.jpg")}
    picked = [i for i, name in enumerate(files) if name in chosen]
    assert len(picked) == len(chosen)
    return 1 - len(wrong.intersection(picked)) / len(picked)


def _cli(*arguments: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", "batch", *arguments], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.slow
def test_local_and_ray_give_single_image_answers_and_the_committed_accuracy(cifar_slice, tmp_path):
    local = runner.run([str(cifar_slice)], ["cifar10_cnn"], tmp_path / "local.parquet")
    on_ray = runner.run([str(cifar_slice)], ["cifar10_cnn"], tmp_path / "ray.parquet", engine="ray", actors=2)
    rows = {name: pd.read_parquet(tmp_path / f"{name}.parquet").set_index("image") for name in ("local", "ray")}
    assert len(rows["local"]) == len(rows["ray"]) == 10 * PER_CLASS
    single = {image: service.predict("cifar10_cnn", image).top.label for image in rows["local"].index}
    for name, table in rows.items():
        assert table["error"].isna().all()
        assert table["top1_label"].to_dict() == single, name
        assert (table["true_label"] == [Path(i).parent.name for i in table.index]).all()
    expected = committed_accuracy_on(cifar_slice)
    for summary in (local, on_ray):
        correct, labelled = summary.accuracy["cifar10_cnn"]
        assert labelled == 10 * PER_CLASS and correct / labelled == pytest.approx(expected, abs=1e-9)


def bad_inputs(folder: Path, photo_paths) -> tuple[Path, Path]:
    """A zip with a good and a corrupt member, and a manifest with a good and a missing file."""
    archive = folder / "photos.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zipped:
        zipped.writestr("cat.jpg", photo_paths["cat"].read_bytes())
        zipped.writestr("broken.jpg", photo_paths["dog"].read_bytes())
    data = bytearray(archive.read_bytes())
    start = data.index(photo_paths["dog"].read_bytes()[:64])
    data[start + 2000:start + 2100] = bytes(100)  # corrupt the member's bytes: its CRC no longer matches
    archive.write_bytes(bytes(data))
    manifest = folder / "list.csv"
    manifest.write_text(f"path,label\n{photo_paths['bus']},bus\nmissing.jpg,cat\n")
    return archive, manifest


def test_bad_files_become_error_rows_and_the_others_are_answered(photo_paths, tmp_path):
    archive, manifest = bad_inputs(tmp_path, photo_paths)
    out = tmp_path / "rows.csv"
    done = _cli(str(archive), str(manifest), "--model", "mobilenet_v2", "--model", "yolo11n", "--out", str(out))
    assert done.returncode == 1 and "Traceback" not in done.stderr  # 1: some rows are errors
    table = pd.read_csv(out)
    assert len(table) == 8 and set(table["model"]) == {"mobilenet_v2", "yolo11n"}
    errors = table.set_index(["image", "model"])["error"]
    assert "cannot be read (BadZipFile" in errors[(f"{archive}!broken.jpg", "mobilenet_v2")]
    assert errors[(str(tmp_path / "missing.jpg"), "yolo11n")] == f"{tmp_path / 'missing.jpg'}: no such file."
    answered = table[table["error"].isna()].set_index(["image", "model"])
    single = service.predict("mobilenet_v2", photo_paths["cat"]).top
    cat = answered.loc[(f"{archive}!cat.jpg", "mobilenet_v2")]
    assert cat["top1_label"] == single.label and cat["top1_score"] == pytest.approx(single.score, abs=1e-5)
    buses = json.loads(answered.loc[(str(photo_paths["bus"]), "yolo11n"), "detections"])  # JSON text in CSV
    assert [d["label"] for d in buses].count("bus") == 1 and len(buses[0]["box"]) == 4
    assert answered.loc[(str(photo_paths["bus"]), "yolo11n"), "true_label"] == "bus"
    again = _cli(str(manifest), "--model", "mobilenet_v2", "--out", str(out))
    assert again.returncode == 1 and "--resume continues that run, --overwrite discards it" in again.stderr


@pytest.mark.slow
def test_a_run_killed_half_way_resumes_with_only_the_rest(cifar_slice, tmp_path):
    out = tmp_path / "results.jsonl"
    command = [sys.executable, "-m", "core", "batch", str(cifar_slice), "--model", "cifar10_cnn", "--out", str(out),
               "--batch-size", "16", "--checkpoint-every", "32"]
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    parts = out.with_name(out.name + ".parts")
    deadline = time.monotonic() + 300
    while len(list(parts.glob("part-*.parquet"))) < 4 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    written = sum(len(pd.read_parquet(part)) for part in parts.glob("part-*.parquet"))
    assert 4 * 32 <= written < 10 * PER_CLASS and not out.exists()  # killed half-way, before the merge
    resumed = _cli(str(cifar_slice), "--model", "cifar10_cnn", "--out", str(out), "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"{10 * PER_CLASS - written} new rows" in resumed.stdout
    final = pd.read_json(out, lines=True)
    assert len(final) == 10 * PER_CLASS and final["image"].is_unique and not parts.exists()


def test_inputs_that_cannot_be_used_are_refused_before_any_work(tmp_path):
    with pytest.raises(RequestError, match="no such file or folder"):
        runner.run([str(tmp_path / "nowhere")], ["cifar10_cnn"], tmp_path / "a.parquet")
    with pytest.raises(RequestError, match="write .parquet, .csv or .jsonl"):
        runner.run([str(tmp_path)], ["cifar10_cnn"], tmp_path / "a.xlsx")
    (tmp_path / "list.csv").write_text("file\nx.jpg\n")
    with pytest.raises(RequestError, match="needs a `path` column"):
        runner.run([str(tmp_path / "list.csv")], ["cifar10_cnn"], tmp_path / "b.parquet")


@pytest.mark.slow
def test_ray_reports_bad_files_per_row_as_the_local_engine_does(photo_paths, tmp_path):
    archive, manifest = bad_inputs(tmp_path, photo_paths)
    tables = {}
    for engine in ("local", "ray"):
        runner.run([str(archive), str(manifest)], ["cifar10_cnn"], tmp_path / f"{engine}.jsonl", engine=engine, actors=1)
        tables[engine] = pd.read_json(tmp_path / f"{engine}.jsonl", lines=True).set_index("image").sort_index()
    columns = ["model", "top1_label", "top1_score", "true_label", "width", "height", "error"]
    assert tables["ray"][columns].equals(tables["local"][columns])
    assert tables["ray"]["error"].notna().sum() == 2
