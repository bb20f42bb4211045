"""Home: what the app does, its pages, and its models."""

import pandas as pd
import streamlit as st

from core import service
from pages.widgets import plain, use_app_navigation

use_app_navigation()

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
st.page_link("pages/robustness.py", label="Robustness: blur, noise, occlusion and adversarial attacks, and what they do to "
             "each answer and its explanation", icon=":material/shield:")
st.page_link("pages/webcam.py", label="Webcam: classify and detect your camera's view, as photos or live video",
             icon=":material/photo_camera:")
st.page_link("pages/batch.py", label="Batch: many images or zip files through the chosen models",
             icon=":material/dynamic_feed:")
st.page_link("pages/monitor.py", label="Monitor: every logged prediction over time, drift and alerts",
             icon=":material/monitor_heart:")
st.page_link("pages/dashboard.py", label="Dashboard: accuracy, calibration, mistakes and speed of every model",
             icon=":material/leaderboard:")
st.page_link("pages/data.py", label="Data: the datasets behind the models", icon=":material/dataset:")

st.subheader("Registered models")
models = service.list_models()
st.dataframe(
    pd.DataFrame(
        [
            {"model": m.name, "task": m.task, "dataset": m.dataset, "input (px)": m.input_size, "classes": m.classes,
             "weights": "found" if m.weights_path else "not on this machine yet"}
            for m in models if not m.problem
        ]
    ),
    hide_index=True,
)
for broken in (m for m in models if m.problem):
    st.warning(f"{plain(broken.name)} cannot be used: {plain(broken.problem)}")
