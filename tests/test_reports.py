"""Reading the evaluation artifacts and the figures built from them (core.evaluation.reports, core.viz.report_charts)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from core import load_image
from core.io.datasets import image_folder_files, recorded_image
from core.viz import report_charts
from core.evaluation.reports import (Report, classifiers_sharing_labels, load_eda, load_reports, load_robustness, problems,
                                    robustness_problems, summary_table)
from training.cifar10 import load_cifar10_test, recorded_test_split

CIFAR_MODELS = ("cifar10_cnn", "mobilenet_v2_cifar10")


@pytest.fixture(scope="module")
def reports(weights_dir):
    return load_reports()


def test_every_committed_report_is_current(reports):
    assert {r.name for r in reports} >= {"mobilenet_v2", "cifar10_cnn", "yolo11n"}
    assert [r.problems for r in reports if r.problems] == []


def test_summary_table_shows_the_json_figures(reports):
    table = summary_table(reports).set_index("model")
    for report in reports:
        quality = report.data.get("classification") or report.data["detection"]
        if report.task == "classify":
            assert table.loc[report.name, "accuracy"] == quality["accuracy"]
            assert table.loc[report.name, "ECE"] == quality["calibration"]["ece"]
        else:
            assert table.loc[report.name, "mAP50-95"] == quality["map50_95"]
        assert table.loc[report.name, "latency p50 (ms)"] == report.data["performance"]["latency_p50_ms"]


def test_a_changed_schema_or_model_is_flagged(reports):
    cnn = next(r for r in reports if r.name == "cifar10_cnn").data
    assert any("schema version" in p for p in problems("cifar10_cnn", {**cnn, "schema_version": 0}))
    tampered = {**cnn, "provenance": {**cnn["provenance"], "model_sha256": "0" * 64}}
    assert any("changed since" in p and "training.evaluate --model cifar10_cnn" in p for p in problems("cifar10_cnn", tampered))
    assert any("no longer registered" in p for p in problems("retired_model", cnn))


def test_every_committed_corruption_and_adversarial_benchmark_is_of_the_current_weights(weights_dir):
    benchmarks = load_robustness()
    assert set(benchmarks) >= {"cifar10_cnn", "mobilenet_v2_cifar10", "mobilenet_v2", "yolo11n"}
    assert all("adversarial" in benchmarks[name] for name in ("cifar10_cnn", "mobilenet_v2_cifar10", "mobilenet_v2"))
    assert {name: robustness_problems(name, data) for name, data in benchmarks.items()} == {
        name: [] for name in benchmarks}


def test_a_benchmark_of_other_weights_is_flagged(weights_dir):
    cnn = load_robustness()["cifar10_cnn"]
    tampered = {**cnn, "provenance": {**cnn["provenance"], "model_sha256": "0" * 64}}
    (problem,) = robustness_problems("cifar10_cnn", tampered)
    assert "sha256 differs" in problem and "training.robustness --model cifar10_cnn" in problem
    assert "no longer registered" in robustness_problems("retired_model", cnn)[0]


def test_an_adversarial_section_of_other_weights_is_flagged(weights_dir):
    """training.robustness keeps the adversarial section when it re-runs, so after a retraining the
    corruption figures can be new while the attack's are the old model's."""
    cnn = load_robustness()["cifar10_cnn"]
    for version in ("0" * 12, None):
        stale = {**cnn, "adversarial": {**cnn["adversarial"], "version": version}}
        (problem,) = robustness_problems("cifar10_cnn", stale)
        assert "adversarial section" in problem and "training.adversarial cifar10_cnn" in problem
    assert robustness_problems("cifar10_cnn", {k: v for k, v in cnn.items() if k != "adversarial"}) == []


def test_unreadable_and_missing_folders(tmp_path):
    assert load_reports(tmp_path / "missing") == [] and load_eda(tmp_path / "missing") == {}
    (tmp_path / "broken.json").write_text("{not json")
    (broken,) = load_reports(tmp_path)
    assert broken.data == {} and "cannot be read" in broken.problems[0]
    assert summary_table([broken]).empty


def test_figures_follow_the_metrics(reports):
    groups = classifiers_sharing_labels(reports)
    cifar = next(group for labels, group in groups.items() if "airplane" in labels)
    figure = report_charts.per_class_figure(cifar, "recall")
    assert [trace.name for trace in figure.data] == [r.name for r in cifar]
    assert list(figure.data[0].y) == [row["recall"] for row in cifar[0].data["classification"]["per_class"]]
    counts = report_charts.confusion_figure(cifar[0], normalised=False).data[0].z
    assert sum(map(sum, counts)) == cifar[0].data["classification"]["images"]
    normalised = report_charts.confusion_figure(cifar[0]).data[0].z
    assert all(abs(sum(row) - 1) < 1e-9 for row in normalised)
    reliability = report_charts.reliability_figure(cifar)
    assert len(reliability.data) == len(cifar) + 1  # the diagonal, then one line per model
    detector = next(r for r in reports if r.task == "detect")
    ap = report_charts.per_class_ap_figure(detector)
    assert len(ap.data[0].x) == len(detector.data["detection"]["per_class"])


def test_training_curves_have_one_point_per_epoch(reports):
    trained = [r for r in reports if (r.data.get("training") or {}).get("history")]
    figure = report_charts.curves_figure(trained, "loss")
    history = trained[0].data["training"]["history"]
    assert len(figure.data) == 2 * len(trained) and list(figure.data[0].y) == history["loss"]


def test_eda_figures():
    eda = load_eda()
    assert set(eda) == {"cifar10", "coco128"}
    counts = report_charts.class_counts_figure(eda["cifar10"])
    assert [t.name for t in counts.data] == ["train", "val", "test"]
    boxes = report_charts.box_counts_figure(eda["coco128"])
    assert sum(boxes.data[0].y) == eda["coco128"]["boxes"]
    assert sum(report_charts.box_size_figure(eda["coco128"]).data[0].y) == eda["coco128"]["boxes"]


def test_best_cells_compare_quality_within_a_dataset_and_cost_across_all():
    from core.evaluation.reports import best_cells

    table = summary_table([
        Report("a", {"dataset": "CIFAR-10", "classification": {"accuracy": 0.9}, "performance": {"latency_p50_ms": 5}}),
        Report("b", {"dataset": "CIFAR-10", "classification": {"accuracy": 0.8}, "performance": {"latency_p50_ms": 2}}),
        Report("c", {"dataset": "ImageNet", "classification": {"accuracy": 0.7}, "performance": {"latency_p50_ms": 9}}),
    ])
    best = best_cells(table)
    assert best["accuracy"].tolist() == [True, False, False]  # c is alone on its dataset
    assert best["latency p50 (ms)"].tolist() == [False, True, False]


@pytest.mark.parametrize("name", CIFAR_MODELS)
def test_the_recorded_test_set_is_the_evaluated_one(reports, data_dir, name):
    """Image i of the metrics is the recorded file i: the files are the folder's evaluation order,
    and every misclassified image lies in its true class's folder."""
    data = next(r for r in reports if r.name == name).data
    record, labels = data["test_set"], data["labels"]
    assert record["kind"] == "files" and record["base"] == "VISION_DATA_DIR" and record["path"] == "cifar10/test"
    root = data_dir / record["path"]
    assert record["files"] == [str(path.relative_to(root)) for path in image_folder_files(root)[1]]
    assert record["images"] == len(record["files"]) == data["classification"]["images"]
    for cell, indices in data["classification"]["misclassified"].items():
        true = labels[int(cell.split(",")[0])]
        assert all(record["files"][i].startswith(f"{true}/") for i in indices), cell
    some = data["classification"]["misclassified"]["0,8"][0]
    assert np.array_equal(recorded_image(record, some), load_image(root / record["files"][some]))


