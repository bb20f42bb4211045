"""/dashboard: every evaluated model side by side, read from assets/metrics (never evaluated here)."""

import os
from pathlib import Path

import streamlit as st

from core import load_image
from core.evaluation import reports as metrics_files
from core.io.datasets import image_folder_files
from core.viz.drawing import overlay_heatmap
from core.viz.report_charts import (confidence_histogram_figure, confusion_figure, curves_figure, per_class_ap_figure,
                                per_class_figure, reliability_figure)
from core.evaluation.reports import best_cells, classifiers_sharing_labels, load_reports, summary_table
from core.models.weights import MODELS_DIR
from pages.widgets import classify, explanation, run_or_explain

GALLERY_SIZE = 12


@st.cache_data(show_spinner=False)
def cached_reports(folder: str, stamp: tuple):
    return load_reports(Path(folder))


def stamp(folder: Path) -> tuple:
    """Changes whenever a metrics file or one of our model files changes, so the cache never serves
    stale figures nor a stale "model changed since evaluated" check."""
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    files += sorted(MODELS_DIR.glob("*.keras"))
    return tuple((str(p), p.stat().st_mtime_ns) for p in files)


def summary(reports) -> None:
    table = summary_table(reports)
    numeric = table.select_dtypes("number").columns
    best = best_cells(table)
    styled = table.style.format({c: "{:.4g}" for c in numeric}, na_rep="")
    styled = styled.apply(lambda _: best.map(lambda b: "background-color: #c8e6c9" if b else ""), axis=None)
    st.dataframe(styled, hide_index=True, key="summary_table")
    st.caption("Click a column to sort. Green marks the best value of a column: among models on the same dataset for "
               "quality, among all for cost. Latency is one image at a time on the machine that evaluated.")
    st.download_button("Download CSV", table.to_csv(index=False), "models.csv", "text/csv")


@st.cache_data(show_spinner=False)
def test_files(folder: str) -> list[str]:
    """The CIFAR-10 test images in evaluation order (index i of the metrics is file i)."""
    return [str(path) for path in image_folder_files(Path(folder))[1]]


def test_image(index: int):
    folder = Path(os.environ.get("VISION_DATA_DIR", "data")) / "cifar10" / "test"
    return load_image(test_files(str(folder))[index]) if folder.is_dir() else None


def gallery(chosen, labels) -> None:
    first = chosen[0]
    cells = first.data["classification"]["misclassified"]
    if not cells:
        st.info(f"{first.name} makes no mistakes on this set.")
        return
    biggest = max(cells, key=lambda cell: len(cells[cell]))
    true_default, predicted_default = (int(v) for v in biggest.split(","))
    left, right = st.columns(2)
    true = left.selectbox("True class", range(len(labels)), index=true_default, format_func=labels.__getitem__, key="cell_true")
    predicted = right.selectbox("Predicted class", range(len(labels)), index=predicted_default,
                                format_func=labels.__getitem__, key="cell_predicted")
    indices = cells.get(f"{true},{predicted}", [])
    st.markdown(f"**{len(indices)} test images** that {first.name} labelled *{labels[predicted]}* but are *{labels[true]}*"
                + (f" (showing {GALLERY_SIZE})" if len(indices) > GALLERY_SIZE else ""))
    with_cam = st.toggle(f"Grad-CAM of {first.name} for the true and the predicted class", True, key="gallery_cam")
    columns = st.columns(6)
    for slot, index in enumerate(indices[:GALLERY_SIZE]):
        image = test_image(index)
        if image is None:
            st.info("The CIFAR-10 test images are not here (set VISION_DATA_DIR) to show the gallery.")
            return
        with columns[slot % 6]:
            st.image(image, caption=f"test #{index}", width=96)
            if with_cam:
                cams = [run_or_explain(lambda n, p, c=c: explanation(n, p, "gradcam", c, None, None), first.name, image)
                        for c in (labels[true], labels[predicted])]
                if all(cams):
                    st.image([overlay_heatmap(image, cam.heatmap) for cam in cams], width=46,
                             caption=["true", "predicted"])
            for report in chosen:
                result = run_or_explain(classify, report.name, image)
                if result is not None:
                    top = ", ".join(f"{s.label} {s.score:.0%}" for s in result.top_k[:3])
                    st.caption(f"{report.name}: {top}")


