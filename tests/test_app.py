"""The Streamlit app, run for real by AppTest."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from core import REGISTRY
from core.weights import PROJECT_ROOT


def test_home_page_lists_the_registry():
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception
    assert "side by side" in at.title[0].value
    listed = at.dataframe[0].value["model"].tolist()
    assert listed == list(REGISTRY)
