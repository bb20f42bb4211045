"""Entry point: page config, navigation, run. Each page is a short script in pages/."""

import streamlit as st

st.set_page_config(page_title="Vision side by side", page_icon=":eyes:", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/predict.py", title="Predict", icon=":material/label:", url_path="predict"),
    st.Page("pages/detect.py", title="Detect", icon=":material/center_focus_strong:", url_path="detect"),
    st.Page("pages/compare.py", title="Compare", icon=":material/view_column:", url_path="compare"),
    st.Page("pages/explain.py", title="Explain", icon=":material/visibility:", url_path="explain"),
    st.Page("pages/robustness.py", title="Robustness", icon=":material/shield:", url_path="robustness"),
    st.Page("pages/webcam.py", title="Webcam", icon=":material/photo_camera:", url_path="webcam"),
    st.Page("pages/batch.py", title="Batch", icon=":material/dynamic_feed:", url_path="batch"),
    st.Page("pages/monitor.py", title="Monitor", icon=":material/monitor_heart:", url_path="monitor"),
    st.Page("pages/dashboard.py", title="Dashboard", icon=":material/leaderboard:", url_path="dashboard"),
    st.Page("pages/data.py", title="Data", icon=":material/dataset:", url_path="data"),
]
st.navigation(PAGES).run()
