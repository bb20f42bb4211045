"""/compare: every registered model on the same image, and whether they agree."""

import pandas as pd
import streamlit as st

from core.models.registry import get_spec, model_names
from core.models.vocabulary import COMMON, agreement, classifier_vote, detector_vote, ensemble
from core.results import top_k_scores
from core.viz.charts import latency_figure
from core.viz.drawing import draw_detections
from pages.widgets import classification_card, detect, image_inputs, run_or_explain, use_app_navigation

use_app_navigation()

st.title("Compare")
st.caption("One image, every model. Their vocabularies differ, so each answer is also mapped onto CIFAR-10's ten classes.")

images = image_inputs("compare", multiple=False, default_sample="cat (scikit-image)")
k = st.slider("Top-k classes", 1, 10, 3)
if not images:
    st.stop()
image = images[0]

votes, latencies, cifar_results = [], {}, []
chosen = st.multiselect("Models", model_names(), default=model_names(variants=False), key="compare_models",
                        help="Optimised variants (int8) can be added beside their source models.")
for column, name in zip(st.columns(max(1, len(chosen))), chosen):
    spec = get_spec(name)
    with column:
        if spec.task == "classify":
            result = classification_card(name, image, k)
            if result is None:
                continue
            votes.append(classifier_vote(result))
            if result.classes == COMMON:
                cifar_results.append(result)
        else:
            st.markdown(f"**{spec.title}**")
            result = run_or_explain(detect, name, image.pixels)
            if result is None:
                continue
            top = result.detections[0] if len(result) else None
            st.markdown(f"## {top.label if top else 'nothing'}")
            st.caption(f"{result.count_text()} · {result.latency_ms:.1f} ms")
            st.image(draw_detections(image.pixels, result), width="stretch")
            votes.append(detector_vote(result))
        latencies[name] = result.latency_ms

st.subheader("Do they agree?")
st.dataframe(
    pd.DataFrame([{"model": v.model, "own answer": v.source_label, "common class": v.label or "— (no mapping)",
                   "score": round(v.score, 3)} for v in votes]),
    hide_index=True,
)
agreed = agreement(votes)
voting = sum(v.label is not None for v in votes)
if agreed and voting > 1:
    st.success(f"All {voting} models with a mapped answer say **{agreed}**.")
elif voting > 1:
    st.warning("The models disagree on the common class.")
else:
    st.info("Fewer than two models gave an answer that maps onto the common classes.")

st.subheader("Ensemble of the CIFAR-10 classifiers")
if len(cifar_results) >= 2:
    mean = ensemble(cifar_results)
    best = top_k_scores(mean, COMMON, 3)
    st.markdown(f"Mean of {len(cifar_results)} models: **{best[0].label}** ({best[0].score:.1%}); "
                + ", ".join(f"{s.label} {s.score:.1%}" for s in best[1:]))
else:
    st.info("The ensemble needs at least two CIFAR-10 classifiers in the registry "
            "(train them with `python -m training.train_cnn` and `python -m training.train_transfer`).")

if latencies:
    st.subheader("Latency")
    st.plotly_chart(latency_figure(latencies), config={"displayModeBar": False})
