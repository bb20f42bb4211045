"""Figures of the /robustness page: confidence against a perturbation's severity, and an
adversarial perturbation made visible. No streamlit here."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from core.robustness.perturb import CONTROLS, SweepPoint


def sweep_figure(curves: dict[str, list[SweepPoint]]) -> go.Figure:
    """One line per model: its probability for its clean answer at each severity of one control.
    The x axis is the severity step (controls run either way: JPEG quality falls as it gets
    worse), labelled with the control's value."""
    figure = go.Figure()
    for name, points in curves.items():
        figure.add_scatter(
            x=[p.severity for p in points], y=[p.confidence * 100 for p in points], mode="lines+markers", name=name,
            customdata=[[p.level, p.top_label, p.top_score * 100] for p in points],
            hovertemplate=(f"{name}: %{{y:.1f}}% for {points[0].clean_label}<br>"
                           "at %{customdata[0]:g}, answers %{customdata[1]} (%{customdata[2]:.1f}%)<extra></extra>"),
        )
    first = next((points for points in curves.values() if points), None)
    levels = CONTROLS[first[0].control].sweep if first else ()
    figure.update_layout(
        xaxis=dict(title=CONTROLS[first[0].control].title if first else "severity", tickmode="array",
                   tickvals=list(range(len(levels))), ticktext=[f"{level:g}" for level in levels]),
        yaxis=dict(title="confidence in the clean answer (%)", range=[0, 100]),
        height=380, margin=dict(l=10, r=10, t=40, b=10),
        legend=dict(orientation="h", x=0, y=1.02, yanchor="bottom"),  # above: the x axis has a long title
    )
    return figure


def amplified(perturbation: np.ndarray, side: int | None = None) -> np.ndarray:
    """A perturbation in grey levels (int, any sign) as an RGB uint8 image: mid-grey where nothing
    changed, stretched so its largest change reaches black or white; enlarged (nearest neighbour,
    so single pixels stay visible) to `side` when given."""
    largest = max(1, int(np.abs(perturbation).max()))
    pixels = np.clip(128 + perturbation.astype(np.float32) * (127 / largest), 0, 255).astype(np.uint8)
    return enlarged(pixels, side) if side else pixels


def enlarged(pixels: np.ndarray, side: int) -> np.ndarray:
    """A small model input shown at `side` pixels (nearest neighbour); a larger one unchanged."""
    if max(pixels.shape[:2]) >= side:
        return pixels
    return np.asarray(Image.fromarray(pixels).resize((side, side), Image.Resampling.NEAREST))
