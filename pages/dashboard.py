"""/dashboard: every evaluated model side by side, read from assets/metrics (never evaluated here)."""

from pathlib import Path

import streamlit as st

from core import config
from core.evaluation import reports as metrics_files
from core.evaluation.model_card import model_card
from core.evaluation.reports import (
    adversarial_table,
    best_cells,
    classifiers_sharing_labels,
    load_reports,
    load_robustness,
    load_tuning_tables,
    robustness_table,
    summary_table,
    trained_sidecar,
    variants_table,
)
from core.io.datasets import recorded_image
from core.robustness.adversarial import PGD_STEP_FRACTION, PGD_STEPS
from core.robustness.corruptions import CORRUPTIONS
from core.viz.drawing import overlay_heatmap
from core.viz.report_charts import (
    confidence_histogram_figure,
    confusion_figure,
    curves_figure,
    parallel_figure,
    pareto_figure,
    per_class_ap_figure,
    per_class_figure,
    reliability_figure,
    tuning_figure,
)
from core.viz.robustness_charts import MEAN, adversarial_figure, severity_figure, small_multiples_figure
from pages.widgets import classify, explanation, run_or_explain, use_app_navigation

GALLERY_SIZE = 12


@st.cache_data(show_spinner=False)
def cached_reports(folder: str, stamp: tuple):
    return load_reports(Path(folder))


def stamp(folder: Path) -> tuple:
    """Changes whenever a metrics file or one of our model files changes, so the cache never serves
    stale figures nor a stale "model changed since evaluated" check."""
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    files += sorted(config.MODELS_DIR.glob("*.keras"))
    return tuple((str(p), p.stat().st_mtime_ns) for p in files)


def summary(reports) -> None:
    table = summary_table(reports)
    numeric = table.select_dtypes("number").columns
    best = best_cells(table)
    styled = table.style.format({c: "{:.4g}" for c in numeric}, na_rep="")
    styled = styled.apply(lambda _: best.map(lambda b: "background-color: #c8e6c9" if b else ""), axis=None)
    # A metric that does not apply (mAP of a classifier, a missing commit) is a missing value, which
    # st.dataframe draws as a grey "None" whatever the Styler's na_rep says: `placeholder` decides
    st.dataframe(styled, hide_index=True, key="summary_table", placeholder="")
    st.caption("Click a column to sort. Green marks the best value of a column: among models on the same dataset for "
               "quality, among all for cost. Latency is one image at a time on the machine that evaluated.")
    st.download_button("Download CSV", table.to_csv(index=False), "models.csv", "text/csv")


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
    images = cell_images(first, indices[:GALLERY_SIZE])
    if images:
        # Off by default: the models and their Grad-CAMs run only for a cell the user opens, so the
        # page's first render loads no model
        answers = st.toggle("Show these images with each model's answer", False, key="gallery_answers")
        with_cam = answers and st.toggle(f"Grad-CAM of {first.name} for the true and the predicted class", True,
                                         key="gallery_cam")
        targets = (labels[true], labels[predicted]) if with_cam else ()
        show_images(images, chosen if answers else [], targets)


def cell_images(report, indices: list[int]) -> dict:
    """The images behind `indices`, read from the test set the report records ({} when it cannot
    be read, after saying why)."""
    if not indices:
        return {}
    record = report.data.get("test_set")
    if record is None:
        st.info(f"{report.name}'s metrics file does not record which images it was evaluated on (it predates that "
                f"field): run `{metrics_files.EVALUATE_COMMAND} --model {report.name}` to see them here.")
        return {}
    try:
        return {index: recorded_image(record, index) for index in indices}
    except (OSError, LookupError, ValueError) as error:
        st.info(f"The images {report.name} was evaluated on cannot be read here: {error}")
        return {}


def show_images(images: dict, models, targets: tuple[str, ...]) -> None:
    """Each image, with the first model's Grad-CAM for each of `targets` and every model's top 3."""
    columns = st.columns(6)
    for slot, (index, image) in enumerate(images.items()):
        with columns[slot % 6]:
            st.image(image, caption=f"test #{index}", width=96)
            if targets:
                cam_pair(models[0].name, image, targets)
            for report in models:
                result = run_or_explain(classify, report.name, image)
                if result is not None:
                    st.caption(f"{report.name}: " + ", ".join(f"{s.label} {s.score:.0%}" for s in result.top_k[:3]))


def cam_pair(name: str, image, targets: tuple[str, ...]) -> None:
    cams = [run_or_explain(lambda n, p, t=t: explanation(n, p, "gradcam", t, None, None), name, image) for t in targets]
    if all(cams):
        st.image([overlay_heatmap(image, cam.heatmap) for cam in cams], width=46, caption=["true", "predicted"])


def classifiers_tab(reports) -> None:
    groups = classifiers_sharing_labels(reports)
    if not groups:
        st.info("No classifier report with a confusion matrix (those need at most 100 classes).")
        return
    names = {labels: ", ".join(r.name for r in group) for labels, group in groups.items()}
    labels = st.selectbox("Label set", list(groups), format_func=names.get, key="label_set")
    group = {r.name: r for r in groups[labels]}
    sources = [name for name, report in group.items() if "variant" not in report.data]  # variants are offered
    chosen_names = st.multiselect("Models to compare", list(group), default=sources or list(group), key="compared")
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


