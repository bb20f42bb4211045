"""Plotly figures for explanations (no streamlit here, so they can be tested and reused)."""

from __future__ import annotations

import plotly.graph_objects as go

from core.explain.faithfulness import Faithfulness

DELETION_COLOUR, INSERTION_COLOUR = "#d62728", "#1f77b4"


def faithfulness_figure(result: Faithfulness, score_name: str = "score", height: int = 320) -> go.Figure:
    """The target's score as the map's top-ranked pixels are removed (deletion) or revealed
    (insertion): the map's curves solid, the random maps' dashed, each named with its AUC.
    A faithful map's deletion curve falls below the dashed one, its insertion curve rises above."""
    percent = [100 * f for f in result.fractions]
    lines = (
        ("deletion", result.deletion, result.deletion_auc, DELETION_COLOUR, "solid"),
        ("random deletion", result.random_deletion, result.random_deletion_auc, DELETION_COLOUR, "dash"),
        ("insertion", result.insertion, result.insertion_auc, INSERTION_COLOUR, "solid"),
        ("random insertion", result.random_insertion, result.random_insertion_auc, INSERTION_COLOUR, "dash"),
    )
    figure = go.Figure()
    for name, scores, auc, colour, dash in lines:
        figure.add_scatter(x=percent, y=list(scores), mode="lines", name=f"{name} (AUC {auc:.2f})",
                           line=dict(color=colour, dash=dash, width=2),
                           hovertemplate="%{x:.0f}% of pixels: score %{y:.3f}<extra>" + name + "</extra>")
    figure.update_layout(
        height=height, margin=dict(l=10, r=10, t=10, b=90),  # the legend goes in the bottom margin
        xaxis=dict(title="% of pixels, top-ranked first", range=[0, 100]),
        yaxis=dict(title=score_name, range=[0, 1.02]),
        legend=dict(orientation="h", x=0, y=-0.25, yanchor="top", font=dict(size=10)),
    )
    return figure
