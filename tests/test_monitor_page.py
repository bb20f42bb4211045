"""The /monitor page, run by Streamlit's AppTest on a real prediction log of real CIFAR-10 test
images. (/predict's "right or wrong" control is tested in the browser, tests/test_browser.py:
AppTest reruns a page reached by switch_page, which drops a button's click.)"""

from __future__ import annotations

import numpy as np
from test_pages import page

from core import monitoring, service
from core.io.datasets import load_image_folder
from core.monitoring import checks


def test_monitor_shows_the_log_its_drift_and_the_alerts(fresh_log, data_dir):
    images = load_image_folder(data_dir / "cifar10" / "test").images[:60]
    dark = (images.astype(np.float32) * 0.5).round().astype(np.uint8)
    service.predict_many("cifar10_cnn", list(dark), source="api")
    service.predict_each("cifar10_cnn", [b"not an image"], source="api")
    assert monitoring.flush()
    assert "drift" in [alert.rule for alert in checks.check().firing]
    at = page("pages/monitor.py")
    assert not at.exception
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["Predictions in the span"] == "61" and metrics["Failed requests"] == "1.6%"
    assert len(at.get("plotly_chart")) == 4
    tests, judged, history = (frame.value for frame in at.dataframe)
    assert tests["drifted"].sum() >= 2 and tests["description"].str.contains("darker").any()
    assert judged.set_index("rule").loc["drift", "firing"]
    assert history.iloc[0]["rule"] == "drift" and history.iloc[0]["state"] == "firing"
    assert "**drift**" in at.markdown[-1].value or any("**drift**" in m.value for m in at.markdown)


def test_monitor_says_when_logging_is_off(monkeypatch):
    monkeypatch.setenv("VISION_MONITOR_DB", "none")
    at = page("pages/monitor.py")
    assert not at.exception and "logging is off" in at.error[0].value
