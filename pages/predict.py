"""/predict: every chosen classifier on one or several images."""

import json

import pandas as pd
import streamlit as st

from core.config import MAX_TOP_K, TOP_K
from core.models.registry import model_names
from pages.widgets import classification_card, image_inputs, plain, use_app_navigation

use_app_navigation()

st.title("Predict")
st.caption("Classify your images with each classifier: top-k classes, latency, and the exact input the model sees.")

images = image_inputs("predict", default_sample="cat (scikit-image)")
classifiers = st.multiselect("Classifiers", model_names("classify"), default=model_names("classify", variants=False))
k = st.slider("Top-k classes", 1, MAX_TOP_K, TOP_K)

rows = []
for image in images:
    st.subheader(plain(image.name))
    for column, name in zip(st.columns(max(1, len(classifiers))), classifiers):
        with column:
            result = classification_card(name, image, k)
        if result is not None:
            rows.append({"image": image.name, "model": name, "label": result.top.label,
                         "score": round(result.top.score, 4), "latency_ms": round(result.latency_ms, 2),
                         "top_k": [s.to_dict() for s in result.top_k]})

if len(images) > 1 and rows:
    st.subheader("All results")
    table = pd.DataFrame(rows)
    st.dataframe(table.drop(columns="top_k"), hide_index=True)
    left, right = st.columns(2)
    left.download_button("Download CSV", table.drop(columns="top_k").to_csv(index=False), "predictions.csv", "text/csv")
    right.download_button("Download JSON", json.dumps(rows, indent=2), "predictions.json", "application/json")