def _write_batch(path, images: np.ndarray, labels: np.ndarray) -> None:
    """A batch in the official format (rows of 3072 bytes: the red plane, then green, then blue)."""
    rows = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    path.write_bytes(pickle.dumps({b"data": rows, b"labels": labels.tolist()}))


def test_the_official_batches_are_recorded_by_row(data_dir, tmp_path, monkeypatch):
    """With the official batches, image i is row i of test_batch (here a small set of them, made
    from real test images)."""
    real, _ = load_cifar10_test(limit_per_class=3)
    batches = tmp_path / "cifar-10-batches-py"
    batches.mkdir()
    for name in ["test_batch"] + [f"data_batch_{i}" for i in range(1, 6)]:
        _write_batch(batches / name, real.images, real.labels)
    monkeypatch.setenv("VISION_DATA_DIR", str(tmp_path))
    test, source = load_cifar10_test()
    record = recorded_test_split(test)
    assert source == "CIFAR-10 official python batches" and not test.files
    assert record == {"kind": "cifar10_batch", "base": "VISION_DATA_DIR", "path": "cifar-10-batches-py/test_batch",
                      "images": len(real)}
    assert all(np.array_equal(recorded_image(record, i), real.images[i]) for i in range(len(real)))
    with pytest.raises(IndexError):
        recorded_image(record, len(real))