def classifiers_tab(reports) -> None:
    groups = classifiers_sharing_labels(reports)
    if not groups:
        st.info("No classifier report with a confusion matrix (those need at most 100 classes).")
        return
    names = {labels: ", ".join(r.name for r in group) for labels, group in groups.items()}
    labels = st.selectbox("Label set", list(groups), format_func=names.get, key="label_set")
    group = {r.name: r for r in groups[labels]}
    chosen_names = st.multiselect("Models to compare", list(group), default=list(group), key="compared")
    chosen = [group[name] for name in chosen_names]
    if not chosen:
        return
    metric = st.radio("Per-class metric", ["f1", "precision", "recall"], horizontal=True, key="per_class_metric")
    st.plotly_chart(per_class_figure(chosen, metric), key="per_class")
    normalised = st.toggle("Normalise rows (recall on the diagonal)", True, key="normalise")
    for column, report in zip(st.columns(len(chosen)), chosen):
        column.plotly_chart(confusion_figure(report, normalised), key=f"confusion_{report.name}")
    st.subheader("Mistakes of one confusion cell")
    gallery(chosen, list(labels))


def training_tab(reports) -> None:
    trained = [r for r in reports if (r.data.get("training") or {}).get("history")]
    if not trained:
        st.info("No model trained by our scripts has a metrics file yet.")
        return
    left, right = st.columns(2)
    left.plotly_chart(curves_figure(trained, "accuracy"), key="curves_accuracy")
    right.plotly_chart(curves_figure(trained, "loss"), key="curves_loss")
    for report in trained:
        training = report.data["training"]
        st.caption(f"{report.name}: {training.get('epochs_run')} epochs, {training.get('wall_time_s', 0) / 60:.0f} min on "
                   f"{(training.get('provenance') or {}).get('hardware', 'unknown hardware')}")


def calibration_tab(reports) -> None:
    classifiers = [r for r in reports if r.task == "classify" and r.data]
    st.plotly_chart(reliability_figure(classifiers), key="reliability")
    for column, report in zip(st.columns(max(1, len(classifiers))), classifiers):
        column.plotly_chart(confidence_histogram_figure(report), key=f"confidence_{report.name}")
    for report in classifiers:
        fit = (report.data.get("training") or {}).get("calibration")
        if fit:
            st.caption(f"{report.name}: logits divided by a temperature of {fit['temperature']}, fitted on "
                       f"{fit['val_images']:,} validation images (their ECE {fit['val_ece'][0]} → {fit['val_ece'][1]}; "
                       "`python -m training.calibrate`); predictions are unchanged.")


def detection_tab(reports) -> None:
    detectors = [r for r in reports if r.task == "detect" and r.data]
    if not detectors:
        st.info(f"No detector has a metrics file: run `{metrics_files.EVALUATE_COMMAND} --model yolo11n`.")
    for report in detectors:
        d = report.data["detection"]
        st.markdown(f"**{report.name}** on {report.data['dataset']}")
        columns = st.columns(4)
        for column, (label, key) in zip(columns, [("mAP50", "map50"), ("mAP50-95", "map50_95"),
                                                  ("precision", "precision"), ("recall", "recall")]):
            column.metric(label, f"{d[key]:.3f}")
        check = d["cross_check"]
        st.caption(f"Cross-check on the same predictions: {check['library']} gives mAP50-95 {check['map50_95']:.4f} and "
                   f"mAP50 {check['map50']:.4f} ({d['library']}: {d['map50_95']:.4f} and {d['map50']:.4f}). Thresholds: "
                   f"confidence {d['thresholds']['confidence']}, NMS IoU {d['thresholds']['nms_iou']}, "
                   f"up to {d['thresholds']['max_detections']} boxes per image at {d['thresholds']['image_size']} px.")
        st.plotly_chart(per_class_ap_figure(report), key=f"ap_{report.name}")


st.title("Dashboard")
st.caption("Every evaluated model side by side. The figures come from assets/metrics, written by "
           f"`{metrics_files.EVALUATE_COMMAND}`; this page never trains or evaluates.")
folder = metrics_files.METRICS_DIR
reports = cached_reports(str(folder), stamp(folder))
if not reports:
    st.warning(f"No metrics files in {folder.name}/. Run `{metrics_files.EVALUATE_COMMAND}` to create them.")
    st.stop()
for report in reports:
    if report.problems:
        st.warning(f"**{report.name}** may be stale: " + "; ".join(report.problems))
summary(reports)
classifiers, training, calibration, detection = st.tabs(["Classifiers", "Training curves", "Calibration", "Detection"])
with classifiers:
    classifiers_tab(reports)
with training:
    training_tab(reports)
with calibration:
    calibration_tab(reports)
with detection:
    detection_tab(reports)
