"""Plotly figures of the robustness benchmarks (assets/metrics/<model>_robustness.json): the metric
against corruption severity, models overlaid, one panel per corruption or for one chosen
corruption; and robust accuracy against the adversarial attacks' ε."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.robustness.corruptions import CORRUPTIONS, SEVERITIES
from core.viz.report_charts import LAYOUT

MEAN = "mean of the 15 corruptions"
COLUMNS = 5
SEVERITY_AXIS = [0, *SEVERITIES]  # 0: the clean images


def metric_name(data: dict) -> str:
    return "mAP50-95" if data["metric"] == "map50_95" else data["metric"]


def curve(data: dict, corruption: str) -> list[float]:
    """The metric at severity 0 (clean) to 5 for one corruption, or averaged over all of them."""
    if corruption == MEAN:
        return [data["clean"], *data["mean_by_severity"]]
    return [data["clean"], *data["corruptions"][corruption]]


def model_colours(count: int) -> list[str]:
    """One colour per model, evenly spaced round the hue circle, for figures that share a legend."""
    return [f"hsl({round(360 * i / max(1, count))}, 65%, 45%)" for i in range(count)]


def severity_figure(benchmarks: dict[str, dict], corruption: str = MEAN) -> go.Figure:
    """One corruption (or their mean): the metric against severity, a line per model."""
    figure = go.Figure()
    for name, data in benchmarks.items():
        figure.add_scatter(x=SEVERITY_AXIS, y=curve(data, corruption), mode="lines+markers",
                           name=f"{name} ({metric_name(data)})",
                           hovertemplate="severity %{x}: %{y:.3f}<extra>" + name + "</extra>")
    figure.update_layout(title=corruption.replace("_", " "), xaxis=dict(title="severity (0 = clean)", dtick=1),
                         yaxis=dict(title="accuracy or mAP50-95", range=[0, 1]), **LAYOUT)
    return figure


def small_multiples_figure(benchmarks: dict[str, dict]) -> go.Figure:
    """All 15 corruptions, one small panel each (3 rows of 5), the models overlaid in every panel
    with the same colour, and a shared 0-1 axis."""
    rows = int(np.ceil(len(CORRUPTIONS) / COLUMNS))
    figure = make_subplots(rows=rows, cols=COLUMNS, subplot_titles=[c.replace("_", " ") for c in CORRUPTIONS],
                           shared_xaxes=True, shared_yaxes=True, vertical_spacing=0.08, horizontal_spacing=0.02)
    colours = model_colours(len(benchmarks))
    for index, corruption in enumerate(CORRUPTIONS):
        row, column = index // COLUMNS + 1, index % COLUMNS + 1
        for (name, data), colour in zip(benchmarks.items(), colours):
            figure.add_scatter(x=SEVERITY_AXIS, y=curve(data, corruption), mode="lines+markers", row=row, col=column,
                               name=f"{name} ({metric_name(data)})", legendgroup=name, showlegend=index == 0,
                               line=dict(color=colour, width=1.5), marker=dict(size=4),
                               hovertemplate=f"{corruption} " + "%{x}: %{y:.3f}<extra>" + name + "</extra>")
    figure.update_yaxes(range=[0, 1])
    figure.update_xaxes(dtick=1)
    figure.update_annotations(font_size=11)
    figure.update_layout(height=170 * rows + 120, title="Metric against severity (0 = clean), per corruption",
                         **LAYOUT)
    return figure


def adversarial_figure(table: pd.DataFrame) -> go.Figure:
    """Robust accuracy against ε (reports.adversarial_table), a colour per model: PGD solid, FGSM
    dashed, both starting from the clean accuracy at ε = 0."""
    figure = go.Figure()
    models = list(dict.fromkeys(table["model"]))
    for name, colour in zip(models, model_colours(len(models))):
        rows = table[table["model"] == name]
        for attack, dash in (("PGD", "solid"), ("FGSM", "dash")):
            figure.add_scatter(x=[0, *rows["ε (/255)"]], y=[rows["clean"].iloc[0], *rows[attack]], mode="lines+markers",
                               name=f"{name} {attack}", line=dict(color=colour, dash=dash),
                               hovertemplate="ε %{x}/255: %{y:.3f}<extra>" + f"{name} {attack}</extra>")
    figure.update_layout(title="Robust accuracy against the attack's size", xaxis=dict(title="ε (grey levels, /255)"),
                         yaxis=dict(title="accuracy", range=[0, 1]), **LAYOUT)
    return figure
