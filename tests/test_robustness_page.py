"""The /robustness page, run by Streamlit's AppTest with the real models on a sample photo."""

from __future__ import annotations

import pytest
from test_pages import page

PERTURBED = "perturbed confidence (%)"


def shown(at) -> dict[str, float]:
    table = at.dataframe[0].value
    return dict(zip(table["model"], table[PERTURBED]))


@pytest.mark.slow
def test_robustness_renders_and_the_blur_control_moves_the_confidence(weights_dir):
    at = page("pages/robustness.py")
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert (table["clean answer"] == table["perturbed answer"]).all()  # every control at rest: the same image
    assert len(at.get("plotly_chart")) == 1  # the sweep
    assert {metric.label for metric in at.metric} >= {"Correlation of the two maps"}
    assert any("At ε = 2/255" in m.value for m in at.markdown)  # the adversarial section's verdict
    before = shown(at)
    at.slider(key="robustness_blur").set_value(3.0).run()
    assert not at.exception
    after = shown(at)
    assert after.keys() == before.keys() and all(after[name] != before[name] for name in before), (before, after)


@pytest.mark.slow
def test_robustness_attack_controls_and_an_int8_model(weights_dir):
    at = page("pages/robustness.py")
    at.multiselect(key="robustness_models").set_value(["cifar10_cnn", "cifar10_cnn-int8"]).run()
    assert not at.exception and set(at.dataframe[0].value["model"]) == {"cifar10_cnn", "cifar10_cnn-int8"}
    assert at.selectbox(key="robustness_attack_model").options == ["cifar10_cnn"]  # no gradients in an int8 file
    at.radio(key="robustness_method").set_value("pgd").run()
    at.slider(key="robustness_epsilon").set_value(8).run()
    assert not at.exception and any("At ε = 8/255" in m.value for m in at.markdown)
