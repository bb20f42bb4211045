"""Plotly figures built from results (no streamlit here, so they can be tested and reused)."""

from __future__ import annotations

import plotly.graph_objects as go

from core.results import Classification


def top_k_figure(result: Classification, title: str = "") -> go.Figure:
    """Horizontal bars of the top-k classes, most probable on top, labelled in percent."""
    scores = list(reversed(result.top_k))
    figure = go.Figure(
        go.Bar(
            x=[s.score * 100 for s in scores],
            y=[s.label for s in scores],
            orientation="h",
            text=[f"{s.score:.1%}" for s in scores],
            textposition="auto",
            hovertemplate="%{y}: %{x:.2f}%<extra></extra>",
        )
    )
    figure.update_layout(
        title=title or None,
        xaxis=dict(title="probability (%)", range=[0, 100]),
        height=60 + 32 * len(scores),
        margin=dict(l=10, r=10, t=40 if title else 10, b=10),
    )
    return figure


def latency_figure(latencies: dict[str, float]) -> go.Figure:
    """One bar per model: the model call's latency in milliseconds."""
    names = list(latencies)
    figure = go.Figure(
        go.Bar(x=names, y=[latencies[n] for n in names], text=[f"{latencies[n]:.1f} ms" for n in names])
    )
    figure.update_layout(yaxis_title="latency (ms)", height=320, margin=dict(l=10, r=10, t=10, b=10))
    return figure


def label_counts_figure(table) -> go.Figure:
    """How often each model answered each label (its top-1) in a batch run's rows."""
    answered = table[table["error"].isna() & table["top1_label"].notna()]
    counts = answered.groupby(["model", "top1_label"]).size().reset_index(name="images")
    figure = go.Figure()
    for model, rows in counts.groupby("model"):
        rows = rows.sort_values("images", ascending=False).head(20)
        figure.add_bar(name=model, x=rows["top1_label"], y=rows["images"],
                       hovertemplate="%{x}: %{y} images<extra>" + model + "</extra>")
    figure.update_layout(barmode="group", title="Top-1 answers (at most 20 labels per model)", xaxis_title="label",
                         yaxis_title="images", margin=dict(l=10, r=10, t=40, b=10))
    return figure
