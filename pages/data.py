"""/data: what the models were trained and evaluated on, from assets/eda (python -m training.eda)."""

import numpy as np
import streamlit as st

from core import config
from core.evaluation import reports as metrics_files
from core.io.datasets import CIFAR10_BATCHES, CIFAR10_FOLDERS, local_cifar10_train
from core.viz.grids import augmentation_grid
from core.viz.report_charts import box_counts_figure, box_size_figure, class_counts_figure
from pages.widgets import use_app_navigation

PREVIEW_IMAGES_PER_CLASS = 50  # the preview picks from these (a few hundred images load in a second)


def findings(report: dict) -> None:
    st.markdown("\n".join(f"- {line}" for line in report["findings"]))


def cifar10(report: dict) -> None:
    st.subheader("CIFAR-10")
    st.caption(report["dataset"])
    findings(report)
    st.plotly_chart(class_counts_figure(report), key="class_counts")
    folder = metrics_files.EDA_DIR
    st.image(str(folder / report["images"]["samples"]), caption="Ten random training images per class")
    st.markdown("**Augmentation**: what the CNN's training sees (flips, ±2 px shifts, ±4° rotations, colour jitter)")
    augmentation_preview(str(folder / report["images"]["augmented"]))


def new_draw() -> None:
    """The button's callback. This session's own generator picks the seed, and the augmentation is
    seeded from it alone: no global seed of the process every user shares is reset. A callback runs
    before the script does, so a press still counts when that run is rerun from its first line."""
    generator = st.session_state.setdefault("augment_generator", np.random.default_rng())
    st.session_state["augment_draws"] = st.session_state.get("augment_draws", 0) + 1
    st.session_state["augment_seed"] = int(generator.integers(1, 2**31))


def augmentation_preview(committed: str) -> None:
    """The committed grid, or a new draw of the augmentation after each press of the button."""
    st.button("Draw new augmentations", key="augment", on_click=new_draw)
    draws = st.session_state.get("augment_draws", 0)
    folder = str(config.data_dir())
    sample = preview_sample(folder) if draws else None
    if draws and sample is None:
        st.info(f"New draws need the CIFAR-10 training images on this machine, and none are here: set "
                f"{config.DATA_ENV} to a folder holding {CIFAR10_BATCHES}/ or {CIFAR10_FOLDERS}/train/ (this page "
                "never downloads them). The committed grid is shown instead.")
    if sample is None:
        st.image(committed, caption="Each row: a training image, then five augmentations")
    else:
        st.image(augmented(st.session_state["augment_seed"], folder, sample),
                 caption=f"Each row: a training image, then five augmentations (draw {draws})")


@st.cache_data(show_spinner="Reading a few training images…")
def preview_sample(data_folder: str):
    """Training images to draw from, or None without a local copy; `data_folder` (the value of
    VISION_DATA_DIR) keys the cache, so a changed folder is read again."""
    return local_cifar10_train(PREVIEW_IMAGES_PER_CLASS)


@st.cache_data(show_spinner="Augmenting a few training images…", max_entries=16)
def augmented(seed: int, data_folder: str, _sample):
    """A grid of new draws; the seed and the data folder key the cache (the sample is not hashed)."""
    return augmentation_grid(_sample, seed=seed)


def coco128(report: dict) -> None:
    st.subheader("coco128 (detector evaluation)")
    st.caption(report["dataset"])
    findings(report)
    left, right = st.columns(2)
    left.plotly_chart(box_counts_figure(report), key="box_counts")
    right.plotly_chart(box_size_figure(report), key="box_sizes")
    sizes = report["image_sizes"]
    st.caption(f"Image widths {sizes['width']['min']}-{sizes['width']['max']} px (median {sizes['width']['median']:.0f}), "
               f"heights {sizes['height']['min']}-{sizes['height']['max']} px.")


use_app_navigation()
st.title("Data")
st.caption(f"Dataset reports from assets/eda, written by `{metrics_files.EDA_COMMAND}`.")
reports = metrics_files.load_eda()
if not reports:
    st.warning(f"No dataset reports in {metrics_files.EDA_DIR.name}/. Run `{metrics_files.EDA_COMMAND}` to create them.")
    st.stop()
if "cifar10" in reports:
    cifar10(reports["cifar10"])
if "coco128" in reports:
    coco128(reports["coco128"])
