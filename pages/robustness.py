"""/robustness: how each classifier's answer holds up as one image is blurred, made noisy, compressed,
darkened, turned, covered or attacked; and whether its Grad-CAM still points at the same place."""

import pandas as pd
import streamlit as st

from core import service
from core.errors import VisionError
from core.explain.base import map_correlation, peak_distance
from core.models.registry import get_spec, model_names
from core.robustness.adversarial import METHODS
from core.robustness.perturb import CONTROLS, POSITION
from core.viz.drawing import overlay_heatmap, shrink
from core.viz.perturbation import amplified, enlarged, sweep_figure
from pages.widgets import (DISPLAY_SIDE, EXPLANATIONS_KEPT, KEPT_FOR_S, PREVIEW_SIDE, RESULTS_KEPT, image_inputs,
                           plain, run_or_explain, use_app_navigation)

use_app_navigation()

ANY_WRONG = "(any other class)"
MAX_EPSILON_LEVELS = 16  # ε up to 16/255: far past what a person notices


# Cached per model, image and setting, so that moving one control reruns only what it changes.
# Nothing here is written to the prediction log: these images are made up, not traffic.
@st.cache_data(max_entries=RESULTS_KEPT, ttl=KEPT_FOR_S, show_spinner=False)
def perturbed(pixels, controls: dict):
    return service.perturb(pixels, **controls)


@st.cache_data(max_entries=RESULTS_KEPT, ttl=KEPT_FOR_S, show_spinner=False)
def answer(name: str, pixels):
    return service.predict(name, pixels, top_k=1)


@st.cache_data(max_entries=RESULTS_KEPT, ttl=KEPT_FOR_S, show_spinner="Sweeping the severity…")
def sweep(name: str, pixels, control: str, position: dict):
    return service.sweep(name, pixels, control, **position)


@st.cache_data(max_entries=EXPLANATIONS_KEPT, ttl=KEPT_FOR_S, show_spinner="Computing Grad-CAM…")
def gradcam(name: str, pixels, target: int):
    return service.explain(name, pixels, "gradcam", target=target, faithfulness=False).for_display(DISPLAY_SIDE)


@st.cache_data(max_entries=EXPLANATIONS_KEPT, ttl=KEPT_FOR_S, show_spinner="Attacking…")
def attacked(name: str, pixels, epsilon: float, method: str, target):
    return service.attack(name, pixels, epsilon, method, target)


def control_values() -> dict:
    """A slider per control (its identity value first), and the occlusion patch's position."""
    values = {}
    columns = st.columns(4) + st.columns(4)  # two rows: seven controls, then the patch's position
    for column, control in zip(columns, CONTROLS.values()):
        kind = int if isinstance(control.step, int) else float  # a slider's bounds, value and step share one type
        bounds = [kind(value) for value in (control.low, control.high, control.identity, control.step)]
        values[control.name] = column.slider(control.title, *bounds, key=f"robustness_{control.name}",
                                             help=control.help)
    for name, default in POSITION.items():
        values[name] = columns[-1].slider(f"Patch centre {name[-1]} (share of the image)", 0.0, 1.0, default, 0.05,
                                          key=f"robustness_{name}")
    return values


def percent(probability) -> float:
    return round(float(probability) * 100, 1)


def comparison_table(names, clean_pixels, corrupted_pixels) -> None:
    rows = []
    for name in names:
        clean = run_or_explain(answer, name, clean_pixels)
        now = run_or_explain(answer, name, corrupted_pixels) if clean else None
        if now is None:
            continue
        rows.append({"model": name,
                     "clean answer": clean.top.label, "clean confidence (%)": percent(clean.top.score),
                     "perturbed answer": now.top.label, "perturbed confidence (%)": percent(now.top.score),
                     "confidence in the clean answer (%)": percent(now.probabilities[clean.top.index]),
                     "changed": now.top.index != clean.top.index})
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True)


def severity_sweep(names, pixels, position: dict) -> None:
    st.subheader("Confidence against severity")
    control = st.selectbox("Perturbation", list(CONTROLS), format_func=lambda c: CONTROLS[c].title,
                           key="robustness_sweep")
    curves = {name: points for name in names if (points := run_or_explain(sweep, name, pixels, control, position))}
    if curves:
        st.plotly_chart(sweep_figure(curves), config={"displayModeBar": False})
        st.caption("Each model's probability for the answer it gives the clean image, as this one perturbation "
                   "grows (the others at rest).")


