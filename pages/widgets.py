"""Widgets shared by the pages: image input, model loading with a spinner, cached calls to the
service, one way of showing errors, and the classification card. Model code stays in core (every
call goes through core.service); this module only connects it to Streamlit."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import streamlit as st
from PIL import Image

from core import service
from core.config import CONFIDENCE, MAX_TOP_K, NMS_IOU
from core.errors import ImageError, ModelConfigError, UnknownModelError, VisionError, WeightsNotFoundError
from core.io.images import load_image
from core.io.samples import sample_images
from core.models.registry import get_spec
from core.results import Classification, Detections
from core.viz.charts import top_k_figure

DISPLAY_SIDE = 1600  # the longest side of a heatmap the pages keep and show
RESULTS_KEPT = 256  # cached predictions (each a few kB to 150 kB: the model's input pixels)
EXPLANATIONS_KEPT = 32  # cached explanations (each at most 1600 x 1600 bytes of map)
KEPT_FOR_S = 3600  # a cached answer nobody asked for in an hour is dropped
UPLOAD_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff", "gif", "heic", "heif"]
UNAVAILABLE = (WeightsNotFoundError, ModelConfigError, UnknownModelError)  # the model, not the input, is at fault
# What Markdown would turn into formatting, links or images; ":" and "www." start automatic links.
MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]()<>|~$:#]|(?<=www)\.)")
PREVIEW_SIDE = 224  # small model inputs are enlarged (nearest neighbour) so their pixels stay visible


def use_app_navigation() -> None:
    """Run pages through app.py's st.navigation even on a deep link to a fresh server. Every page
    calls this first, as a statement of its own script (never at import: a rerun raised while this
    module was being imported left other sessions a half-built module to import from).

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


@dataclass(frozen=True)
class InputImage:
    name: str
    pixels: np.ndarray  # RGB uint8 H×W×3


def plain(text: str) -> str:
    """`text` escaped so that Markdown shows it as it is: a message is never a link or an image."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


def literal(text: str) -> str:
    """`text` as a Markdown code span: a user's file name shown exactly, whatever it contains."""
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}" if text.startswith("`") or text.endswith("`") else f"{fence}{text}{fence}"


def image_inputs(key: str, multiple: bool = True, default_sample: str | None = None) -> list[InputImage]:
    """The uploader, visible on arrival (drag and drop works at once), and a sample photo used
    until a file arrives. A bad file gets an error naming it; the other files go on."""
    uploads = st.file_uploader(
        "Upload images" if multiple else "Upload an image",
        type=UPLOAD_TYPES,
        accept_multiple_files=multiple,
        key=f"{key}_upload",
    )
    uploads = uploads if isinstance(uploads, list) else [uploads] if uploads else []
    if not uploads:
        return [_sample(key, default_sample)]
    images = []
    for upload in uploads:
        try:
            images.append(InputImage(upload.name, load_image(upload.getvalue())))
        except ImageError as error:
            st.error(f"{literal(upload.name)}: {plain(error)}")
    return images


def _sample(key: str, default_sample: str | None) -> InputImage:
    samples = sample_images()
    names = list(samples)
    index = names.index(default_sample) if default_sample in names else 0
    name = st.selectbox("Or try a sample photo", names, index=index, key=f"{key}_sample")
    return InputImage(name, _decode_sample(str(samples[name])))


@st.cache_data(show_spinner=False)
def _decode_sample(path: str) -> np.ndarray:
    return load_image(path)


def load_model(name: str):
    """The shared model, with a spinner naming it on first use. Raises the service's errors."""
    if service.is_loaded(name):
        return service.load(name)
    with st.spinner(f"Loading {get_spec(name).title}: first use on this server…"):
        return service.load(name)


@st.cache_data(max_entries=RESULTS_KEPT, ttl=KEPT_FOR_S, show_spinner=False)
def classify(name: str, pixels: np.ndarray) -> Classification:
    """Cached per model and image: moving a slider never re-runs the model."""
    return service.predict(name, pixels, top_k=MAX_TOP_K, source="app")


