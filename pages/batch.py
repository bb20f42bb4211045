"""/batch: many images, or zip files of them, through the chosen models into one table (the same
runner as `python -m core batch`)."""

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from core.batch import runner
from core.batch.inputs import IMAGE_SUFFIXES
from core.batch.table import convert
from core.errors import VisionError
from core.models.registry import model_names
from core.viz.charts import label_counts_figure
from pages.widgets import use_app_navigation

RESULT = "batch_result"
SHOWN = ["image", "model", "top1_label", "top1_score", "true_label", "latency_ms", "width", "height", "error"]


def run(files, models: list[str]) -> tuple[pd.DataFrame, bytes, bytes]:
    """Save the uploads in a temporary folder, run the batch runner over them with a progress bar;
    its rows (image names as uploaded), and the output as parquet and CSV."""
    bar = st.progress(0.0, text="Starting…")
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for number, upload in enumerate(files):
            path = Path(folder) / "uploads" / str(number) / Path(upload.name).name  # each in its own folder: no clash
            path.parent.mkdir(parents=True)
            path.write_bytes(upload.getvalue())
            paths.append(str(path))

        def progress(handled: int, total: int, rows) -> None:
            bar.progress(handled / max(total, 1), text=f"{handled:,} of {total:,} images")

        summary = runner.run(paths, models, Path(folder) / "results.parquet", progress=progress)
        uploads = f"{folder}/uploads/"
        table = pd.read_parquet(summary.output)
        table["image"] = [name.removeprefix(uploads).split("/", 1)[1] for name in table["image"]]
        table.to_parquet(summary.output, index=False)  # the downloads name images as uploaded too
        csv = convert(summary.output, Path(folder) / "results.csv").read_bytes()
        parquet = summary.output.read_bytes()
    bar.progress(1.0, text=f"{summary.images:,} images in {summary.seconds:.1f} s ({summary.images_per_s:.1f} per s)")
    return table, parquet, csv


def results(table: pd.DataFrame, parquet: bytes, csv: bytes) -> None:
    errors = int(table["error"].notna().sum())
    st.subheader(f"{len(table):,} rows" + (f", {errors} with an error" if errors else ""))
    st.dataframe(table[SHOWN], hide_index=True, placeholder="")
    counts = table[table["error"].isna()].groupby(["model", "top1_label"]).size().rename("images").reset_index()
    left, right = st.columns([1, 2])
    left.dataframe(counts.sort_values(["model", "images"], ascending=[True, False]), hide_index=True)
    right.plotly_chart(label_counts_figure(table), key="batch_counts")
    first, second = st.columns(2)
    first.download_button("Download CSV", csv, "batch.csv", "text/csv")
    second.download_button("Download parquet", parquet, "batch.parquet", "application/octet-stream")


use_app_navigation()
st.title("Batch")
st.caption("Many images, or zip files of them, through each chosen model: one row per image and model, with a "
           "download. A zip laid out as one folder per class adds each image's true label. For folders of thousands "
           "of images use `python -m core batch` (resumable, and on Ray).")
files = st.file_uploader("Images or zip files", accept_multiple_files=True, key="batch_files",
                         type=sorted(suffix.lstrip(".") for suffix in IMAGE_SUFFIXES | {".zip"}))
classifiers = model_names("classify")
models = st.multiselect("Models", model_names(), default=classifiers[:1])
if st.button("Run", type="primary", disabled=not files or not models):
    try:
        st.session_state[RESULT] = run(files, models)
    except VisionError as error:
        st.error(str(error))
if RESULT in st.session_state:
    results(*st.session_state[RESULT])
elif not files:
    st.info("Upload images or a zip file to start.")