def explanation_drift(names, clean_pixels, corrupted_pixels) -> None:
    st.subheader("Does the explanation stay put?")
    name = st.selectbox("Grad-CAM of", names, key="robustness_cam_model")
    clean = run_or_explain(answer, name, clean_pixels)
    if clean is None:
        return
    maps = [run_or_explain(gradcam, name, pixels, clean.top.index) for pixels in (clean_pixels, corrupted_pixels)]
    if None in maps:
        return
    pairs = zip(st.columns(3), (clean_pixels, corrupted_pixels), maps, ("clean", "perturbed"))
    for column, pixels, result, title in pairs:
        column.image(overlay_heatmap(shrink(pixels, DISPLAY_SIDE), result.heatmap), width="stretch",
                     caption=f"{title}: Grad-CAM of {result.target.label} ({result.target.score:.1%})")
    left, right = st.columns(2)
    left.metric("Correlation of the two maps", f"{map_correlation(maps[0].heatmap, maps[1].heatmap):.3f}")
    right.metric("Distance between their peaks", f"{peak_distance(maps[0].heatmap, maps[1].heatmap):.1%}",
                 help="as a share of the image's diagonal")
    st.caption(f"Both maps explain the clean answer, {plain(clean.top.label)}, so only the image differs.")


def adversarial(names, pixels) -> None:
    st.subheader("Adversarial")
    st.caption("A push chosen to change the answer: every pixel of what the model sees moves by at most "
               "ε grey levels, in the direction that most hurts its answer (or most helps the class it is pushed "
               "towards), rounded to whole levels as a real image holds them.")
    model_column, method_column, epsilon_column, target_column = st.columns(4)
    name = model_column.selectbox("Model", names, key="robustness_attack_model")
    method = method_column.radio("Method", list(METHODS), format_func=METHODS.get, key="robustness_method")
    levels = epsilon_column.slider("ε (grey levels of 255)", 0, MAX_EPSILON_LEVELS, 2, key="robustness_epsilon")
    classes = run_or_explain(lambda n: list(service.labels(n)), name) or []
    target = target_column.selectbox("Push towards", [ANY_WRONG, *classes], key=f"robustness_target_{name}")
    result = run_or_explain(attacked, name, pixels, levels / 255, method, None if target == ANY_WRONG else target)
    if result is None:
        return
    side = max(PREVIEW_SIDE, get_spec(name).input_size)
    left, middle, right = st.columns(3)
    left.image(enlarged(result.clean_input, side), width="stretch",
               caption=f"what the model sees: {result.clean.top.label} ({result.clean.top.score:.1%})")
    middle.image(enlarged(result.adversarial, side), width="stretch",
                 caption=f"attacked: {result.attacked.top.label} ({result.attacked.top.score:.1%})")
    largest = int(abs(result.perturbation).max())
    right.image(amplified(result.perturbation, side), width="stretch",
                caption=f"the change, amplified {127 // max(1, largest)}× (largest: {largest} levels)")
    verdict = "changed its answer" if result.changed else "kept its answer"
    st.markdown(f"At ε = {levels}/255, {plain(get_spec(name).title)} {verdict}: {plain(result.clean.top.label)} → "
                f"**{plain(result.attacked.top.label)}** ({result.attacked.top.score:.1%}).")


st.title("Robustness")
st.caption("One image, perturbed by hand or by an adversary: does each classifier keep its answer, and does its "
           "explanation keep pointing at the same place?")
images = image_inputs("robustness", multiple=False, default_sample="cat (scikit-image)")
if not images:
    st.stop()
image = images[0]
classifiers = model_names("classify")
chosen = st.multiselect("Models", classifiers, default=model_names("classify", variants=False), key="robustness_models",
                        help="Optimised variants (int8) can be added to the table and the sweep; they have no "
                             "gradients, so no Grad-CAM and no attack.")
controls = control_values()
try:
    corrupted = perturbed(image.pixels, controls)
except VisionError as error:
    st.error(plain(error))
    st.stop()
left, right = st.columns(4)[:2]  # small: the answers below are what matters
left.image(shrink(image.pixels, DISPLAY_SIDE), caption="clean", width="stretch")
right.image(shrink(corrupted, DISPLAY_SIDE), caption="perturbed", width="stretch")
comparison_table(chosen, image.pixels, corrupted)
severity_sweep(chosen, image.pixels, {name: controls[name] for name in POSITION})
with_gradients = [name for name in chosen if not get_spec(name).variant_of]
if with_gradients:
    explanation_drift(with_gradients, image.pixels, corrupted)
    adversarial(with_gradients, image.pixels)
else:
    st.info("Choose a model that is not an int8 variant to see its Grad-CAM and attack it.")
