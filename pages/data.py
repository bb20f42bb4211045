"""/data: what the models were trained and evaluated on, from assets/eda (python -m training.eda)."""

import streamlit as st

from core.evaluation import reports as metrics_files
from core.viz.report_charts import box_counts_figure, box_size_figure, class_counts_figure


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
    if st.button("Draw new augmentations", key="augment"):
        st.session_state["augment_seed"] = st.session_state.get("augment_seed", 0) + 1
    seed = st.session_state.get("augment_seed", 0)
    if seed == 0:
        st.image(str(folder / report["images"]["augmented"]), caption="Each row: a training image, then five augmentations")
    else:
        st.image(augmented(seed), caption=f"Each row: a training image, then five augmentations (draw {seed})")


@st.cache_data(show_spinner="Augmenting a few training images…")
def augmented(seed: int):
    from training.cifar10 import load_cifar10
    from training.eda import augmentation_grid

    return augmentation_grid(load_cifar10(limit_per_class=50).train, seed=seed)


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