def cards_tab(reports) -> None:
    cards = {r.name: trained_sidecar(r.name) for r in reports if r.task == "classify"}
    cards = {name: sidecar for name, sidecar in cards.items() if sidecar}
    if not cards:
        st.info("Model cards are written for our trained models; none has a sidecar in models/.")
        return
    name = st.radio("Model", list(cards), horizontal=True, key="card_model")
    report = next(r for r in reports if r.name == name)
    st.markdown(model_card(cards[name], report.data))
    st.caption("Written from the model's sidecar and metrics file; `python -m training.register` logs the same card "
               "with each registered version in MLflow.")


def variants_tab(reports) -> None:
    table = variants_table(reports)
    if table.empty:
        st.info(f"No optimised variant has been evaluated here. Run `{metrics_files.OPTIMISE_COMMAND}`.")
    else:
        st.dataframe(table, hide_index=True, key="variants_table", placeholder="")
        st.caption("Each variant against its source, measured in the same run: change in accuracy (classifiers) or "
                   "mAP50-95 ×100 (detectors) in points, share of images with the same top answer, single-image "
                   "speed-up and served file size.")
    st.plotly_chart(pareto_figure(summary_table(reports)), key="pareto")


def tuning_tab() -> None:
    tables = load_tuning_tables(metrics_files.METRICS_DIR)
    if not tables:
        st.info(f"No hyperparameter study yet: run `{metrics_files.TUNE_COMMAND}`.")
        return
    for model, table in tables.items():
        parameters = [c for c in table.columns if c not in ("trial", "state", "val_accuracy", "epochs_reported", "seconds")]
        left, right = st.columns(2)
        left.plotly_chart(tuning_figure(table, model), key=f"tuning_{model}")
        right.plotly_chart(parallel_figure(table, parameters), key=f"parallel_{model}")
        st.dataframe(table.sort_values("val_accuracy", ascending=False), hide_index=True, placeholder="")
        st.caption("Scores are on a short proxy (part of the training split, a few epochs), so they rank recipes; "
                   "a recipe is adopted only when a full training run confirms it.")


ALL_PANELS = "all 15, side by side"


def robustness_tab() -> None:
    benchmarks = load_robustness(metrics_files.METRICS_DIR)
    if not benchmarks:
        st.info(f"No corruption benchmark yet: run `{metrics_files.ROBUSTNESS_COMMAND}`.")
        return
    for name, data in benchmarks.items():
        if problems := metrics_files.robustness_problems(name, data):
            st.warning(f"**{name}** may be stale: " + "; ".join(problems))
    st.dataframe(robustness_table(benchmarks), hide_index=True, key="robustness_table", placeholder="")
    st.caption("The 15 corruptions of CIFAR-10-C / ImageNet-C at 5 severities (`python -m training.robustness`). mCE is "
               "Hendrycks & Dietterich's corruption error, normalised by the named baseline (100 = as robust as it); a "
               "model without a baseline on its set gets its unnormalised mean error. Sets differ, so compare models "
               "on the same set.")
    shown = st.selectbox("Corruption", [ALL_PANELS, MEAN, *CORRUPTIONS], key="robustness_corruption",
                         format_func=lambda c: c.replace("_", " "))
    figure = small_multiples_figure(benchmarks) if shown == ALL_PANELS else severity_figure(benchmarks, shown)
    st.plotly_chart(figure, key="robustness_curves")
    adversarial_section(benchmarks)


def adversarial_section(benchmarks: dict[str, dict]) -> None:
    st.subheader("Adversarial attacks")
    table = adversarial_table(benchmarks)
    if table.empty:
        st.info(f"No adversarial benchmark yet: run `{metrics_files.ADVERSARIAL_COMMAND} NAME`.")
        return
    st.plotly_chart(adversarial_figure(table), key="adversarial_curves")
    st.dataframe(table, hide_index=True, key="adversarial_table", placeholder="")
    st.caption(f"`{metrics_files.ADVERSARIAL_COMMAND} NAME`: untargeted FGSM (one step) and PGD ({PGD_STEPS} steps "
               f"of {PGD_STEP_FRACTION:g} ε, random start) on the model's raw input pixels, every attacked image rounded "
               "to uint8 before it is scored; ε = k/255 changes each pixel by at most k grey levels. Each model is "
               "attacked on its own test set (the images column), and detectors are not attacked.")


use_app_navigation()
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
classifiers, training, calibration, detection, variants, cards, tuning, robustness = st.tabs(
    ["Classifiers", "Training curves", "Calibration", "Detection", "Variants", "Model cards", "Tuning", "Robustness"])
with classifiers:
    classifiers_tab(reports)
with training:
    training_tab(reports)
with calibration:
    calibration_tab(reports)
with detection:
    detection_tab(reports)
with variants:
    variants_tab(reports)
with cards:
    cards_tab(reports)
with tuning:
    tuning_tab()
with robustness:
    robustness_tab()
