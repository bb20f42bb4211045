"""Home: what the app does, its pages, and its models."""

import pandas as pd
import streamlit as st

from core import REGISTRY

st.title("Vision side by side")
st.markdown(
    "Put several image models side by side on the same picture, and see why each predicts what it does.  \n"
    "Classifiers and a detector run on your photo; explanations and honest metrics show how they decide."
)

st.page_link("pages/predict.py", label="Predict: classify images with every classifier", icon=":material/label:")
st.page_link("pages/detect.py", label="Detect: find objects with boxes and scores", icon=":material/center_focus_strong:")
st.page_link("pages/compare.py", label="Compare: all models on one image, and whether they agree",
             icon=":material/view_column:")
st.page_link("pages/explain.py", label="Explain: heatmaps of what each model looks at, and how faithful they are",
             icon=":material/visibility:")
st.page_link("pages/webcam.py", label="Webcam: classify and detect your camera's view, as photos or live video",
             icon=":material/photo_camera:")
st.page_link("pages/dashboard.py", label="Dashboard: accuracy, calibration, mistakes and speed of every model",
             icon=":material/leaderboard:")
st.page_link("pages/data.py", label="Data: the datasets behind the models", icon=":material/dataset:")

st.subheader("Registered models")
st.dataframe(
    pd.DataFrame(
        [
            {"model": s.name, "task": s.task, "dataset": s.dataset, "input (px)": s.input_size, "classes": s.num_classes}
            for s in REGISTRY.values()
        ]
    ),
    hide_index=True,
)
