"""Widgets shared by the pages: image input, model loading with a spinner, cached inference,
and the classification card. Model code stays in core; this module only connects it to Streamlit."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import streamlit as st
from PIL import Image

from core import ImageError, WeightsNotFoundError, get_model, get_spec, load_image
from core.viz.charts import top_k_figure
from core.models.loading import is_loaded
from core.results import Classification, Detections, top_k_scores
from core.io.samples import sample_images

UPLOAD_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff", "gif", "heic", "heif"]
MAX_TOP_K = 10
PREVIEW_SIDE = 224  # small model inputs are enlarged (nearest neighbour) so their pixels stay visible


def _use_app_navigation() -> None:
    """Run pages through app.py's st.navigation even on a deep link to a fresh server.

    Streamlit treats a folder named pages/ beside the entry script as its old multipage layout
    until app.py has called st.navigation once; until then a first visit to /detect would run
    this page alone, without the app's navigation and page config. Leave that mode and rerun.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a later Streamlit without the old mode
        return
    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        st.rerun()


_use_app_navigation()


@dataclass(frozen=True)
class InputImage:
    name: str
    pixels: np.ndarray  # RGB uint8 H×W×3


def image_inputs(key: str, multiple: bool = True, default_sample: str | None = None) -> list[InputImage]:
    """A sample photo or the user's uploads; a bad file gets an error naming it, the others go on."""
    source = st.radio("Image source", ["Sample photo", "Upload"], horizontal=True, key=f"{key}_source")
    if source == "Sample photo":
        samples = sample_images()
        names = list(samples)
        index = names.index(default_sample) if default_sample in names else 0
        name = st.selectbox("Sample photo", names, index=index, key=f"{key}_sample")
        return [InputImage(name, _decode_sample(str(samples[name])))]
    uploads = st.file_uploader(
        "Upload images" if multiple else "Upload an image",
        type=UPLOAD_TYPES,
        accept_multiple_files=multiple,
        key=f"{key}_upload",
    )
    uploads = uploads if isinstance(uploads, list) else [uploads] if uploads else []
    if not uploads:
        st.info("Upload an image to start, or switch to a sample photo.")
    images = []
    for upload in uploads:
        try:
            images.append(InputImage(upload.name, load_image(upload.getvalue())))
        except ImageError as error:
            st.error(f"**{upload.name}**: {error}")
    return images


@st.cache_data(show_spinner=False)
def _decode_sample(path: str) -> np.ndarray:
    return load_image(path)


def load_model(name: str):
    """The shared model, with a spinner naming it on first use. Raises WeightsNotFoundError."""
    if is_loaded(name):
        return get_model(name)
    with st.spinner(f"Loading {get_spec(name).title}: first use on this server…"):
        return get_model(name)


@st.cache_data(max_entries=256, show_spinner=False)
def classify(name: str, pixels: np.ndarray) -> Classification:
    """Cached per model and image: moving a slider never re-runs the model."""
    return get_model(name).predict(pixels, top_k=MAX_TOP_K)


@st.cache_data(max_entries=256, show_spinner=False)
def detect(name: str, pixels: np.ndarray, conf: float, iou: float) -> Detections:
    return get_model(name).predict(pixels, conf=conf, iou=iou)


@st.cache_data(max_entries=128, show_spinner="Computing the heatmap…")
def explanation(name: str, pixels: np.ndarray, method: str, target, layer, box):
    from core.explain.base import explain

    return explain(get_model(name), pixels, method, target, layer, box)


def with_top_k(result: Classification, labels: tuple[str, ...], k: int) -> Classification:
    return dataclasses.replace(result, top_k=top_k_scores(result.probabilities, labels, k))


def run_or_explain(function, name: str, *args):
    """Load model `name` (with a spinner), then run `function(name, ...)`; on failure, say why in
    this model's place and return None."""
    try:
        load_model(name)
        return function(name, *args)
    except WeightsNotFoundError as error:
        st.error(f"{get_spec(name).title} is unavailable: {error}")
    except Exception as error:  # one model failing must not take the page down
        st.error(f"{get_spec(name).title} failed on this image ({type(error).__name__}: {error}).")
    return None


def classification_card(name: str, image: InputImage, k: int, show_input: bool = True) -> Classification | None:
    """Predicted label in large type, latency, the top-k chart and what the model sees."""
    spec = get_spec(name)
    st.markdown(f"**{spec.title}**")
    result = run_or_explain(classify, name, image.pixels)
    if result is None:
        return None
    result = with_top_k(result, load_model(name).labels, k)
    st.markdown(f"## {result.top.label}")
    st.caption(f"{result.top.score:.1%} confident · {result.latency_ms:.1f} ms")
    st.plotly_chart(top_k_figure(result), key=f"topk_{name}_{image.name}", config={"displayModeBar": False})
    if show_input:
        model_sees(image.pixels, result.model_input, spec.input_size)
    return result


def model_sees(original: np.ndarray, model_input: np.ndarray, side: int) -> None:
    left, right = st.columns(2)
    left.image(original, caption="original", width="stretch")
    preview = Image.fromarray(model_input)
    if side < PREVIEW_SIDE:
        preview = preview.resize((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.NEAREST)
    right.image(preview, caption=f"what the model sees ({side}×{side})", width="stretch")
