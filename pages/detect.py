"""/detect: boxes, labels and scores from the detector, with thresholds and a class filter."""

import io
import json

import pandas as pd
import streamlit as st
from PIL import Image

from core.config import CONFIDENCE, NMS_IOU
from core.models.registry import model_names
from core.results import label_counts
from core.viz.drawing import draw_detections
from pages.widgets import detect, image_inputs, load_model, plain, run_or_explain, use_app_navigation

use_app_navigation()

st.title("Detect")
st.caption("Find objects with the COCO detector. Colours are stable per class.")

images = image_inputs("detect", default_sample="bus (Ultralytics)")
name = st.selectbox("Detector", model_names("detect"))
left, right = st.columns(2)
conf = left.slider("Confidence threshold", 0.05, 0.95, CONFIDENCE, 0.05, key="detect_conf")
iou = right.slider("NMS IoU threshold", 0.1, 0.95, NMS_IOU, 0.05, key="detect_iou")
labels = run_or_explain(lambda n: load_model(n).labels, name)
if labels is None:  # the model is unavailable: the error above says why, once
    st.stop()
wanted = st.multiselect("Classes", labels, placeholder="All classes", key="detect_classes")

for image in images:
    st.subheader(plain(image.name))
    result = run_or_explain(detect, name, image.pixels, conf, iou)
    if result is None:
        continue
    if wanted:
        result = result.only(wanted)
    annotated = draw_detections(image.pixels, result)
    picture, summary = st.columns([3, 1])
    picture.image(annotated, width="stretch")
    summary.markdown(f"**{result.count_text()}** · {result.latency_ms:.1f} ms")
    if len(result):
        counts = pd.DataFrame([d.to_dict() for d in result.detections]).groupby("label")["score"]
        table = pd.DataFrame({"count": counts.size(), "best score": counts.max().round(3)})
        table = table.sort_values("count", ascending=False)
        summary.markdown(label_counts(result.labels()))
        summary.dataframe(table)
    else:
        summary.info("Nothing above the threshold.")
    png = io.BytesIO()
    Image.fromarray(annotated).save(png, "PNG")
    stem = image.name.rsplit(".", 1)[0]
    summary.download_button("Annotated PNG", png.getvalue(), f"{stem}_detections.png", "image/png", key=f"png_{image.name}")
    payload = json.dumps({"image": image.name, **result.to_dict()}, indent=2)
    summary.download_button("Detections JSON", payload, f"{stem}_detections.json", "application/json", key=f"json_{image.name}")
