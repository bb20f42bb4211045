"""Entry point: page config, navigation, run. Each page is a short script in pages/."""

import streamlit as st

st.set_page_config(page_title="Vision side by side", page_icon=":eyes:", layout="wide")

home = st.Page("pages/home.py", title="Home", icon=":material/home:", default=True)
st.navigation([home]).run()
