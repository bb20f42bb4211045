"""Reading the evaluation artifacts and the figures built from them (core.evaluation.reports, core.viz.report_charts)."""

from __future__ import annotations

import pytest

from core.viz import report_charts
from core.evaluation.reports import Report, classifiers_sharing_labels, load_eda, load_reports, problems, summary_table


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
