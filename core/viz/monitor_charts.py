"""The /monitor page's figures: a model's logged predictions over time, in buckets (plotly; no
streamlit here)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

BUCKETS_S = (60, 300, 900, 3600, 3 * 3600, 86400, 7 * 86400)  # 1 min ... 1 week
TARGET_BUCKETS = 60  # about this many points across a chart
TOP_LABELS = 8  # the label-share chart pools the rest as "other"


def bucket_seconds(frame: pd.DataFrame) -> int:
    """The smallest bucket that puts the records' time span in about TARGET_BUCKETS points."""
    span = float(frame["created_at"].max() - frame["created_at"].min()) if len(frame) else 0.0
    return next((size for size in BUCKETS_S if size * TARGET_BUCKETS >= span), BUCKETS_S[-1])


def per_bucket(frame: pd.DataFrame, seconds: int) -> pd.DataFrame:
    """Requests, failures, latency p50/p95 and mean confidence per bucket of `seconds`."""
    grouped = frame.set_index("time").groupby(pd.Grouper(freq=f"{seconds}s"))
    table = pd.DataFrame({
        "requests": grouped.size(),
        "errors": grouped["error"].count(),
        "latency_p50_ms": grouped["latency_ms"].quantile(0.5),
        "latency_p95_ms": grouped["latency_ms"].quantile(0.95),
        "mean_confidence": grouped["score"].mean(),
    })
    return table[table["requests"] > 0].reset_index()


def volume_figure(buckets: pd.DataFrame) -> go.Figure:
    figure = go.Figure([
        go.Bar(x=buckets["time"], y=buckets["requests"] - buckets["errors"], name="answered"),
        go.Bar(x=buckets["time"], y=buckets["errors"], name="failed", marker_color="#d62728"),
    ])
    return _layout(figure.update_layout(barmode="stack"), "predictions per bucket")


def latency_figure(buckets: pd.DataFrame, limit_ms: float | None = None) -> go.Figure:
    figure = go.Figure([go.Scatter(x=buckets["time"], y=buckets[f"latency_{q}_ms"], name=q, mode="lines+markers")
                        for q in ("p50", "p95")])
    if limit_ms is not None:
        figure.add_hline(y=limit_ms, line_dash="dot", annotation_text=f"alert above {limit_ms:g} ms (p95)")
    return _layout(figure, "latency (ms)")


def confidence_figure(buckets: pd.DataFrame, reference: float | None = None) -> go.Figure:
    figure = go.Figure(go.Scatter(x=buckets["time"], y=buckets["mean_confidence"], name="mean top-1 score",
                                  mode="lines+markers"))
    if reference is not None:
        figure.add_hline(y=reference, line_dash="dash", annotation_text=f"reference {reference:.3f}")
    figure.update_yaxes(range=[0, 1])
    return _layout(figure, "mean confidence")


def label_share_figure(frame: pd.DataFrame, seconds: int) -> go.Figure:
    """Each bucket's share of the most frequent labels (stacked), the rest pooled."""
    answered = frame.dropna(subset=["label"])
    top = answered["label"].value_counts().index[:TOP_LABELS]
    labels = answered["label"].where(answered["label"].isin(top), "other")
    counts = pd.crosstab(answered["time"].dt.floor(f"{seconds}s"), labels, normalize="index")
    figure = go.Figure([go.Bar(x=counts.index, y=counts[label], name=str(label)) for label in counts.columns])
    figure.update_layout(barmode="stack")
    figure.update_yaxes(range=[0, 1], tickformat=".0%")
    return _layout(figure, "share of predicted labels")


def shadow_per_bucket(pairs: pd.DataFrame, seconds: int) -> pd.DataFrame:
    """Champion and challenger per bucket: how often they agree, their mean confidence and p50 latency."""
    grouped = pairs.set_index("time").groupby(pd.Grouper(freq=f"{seconds}s"))
    table = pd.DataFrame({"pairs": grouped.size(), "agreement": grouped["agree"].mean(),
                          "champion_confidence": grouped["served_score"].mean(),
                          "challenger_confidence": grouped["shadow_score"].mean(),
                          "champion_latency_ms": grouped["served_latency_ms"].median(),
                          "challenger_latency_ms": grouped["shadow_latency_ms"].median()})
    return table[table["pairs"] > 0].reset_index()


def shadow_figure(buckets: pd.DataFrame) -> go.Figure:
    figure = go.Figure([go.Scatter(x=buckets["time"], y=buckets[column], name=name, mode="lines+markers")
                        for column, name in (("agreement", "same top-1 label"),
                                             ("champion_confidence", "champion's confidence"),
                                             ("challenger_confidence", "challenger's confidence"))])
    figure.update_yaxes(range=[0, 1.05])
    return _layout(figure, "champion and challenger on the same images")


def shadow_latency_figure(buckets: pd.DataFrame) -> go.Figure:
    figure = go.Figure([go.Scatter(x=buckets["time"], y=buckets[f"{role}_latency_ms"], name=role, mode="lines+markers")
                        for role in ("champion", "challenger")])
    return _layout(figure, "p50 latency (ms)")


def _layout(figure: go.Figure, title: str) -> go.Figure:
    return figure.update_layout(title=title, height=300, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                                legend={"orientation": "h", "y": -0.2})