def test_missing_recorded_images_say_where_they_should_be(reports, tmp_path, monkeypatch):
    record = next(r for r in reports if r.name == "cifar10_cnn").data["test_set"]
    monkeypatch.delenv("VISION_DATA_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match="VISION_DATA_DIR is not set"):
        recorded_image(record, 0)
    monkeypatch.setenv("VISION_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="airplane/0000.jpg is missing"):
        recorded_image(record, 0)


@pytest.mark.parametrize("folder", [None, "empty"])
def test_offline_without_local_cifar10_names_the_variable(tmp_path, monkeypatch, folder):
    """No local copy and VISION_OFFLINE: a clear error instead of Keras' download (or a ./data guess)."""
    monkeypatch.setenv("VISION_OFFLINE", "1")
    if folder is None:  # and a ./data that the old default would have read
        monkeypatch.delenv("VISION_DATA_DIR", raising=False)
        (tmp_path / "data" / "cifar-10-batches-py").mkdir(parents=True)
        monkeypatch.chdir(tmp_path)
    else:
        monkeypatch.setenv("VISION_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="VISION_DATA_DIR") as error:
        load_cifar10_test()
    assert "VISION_OFFLINE" in str(error.value) and "cifar-10-batches-py" in str(error.value)


@pytest.mark.parametrize("points, front", [
    ([(1, 0.5), (2, 0.6), (3, 0.55), (0.5, 0.4)], [3, 0, 1]),  # the slower, worse point is off the front
    ([(1, 0.5), (1, 0.7)], [1]),  # as fast and better
    ([(2, 0.9)], [0]),
], ids=["four", "tie on latency", "one"])
def test_pareto_front_keeps_what_nothing_beats_on_both(points, front):
    assert report_charts.pareto_front(points) == front


def test_variants_tab_figures_come_from_the_committed_files(reports):
    from core.evaluation.reports import variants_table

    table = variants_table(reports).set_index("variant")
    assert set(table.index) == {f"{name}-int8" for name in ("mobilenet_v2", "yolo11n", "yolov8n", "cifar10_cnn",
                                                             "mobilenet_v2_cifar10")}
    for report in reports:
        if "variant" in report.data:
            row, variant = table.loc[report.name], report.data["variant"]
            assert row["of"] == variant["of"] and row["top-1 agreement"] == variant["agreement_top1"]
            assert np.isclose(row["speed-up"], 1 / variant["latency_ratio"], atol=1e-3)
    figure = report_charts.pareto_figure(summary_table(reports))
    assert len(figure.data) == 2 * 3  # points and front for ImageNet, CIFAR-10 and COCO
