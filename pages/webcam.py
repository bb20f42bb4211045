"""/webcam: snapshot mode (a photo from the browser's camera, processed like an upload) and live mode
(streamlit-webrtc: the newest frame through the model, boxes drawn on the video, a live table)."""

import queue

import pandas as pd
import streamlit as st

from core import service
from core.config import ICE_SERVERS_ENV, ice_servers
from core.errors import ImageError
from core.io.images import load_image
from core.live import LiveProcessor
from core.models.registry import get_spec, model_names
from core.results import label_counts
from core.viz.drawing import draw_detections, overlay_heatmap
from pages.widgets import (
    InputImage,
    classification_card,
    detect,
    explanation,
    load_model,
    plain,
    run_or_explain,
    use_app_navigation,
)

use_app_navigation()

LIVE_SIZES = [320, 480, 640]
LIVE_TOP_K = 3


def snapshot(name: str) -> None:
    shot = st.camera_input("Take a photo", key="webcam_snapshot")
    st.caption("The camera runs in your browser; only the photo you take is sent. If the browser blocked the camera "
               "or none is connected, allow it in the address bar (or plug one in) and reload, or use the Detect page "
               "with an upload instead.")
    if shot is None:
        return
    try:
        image = InputImage("snapshot", load_image(shot.getvalue()))
    except ImageError as error:
        st.error(f"The photo could not be read: {plain(error)}")
        return
    if get_spec(name).task == "detect":
        result = run_or_explain(detect, name, image.pixels)
        if result is not None:
            st.image(draw_detections(image.pixels, result), width="stretch")
            st.markdown(label_counts(result.labels()) or "Nothing detected.")
        return
    classification_card(name, image, 5, show_input=False)
    if st.toggle("Grad-CAM overlay", key="webcam_gradcam"):
        result = run_or_explain(explanation, name, image.pixels, "gradcam", None, None, None)
        if result is not None:
            st.image(overlay_heatmap(image.pixels, result.heatmap), caption=f"Grad-CAM for {result.target.label}",
                     width="stretch")


def live_processor(name: str, options: dict) -> LiveProcessor:
    """One processor per session and setting; a changed setting stops the old worker."""
    current = st.session_state.get("live_processor")
    if current is not None and (current.name, current.options) == (name, options):
        return current
    if current is not None:
        current.stop()
    st.session_state["live_processor"] = LiveProcessor(name, **options)
    return st.session_state["live_processor"]


def live(name: str) -> None:
    from streamlit_webrtc import webrtc_streamer

    if get_spec(name).task == "detect":  # a detector trades small objects for speed; a classifier shows its top 3
        options = {"imgsz": st.select_slider("Processing size (px)", LIVE_SIZES, 320, key="live_size")}
    else:
        options = {"top_k": LIVE_TOP_K}
    processor = live_processor(name, service.options_for(name, **options))

    def on_frame(frame):  # runs in streamlit-webrtc's thread: no st.* calls here
        import av

        annotated = processor.submit(frame.to_ndarray(format="rgb24"))
        return av.VideoFrame.from_ndarray(annotated, format="rgb24")

    st.caption(f"Press START and allow the camera. Off this machine, live mode needs HTTPS (browsers only share cameras "
               f"with secure pages) and, on restrictive networks, a TURN server: set {ICE_SERVERS_ENV} to a JSON list of "
               "ICE servers. Snapshot mode needs no TURN server.")
    try:
        context = webrtc_streamer(key="live", video_frame_callback=on_frame, rtc_configuration={"iceServers": ice_servers()},
                                  media_stream_constraints={"video": True, "audio": False})
    except Exception as error:  # e.g. a bad VISION_ICE_SERVERS, or no Streamlit server (scripted runs)
        st.error(f"Live video cannot start here ({type(error).__name__}: {error}). Snapshot mode still works.")
        return
    readout = st.empty()
    while context.state.playing:
        try:
            result = processor.results.get(timeout=1.0)
        except queue.Empty:
            if processor.error:
                readout.error(f"The model failed on a frame ({processor.error}); live mode goes on with the next.")
            continue
        with readout.container():
            left, middle, right = st.columns(3)
            left.metric("Frames per second", f"{result.fps:.1f}")
            middle.metric("Model latency", f"{result.latency_ms:.0f} ms")
            right.metric("Frames skipped", f"{1 - processor.processed / max(1, processor.submitted):.0%}")
            st.markdown(f"Frame {result.frame}: {result.summary}")
            st.dataframe(pd.DataFrame(result.rows), hide_index=True)


st.title("Webcam")
st.caption("Classify or detect what your camera sees: one photo at a time, or live video.")
mode = st.radio("Mode", ["Snapshot", "Live"], horizontal=True, key="webcam_mode")
names = model_names()
name = st.selectbox("Model", names, index=names.index("yolo11n") if "yolo11n" in names else 0, key="webcam_model")
if run_or_explain(load_model, name) is not None:
    if mode == "Snapshot":  # statements, not a conditional expression: Streamlit's magic would print its None
        snapshot(name)
    else:
        live(name)