@st.cache_data(max_entries=RESULTS_KEPT, ttl=KEPT_FOR_S, show_spinner=False)
def detect(name: str, pixels: np.ndarray, conf: float = CONFIDENCE, iou: float = NMS_IOU) -> Detections:
    return service.predict(name, pixels, conf=conf, iou=iou, source="app")


@st.cache_data(max_entries=EXPLANATIONS_KEPT, ttl=KEPT_FOR_S,
               show_spinner="Computing the heatmap and its faithfulness curves…")
def explanation(name: str, pixels: np.ndarray, method: str, target, layer, box):
    """Cached as a display copy (a uint8 map at most DISPLAY_SIDE pixels long): a bounded cache,
    whatever size the photos are."""
    return service.explain(name, pixels, method, target=target, layer=layer, box=box).for_display(DISPLAY_SIDE)


def show_error(name: str, error: VisionError) -> None:
    """The one way a page reports a failure, in this model's place, as plain text."""
    if isinstance(error, UNAVAILABLE):
        st.error(f"{plain(_title(name))} is unavailable: {plain(error)}")
    else:
        st.error(plain(error))


def _title(name: str) -> str:
    try:
        return get_spec(name).title
    except VisionError:  # the entry itself is what is broken
        return name


def run_or_explain(function, name: str, *args):
    """Load model `name` (with a spinner), then run `function(name, ...)`; on failure, say why in
    this model's place and return None."""
    try:
        load_model(name)
        return function(name, *args)
    except VisionError as error:
        show_error(name, error)
    return None


def classification_card(name: str, image: InputImage, k: int, show_input: bool = True) -> Classification | None:
    """Predicted label in large type, latency, the top-k chart and what the model sees."""
    st.markdown(f"**{plain(_title(name))}**")
    result = run_or_explain(classify, name, image.pixels)
    if result is None:
        return None
    result = result.with_top_k(k)
    st.markdown(f"## {result.top.label}")
    st.caption(f"{result.top.score:.1%} confident · {result.latency_ms:.1f} ms")
    st.plotly_chart(top_k_figure(result), key=f"topk_{name}_{image.name}", config={"displayModeBar": False})
    if result.prediction_id:
        verdict_control(result, f"verdict_{name}_{image.name}")
    if show_input:
        model_sees(image.pixels, result.model_input, get_spec(name).input_size)
    return result


NOT_LISTED = "(none of its classes)"


def verdict_control(result: Classification, key: str) -> None:
    """"Right / wrong, it is a ...": a user's verdict on a logged prediction, kept in the log, where
    the monitoring's rolling accuracy reads it. A form: choosing reruns nothing until Send."""
    with st.popover("Right or wrong?"), st.form(f"{key}_form", border=False):
        verdict = st.radio("This answer is", ["right", "wrong"], horizontal=True, key=f"{key}_choice")
        truth = st.selectbox("If wrong, it is a …", [NOT_LISTED, *service.labels(result.model)], key=f"{key}_label")
        sent = st.form_submit_button("Send")
    if sent:  # said outside the popover, which closes as the page reruns
        try:
            label = None if verdict == "right" or truth == NOT_LISTED else truth
            service.feedback(result.prediction_id, verdict == "right", label, source="app")
            st.success(f"Thank you: your verdict ({verdict}) is kept in the prediction log.")
        except VisionError as error:
            show_error(result.model, error)


def model_sees(original: np.ndarray, model_input: np.ndarray, side: int) -> None:
    left, right = st.columns(2)
    left.image(original, caption="original", width="stretch")
    preview = Image.fromarray(model_input)
    if side < PREVIEW_SIDE:
        preview = preview.resize((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.NEAREST)
    right.image(preview, caption=f"what the model sees ({side}×{side})", width="stretch")
