"""Home: what the app does and which models it has."""

import pandas as pd
import streamlit as st

from core import REGISTRY

st.title("Vision side by side")
st.markdown(
    "Put several image models side by side on the same picture, and see why each predicts what it does.  \n"
    "Classifiers and a detector run on your photo; explanations and honest metrics show how they decide."
)

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
