"""/explain: why a model answers what it does. Heatmaps (Grad-CAM, Grad-CAM++, Score-CAM, EigenCAM),
each beside its deletion and insertion curves against random maps; all methods for one model, or
one method across the classifiers."""

import io

import streamlit as st
from PIL import Image

from core import service
from core.explain.base import map_correlation, peak_distance
from core.explain.methods import methods_for
from core.models.registry import get_spec, model_names
from core.viz.drawing import COLORMAPS, colour_heatmap, overlay_heatmap, shrink
from core.viz.explain_charts import faithfulness_figure
from pages.widgets import DISPLAY_SIDE, classify, detect, explanation, image_inputs, run_or_explain, use_app_navigation

use_app_navigation()

ANY_CLASS = "Any class…"
CLASSIFIER_METHODS = methods_for("classify")


def pick_target(name, pixels):
    """Classifier: one of the top 5, or any class by search. Detector: one box, or all of them."""
    if get_spec(name).task == "detect":
        found = run_or_explain(detect, name, pixels)
        options = [None] + list(range(len(found.detections) if found else 0))
        labels = {None: "all detections"} | {i: f"{i}: {d.label} {d.score:.2f}" for i, d in enumerate(found.detections if found else [])}
        return None, st.selectbox("Box", options, format_func=labels.get, key="explain_box")
    result = run_or_explain(classify, name, pixels)
    if result is None:
        return None, None
    top = [f"{s.label} ({s.score:.1%})" for s in result.top_k[:5]]
    choice = st.selectbox("Target class", top + [ANY_CLASS], key="explain_target")
    if choice == ANY_CLASS:
        return st.selectbox("Search the classes", result.classes, key="explain_any_class"), None
    return result.top_k[top.index(choice)].label, None


def faithfulness_chart(result, key: str) -> None:
    """The deletion and insertion curves, map against random, and the one-line verdict under them."""
    if result.faithfulness is None:
        return
    label = result.target.label  # the model's own class name
    figure = faithfulness_figure(result.faithfulness, score_name=f"{label} score")
    st.plotly_chart(figure, key=key, config={"displayModeBar": False})
    st.caption(f"{label} · {result.faithfulness.verdict()}")


def show(image, result, opacity, colormap, key: str, with_heatmap=True):
    """Original, heatmap, overlay and the faithfulness chart in a row; the overlay and the chart
    under it when several explanations share the row."""
    overlay = overlay_heatmap(image.pixels, result.heatmap, opacity, colormap)  # at the map's display size
    columns = st.columns(4 if with_heatmap else 1)
    if with_heatmap:
        columns[0].image(shrink(image.pixels, DISPLAY_SIDE), caption="original", width="stretch")
        columns[1].image(colour_heatmap(result.heatmap, colormap), caption=f"heatmap ({result.layer})", width="stretch")
    overlay_column = columns[2] if with_heatmap else columns[0]
    overlay_column.image(overlay, caption=f"{result.target.label} · {result.latency_ms:.0f} ms", width="stretch")
    with columns[-1]:
        faithfulness_chart(result, key)
    if result.note:
        st.caption(result.note)
    return overlay


def in_a_row(image, panels) -> None:
    """One overlay per (title, model, method, target, layer, box), side by side."""
    for column, (title, name, method, target, layer, box) in zip(st.columns(len(panels)), panels):
        with column:
            st.markdown(f"**{title}**")
            result = run_or_explain(lambda n, p: explanation(n, p, method, target, layer, box), name, image.pixels)
            if result is not None:
                show(image, result, opacity, colormap, f"faithfulness_{title}", with_heatmap=False)


def with_int8(image) -> None:
    """A model and its int8 variant, the same gradient-free method on both, and how far the map moved."""
    sources = [name for name in model_names(variants=False) if f"{name}-int8" in model_names()]
    name = st.selectbox("Model", sources, key="explain_int8_model")
    method = next(iter(service.methods(f"{name}-int8")))  # Score-CAM or EigenCAM: both can run it
    in_a_row(image, [(name, name, method, None, None, None), (f"{name}-int8", f"{name}-int8", method, None, None, None)])
    maps = [run_or_explain(lambda n, p: explanation(n, p, method, None, None, None), n, image.pixels)
            for n in (name, f"{name}-int8")]
    if None not in maps:
        left, right = st.columns(2)
        left.metric("Correlation of the two maps", f"{map_correlation(maps[0].heatmap, maps[1].heatmap):.3f}")
        right.metric("Distance between their peaks", f"{peak_distance(maps[0].heatmap, maps[1].heatmap):.1%}",
                     help="as a share of the image's diagonal")
        if get_spec(name).task == "classify":
            st.caption(f"Both explain their own top class; the int8 model's masks are {name}'s feature maps "
                       "(an int8 TFLite file keeps no readable activations), its weights its own answers.")


def png(pixels) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


st.title("Explain")
st.caption("Which pixels made the model answer what it did, and whether the heatmap really points at them.")
images = image_inputs("explain", multiple=False, default_sample="cat (scikit-image)")
left, middle, right = st.columns(3)
opacity = left.slider("Opacity", 0.0, 1.0, 0.5, 0.05, key="explain_opacity")
colormap = middle.selectbox("Colour map", COLORMAPS, key="explain_colormap")
view = right.radio("View", ["One explanation", "Compare methods", "Compare models", "Compare with int8"],
                   key="explain_view")

for image in images:
    if view == "Compare with int8":
        with_int8(image)
        continue
    if view == "Compare models":
        method = st.selectbox("Method", list(CLASSIFIER_METHODS), format_func=CLASSIFIER_METHODS.get, key="explain_cm_method")
        in_a_row(image, [(name, name, method, None, None, None) for name in model_names("classify", variants=False)])
        continue
    model_column, method_column, target_column, layer_column = st.columns(4)
    name = model_column.selectbox("Model", model_names(), key="explain_model",
                                  help="An int8 classifier has no gradients: it offers Score-CAM alone.")
    with model_column:
        layers = run_or_explain(lambda n: service.layers(n), name)
    if layers is None:
        continue
    methods = service.methods(name)
    with target_column:
        target, box = pick_target(name, image.pixels)
    layer = layer_column.selectbox("Layer", layers, key=f"explain_layer_{name}")
    if view == "Compare methods":
        in_a_row(image, [(methods[method], name, method, target, layer, box) for method in methods])
        continue
    method = method_column.selectbox("Method", list(methods), format_func=methods.get, key=f"explain_method_{name}")
    result = run_or_explain(lambda n, p: explanation(n, p, method, target, layer, box), name, image.pixels)
    if result is None:
        continue
    overlay = show(image, result, opacity, colormap, "faithfulness")
    st.download_button("Download overlay PNG", png(overlay), f"{name}_{method}.png", "image/png")
