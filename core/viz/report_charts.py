"""Plotly figures built from the metrics and EDA schemas (assets/metrics, assets/eda)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from core.evaluation.reports import Report

LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.2))


def per_class_figure(reports: list[Report], metric: str = "f1") -> go.Figure:
    """Grouped bars: one group per class, one bar per model."""
    figure = go.Figure()
    for report in reports:
        rows = report.data["classification"]["per_class"]
        figure.add_bar(name=report.name, x=[r["label"] for r in rows], y=[r[metric] for r in rows],
                       hovertemplate="%{x}: %{y:.3f}<extra>" + report.name + "</extra>")
    figure.update_layout(barmode="group", title=f"Per-class {metric}", yaxis=dict(range=[0, 1]), **LAYOUT)
    return figure


def confusion_figure(report: Report, normalised: bool = True) -> go.Figure:
    """Rows are true classes, columns predicted; normalised rows sum to 1 (the recall on the diagonal)."""
    counts = np.asarray(report.data["classification"]["confusion_matrix"], dtype=float)
    values = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1) if normalised else counts
    labels = report.data["labels"]
    text = [[f"{v:.2f}" if normalised else f"{int(v)}" for v in row] for row in values]
    figure = go.Figure(go.Heatmap(
        z=values, x=labels, y=labels, text=text, texttemplate="%{text}", colorscale="Blues", showscale=False,
        customdata=counts, hovertemplate="true %{y} → predicted %{x}: %{customdata:.0f} images<extra></extra>",
    ))
    figure.update_layout(title=report.name, xaxis_title="predicted", yaxis_title="true",
                         yaxis=dict(autorange="reversed"), **LAYOUT)
    return figure


def curves_figure(reports: list[Report], metric: str = "accuracy") -> go.Figure:
    """Training (solid) and validation (dashed) curves per epoch, overlaid across models."""
    figure = go.Figure()
    for report in reports:
        history = (report.data.get("training") or {}).get("history") or {}
        for key, dash in ((metric, "solid"), (f"val_{metric}", "dash")):
            if key in history:
                epochs = list(range(1, len(history[key]) + 1))
                figure.add_scatter(x=epochs, y=history[key], mode="lines+markers", line=dict(dash=dash),
                                   name=f"{report.name} {'validation' if key.startswith('val_') else 'training'}")
    figure.update_layout(title=f"{metric} per epoch", xaxis_title="epoch", yaxis_title=metric, **LAYOUT)
    return figure


def reliability_figure(reports: list[Report]) -> go.Figure:
    """Accuracy against mean confidence per bin; the diagonal is perfect calibration."""
    figure = go.Figure()
    figure.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dot", color="grey"), name="perfectly calibrated")
    for report in reports:
        calibration = report.data["classification"]["calibration"]
        bins = [b for b in calibration["bins"] if b["count"]]
        figure.add_scatter(x=[b["confidence"] for b in bins], y=[b["accuracy"] for b in bins], mode="lines+markers",
                           name=f"{report.name} (ECE {calibration['ece']:.3f})", customdata=[b["count"] for b in bins],
                           hovertemplate="confidence %{x:.2f}: accuracy %{y:.2f} (%{customdata} images)<extra></extra>")
    figure.update_layout(title="Reliability diagram", xaxis_title="confidence", yaxis_title="accuracy",
                         xaxis=dict(range=[0, 1]), yaxis=dict(range=[0, 1]), **LAYOUT)
    return figure


def confidence_histogram_figure(report: Report) -> go.Figure:
    """How confident the model is when right and when wrong."""
    histogram = report.data["classification"]["calibration"]["confidence_histogram"]
    edges = histogram["edges"]
    centres = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:])]
    figure = go.Figure()
    figure.add_bar(x=centres, y=histogram["correct"], name="correct", marker_color="#2ca02c")
    figure.add_bar(x=centres, y=histogram["wrong"], name="wrong", marker_color="#d62728")
    figure.update_layout(barmode="overlay", title=f"{report.name}: confidence", xaxis_title="confidence",
                         yaxis_title="images", **LAYOUT)
    figure.update_traces(opacity=0.7)
    return figure


def per_class_ap_figure(report: Report) -> go.Figure:
    rows = sorted(report.data["detection"]["per_class"], key=lambda r: -r["ap50_95"])
    figure = go.Figure()
    figure.add_bar(x=[r["label"] for r in rows], y=[r["ap50_95"] for r in rows], name="AP50-95")
    figure.add_bar(x=[r["label"] for r in rows], y=[r["ap50"] for r in rows], name="AP50")
    figure.update_layout(barmode="group", title=f"{report.name}: AP per class", yaxis=dict(range=[0, 1]), **LAYOUT)
    return figure


def class_counts_figure(eda: dict) -> go.Figure:
    """CIFAR-10 images per class in each split."""
    figure = go.Figure()
    for split, counts in eda["counts"].items():
        figure.add_bar(name=split, x=eda["classes"], y=counts)
    figure.update_layout(barmode="group", title="Images per class", **LAYOUT)
    return figure


def box_counts_figure(eda: dict) -> go.Figure:
    counts = sorted(eda["box_counts"].items(), key=lambda item: -item[1])
    figure = go.Figure(go.Bar(x=[c for c, _ in counts], y=[n for _, n in counts]))
    figure.update_layout(title="Boxes per class", **LAYOUT)
    return figure


def box_size_figure(eda: dict) -> go.Figure:
    """Boxes by side length (square root of the area) in pixels."""
    edges = eda["box_area_bins"]
    labels = [f"{a}-{b}" for a, b in zip(edges[:-1], edges[1:])]
    figure = go.Figure(go.Bar(x=labels, y=eda["box_area_px"]))
    figure.update_layout(title="Box size (√area, pixels)", xaxis_title="pixels", yaxis_title="boxes", **LAYOUT)
    return figure


def tuning_figure(table, model: str) -> go.Figure:
    """Each trial's proxy validation accuracy in trial order (pruned trials at their last reported
    epoch are left out: they have no final score), with the best so far as a line."""
    done = table[table["state"] == "complete"].sort_values("trial")
    figure = go.Figure()
    settings = done.drop(columns=["trial", "state", "val_accuracy"])
    described = [", ".join(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}"
                           for key, value in row.items()) for row in settings.to_dict("records")]
    figure.add_scatter(x=done["trial"], y=done["val_accuracy"], mode="markers", name="trial", customdata=described,
                       hovertemplate="trial %{x}: %{y:.4f}<br>%{customdata}<extra></extra>")
    figure.add_scatter(x=done["trial"], y=done["val_accuracy"].cummax(), mode="lines", name="best so far",
                       line=dict(shape="hv"))
    pruned = int((table["state"] == "pruned").sum())
    figure.update_layout(title=f"{model}: proxy validation accuracy per trial ({pruned} pruned)", xaxis_title="trial",
                         yaxis_title="validation accuracy (proxy)", **LAYOUT)
    return figure


def parallel_figure(table, parameters: list[str]) -> go.Figure:
    """Parallel coordinates of the finished trials: one line per trial, coloured by its score."""
    done = table[table["state"] == "complete"]
    dimensions = []
    for name in parameters:
        column = done[name]
        if column.dtype == object:  # a categorical parameter: its choices as ticks
            choices = sorted(column.unique())
            dimensions.append(dict(label=name, values=[choices.index(v) for v in column],
                                   tickvals=list(range(len(choices))), ticktext=choices))
        else:
            dimensions.append(dict(label=name, values=column))
    dimensions.append(dict(label="val accuracy", values=done["val_accuracy"]))
    figure = go.Figure(go.Parcoords(line=dict(color=done["val_accuracy"], colorscale="Viridis", showscale=True),
                                    dimensions=dimensions))
    figure.update_layout(title="Parameters of each finished trial", margin=dict(l=60, r=40, t=60, b=20))
    return figure


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the (latency, quality) points no other point beats on both, fastest first."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], -np.inf
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def pareto_figure(table) -> go.Figure:
    """Quality against single-image latency for every evaluated model (the summary table), one panel
    per dataset (quality is only comparable within one), with each panel's Pareto front."""
    from plotly.subplots import make_subplots

    table = table.assign(quality=table["accuracy"].fillna(table["mAP50-95"])).dropna(subset=["quality", "latency p50 (ms)"])
    datasets = sorted(table["dataset"].unique())
    figure = make_subplots(1, max(1, len(datasets)), subplot_titles=datasets)
    for column, dataset in enumerate(datasets, start=1):
        rows = table[table["dataset"] == dataset].reset_index(drop=True)
        points = list(zip(rows["latency p50 (ms)"], rows["quality"]))
        front = rows.loc[pareto_front(points)]
        figure.add_trace(go.Scatter(x=rows["latency p50 (ms)"], y=rows["quality"], mode="markers+text",
                                    text=rows["model"], textposition="top center", showlegend=False,
                                    marker=dict(size=9)), 1, column)
        figure.add_trace(go.Scatter(x=front["latency p50 (ms)"], y=front["quality"], mode="lines",
                                    line=dict(dash="dot"), name="Pareto front", showlegend=column == 1), 1, column)
        figure.update_xaxes(title_text="latency p50 (ms)", type="log", row=1, col=column)
        figure.update_yaxes(title_text="accuracy" if rows["accuracy"].notna().any() else "mAP50-95", row=1, col=column)
    figure.update_layout(title="Quality against latency (one image at a time)", **LAYOUT)
    return figure
