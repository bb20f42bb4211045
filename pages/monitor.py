"""/monitor: the prediction log over time, the current drift report and the alert history. It reads
the database only (no model is loaded here), so it opens at once."""

import pandas as pd
import streamlit as st

from core.errors import VisionError
from core.monitoring import alerts, checks, queries, report
from core.viz import monitor_charts as charts
from pages.widgets import plain, use_app_navigation

SPANS = {"last hour": 3600, "last day": 86400, "last week": 7 * 86400, "everything": None}
READ_EVERY_S = 10  # how long the page reuses what it read (a busy log changes every second)


@st.cache_data(ttl=READ_EVERY_S, max_entries=32, show_spinner=False)
def read_timeline(model: str, since_s: float | None) -> pd.DataFrame:
    return queries.timeline(model, since_s)


@st.cache_data(ttl=READ_EVERY_S, max_entries=32, show_spinner="Testing the latest window for drift…")
def read_report(model: str, window: int, alpha: float, min_features: int) -> report.DriftReport:
    return report.build(model, window, alpha=alpha, min_features=min_features)


def overview(model: str, frame: pd.DataFrame, rules: alerts.Rules, found: report.DriftReport) -> None:
    counts = queries.writer_counts()
    served = frame[frame["role"] == "served"]  # a challenger's shadow answers have their own section
    columns = st.columns(4)
    columns[0].metric("Predictions in the span", f"{len(served):,}")
    columns[1].metric("Failed requests", f"{served['error'].notna().mean():.1%}" if len(served) else "–")
    accuracy, verdicts = found.health.get("feedback_accuracy"), found.health.get("feedback", 0)
    columns[2].metric("Accuracy from feedback", f"{accuracy:.0%} of {verdicts}" if accuracy is not None else "none yet")
    columns[3].metric("Records dropped (all processes)", f"{counts['dropped']:,}",
                      help=f"{counts['written']:,} written. The log drops records when its queue is full, "
                           "never slowing a prediction.")
    if served.empty:
        st.info("No prediction of this model in the span.")
        return
    seconds = charts.bucket_seconds(served)
    buckets = charts.per_bucket(served, seconds)
    left, right = st.columns(2)
    left.plotly_chart(charts.volume_figure(buckets), key="volume")
    right.plotly_chart(charts.latency_figure(buckets, rules.latency_limit(model)), key="latency")
    left.plotly_chart(charts.confidence_figure(buckets, found.health.get("reference_confidence")), key="confidence")
    right.plotly_chart(charts.label_share_figure(served, seconds), key="labels")
    st.caption(f"Buckets of {seconds // 60} min (times in UTC).")


def shadow_section(model: str, since_s: float | None) -> None:
    """Champion and challenger on live traffic, when the API ran the challenger in shadow."""
    pairs = queries.shadow_pairs(model, since_s)
    if pairs.empty:
        return
    st.subheader("Champion and challenger")
    versions = f"{pairs['served_version'].iloc[-1]} against {pairs['shadow_version'].iloc[-1]}"
    st.caption(f"{len(pairs):,} images answered by both ({plain(versions)}): the same top-1 label on "
               f"{pairs['agree'].mean():.1%}.")
    seconds = charts.bucket_seconds(pairs)
    buckets = charts.shadow_per_bucket(pairs, seconds)
    left, right = st.columns(2)
    left.plotly_chart(charts.shadow_figure(buckets), key="shadow")
    right.plotly_chart(charts.shadow_latency_figure(buckets), key="shadow_latency")


def drift_section(found: report.DriftReport, rules: alerts.Rules) -> None:
    st.subheader("Drift: the latest window against the reference")
    verdict = "drift" if found.drift else "no drift"
    st.markdown(f"**{verdict}** · {found.window} · {found.records} records · reference: {plain(found.reference or '–')}")
    for note in found.notes:
        st.caption(plain(note))
    if found.tests:
        st.dataframe(found.table().drop(columns=["statistic"]), hide_index=True,
                     column_config={"p_value": st.column_config.NumberColumn(format="%.3g"),
                                    "p_adjusted": st.column_config.NumberColumn(format="%.3g"),
                                    "effect": st.column_config.NumberColumn(format="%.3f")})
    judged = alerts.evaluate(found, rules)
    if judged:
        st.dataframe(pd.DataFrame([alert.to_dict() for alert in judged]).drop(columns=["model"]), hide_index=True)


def alert_history(model: str) -> None:
    st.subheader("Alert history")
    history = pd.DataFrame(checks.history(model))
    if history.empty:
        st.caption("No alert has fired for this model (checks: `python -m core monitor check`, or the API's own).")
        return
    history["created_at"] = pd.to_datetime(history["created_at"], unit="s")  # UTC
    st.dataframe(history.drop(columns=["model"]), hide_index=True)


use_app_navigation()
st.title("Monitor")
st.caption("Every prediction the app and the API answer is logged; this page reads the log.")
try:
    models = queries.models_logged()
    rules = alerts.load_rules()
except VisionError as error:
    st.error(plain(error))
    st.stop()
if not models:
    st.info("The prediction log is empty: predictions made on the other pages, or through the API, appear here.")
    st.stop()
left, right = st.columns(2)
model = left.selectbox("Model", models)
span = right.segmented_control("Span", list(SPANS), default="last day") or "last day"
try:
    frame = read_timeline(model, SPANS[span])
    found = read_report(model, rules.window, rules.drift["alpha"], rules.drift["min_features"])
    overview(model, frame, rules, found)
    shadow_section(model, SPANS[span])
    drift_section(found, rules)
    alert_history(model)
except VisionError as error:
    st.error(plain(error))
