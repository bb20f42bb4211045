"""Every page, run for real by Streamlit's AppTest with the real models."""

from __future__ import annotations

import ast
import json
import random
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core import REGISTRY
from core.models.registry import model_names
from core.models.weights import PROJECT_ROOT

TIMEOUT = 240  # the first run on a fresh process loads the frameworks and models


def page(path: str) -> AppTest:
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=TIMEOUT)
    at.run()
    at.switch_page(path)
    return at.run()


def model_reports(folder: Path) -> list[Path]:
    """The metrics files that are a model's evaluation (not its robustness or faithfulness files)."""
    from core.evaluation.reports import NOT_REPORTS

    return [path for path in sorted(folder.glob("*.json")) if not path.name.endswith(NOT_REPORTS)]


def texts(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown) + "\n" + "\n".join(c.value for c in at.caption)


def upload(at: AppTest, *files: tuple[str, bytes]) -> AppTest:
    """Files dropped on the page's uploader, which is there on arrival (no click first)."""
    at.file_uploader[0].set_value([(name, data, "application/octet-stream") for name, data in files])
    return at.run()


def test_home_lists_the_registry_and_links_each_page():
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.dataframe[0].value["model"].tolist() == list(REGISTRY)
    pages = set(re.findall(r'st\.Page\("(pages/\w+\.py)"', (PROJECT_ROOT / "app.py").read_text()))
    linked = set(re.findall(r'page_link\("(pages/\w+\.py)"', (PROJECT_ROOT / "pages" / "home.py").read_text()))
    assert linked == pages - {"pages/home.py"}  # a page added to the app is linked from home too


def test_predict_with_a_sample(weights_dir, photos):
    at = page("pages/predict.py")
    assert not at.exception
    assert "tabby" in texts(at) or "Egyptian_cat" in texts(at) or "tiger_cat" in texts(at)


@pytest.mark.slow
def test_predict_dog_shows_a_breed(weights_dir, data_dir):
    at = page("pages/predict.py")
    at.selectbox(key="predict_sample").set_value("dog (VISION_DATA_DIR)").run()
    assert not at.exception
    assert "## Samoyed" in texts(at)


def test_predict_upload_with_one_bad_file(weights_dir, photo_paths):
    at = page("pages/predict.py")
    at = upload(at, ("dog.jpg", photo_paths["dog"].read_bytes()), ("broken.png", b"\x89PNG not really"),
                ("bus.jpg", photo_paths["bus"].read_bytes()))
    assert not at.exception
    assert len(at.error) == 1 and "broken.png" in at.error[0].value and "not an image" in at.error[0].value
    assert "## Samoyed" in texts(at) and "## minibus" in texts(at)
    table = at.dataframe[0].value
    assert set(table["image"]) == {"dog.jpg", "bus.jpg"}


def test_detect_bus_lists_bus_and_people(weights_dir):
    at = page("pages/detect.py")
    assert not at.exception
    counts = at.dataframe[0].value
    assert "bus" in counts.index and counts.loc["person", "count"] >= 3


@pytest.mark.slow
def test_detect_class_filter_and_threshold(weights_dir):
    at = page("pages/detect.py")
    at.multiselect(key="detect_classes").set_value(["bus"]).run()
    assert list(at.dataframe[0].value.index) == ["bus"]
    at.multiselect(key="detect_classes").set_value([]).run()
    at.slider(key="detect_conf").set_value(0.95).run()  # confidence: nothing on bus.jpg is that sure
    assert not at.exception and any("Nothing above the threshold" in i.value for i in at.info)


@pytest.mark.slow
def test_detect_bad_upload_is_an_error_not_an_exception(weights_dir):
    at = page("pages/detect.py")
    at = upload(at, ("empty.jpg", b""))
    assert not at.exception
    assert "empty.jpg" in at.error[0].value and "empty" in at.error[0].value


@pytest.mark.parametrize("sample, common", [("dog (VISION_DATA_DIR)", "dog"), ("cat (scikit-image)", "cat")])
def test_compare_maps_models_onto_common_classes(weights_dir, data_dir, sample, common):
    at = page("pages/compare.py")
    at.selectbox(key="compare_sample").set_value(sample).run()
    assert not at.exception
    votes = at.dataframe[0].value
    assert list(votes["model"]) == model_names(variants=False)  # the variants are offered, not shown by default
    assert (votes["common class"] == common).sum() >= 2  # the ImageNet classifier and a detector
    mapped = {label for label in votes["common class"] if not label.startswith("—")}
    if mapped == {common}:
        assert any(common in s.value for s in at.success)
    else:  # yolov8n calls the Samoyed a cat (0.50): the page says they disagree
        assert any("disagree" in w.value for w in at.warning), mapped


@pytest.mark.slow
def test_moving_a_slider_reuses_the_cached_result(weights_dir):
    """A warm rerun must not run the model again: the reported latency (a fresh timing on every
    real inference) stays exactly the same."""
    at = page("pages/predict.py")
    before = [c.value for c in at.caption if " ms" in c.value]
    at.slider[0].set_value(3).run()
    assert not at.exception and len(at.get("plotly_chart")) >= 1
    assert [c.value for c in at.caption if " ms" in c.value] == before


def test_explain_compares_a_model_with_its_int8_variant(weights_dir, data_dir):
    at = page("pages/explain.py")
    at.radio(key="explain_view").set_value("Compare with int8").run()
    at.selectbox(key="explain_int8_model").set_value("cifar10_cnn").run()
    assert not at.exception and "**cifar10_cnn**" in texts(at) and "**cifar10_cnn-int8**" in texts(at)
    shown = {m.label: m.value for m in at.metric}
    assert -1 <= float(shown["Correlation of the two maps"]) <= 1 and shown["Distance between their peaks"].endswith("%")
    assert "masks from cifar10_cnn's feature maps" in texts(at)


@pytest.mark.slow
def test_explain_renders_and_switches_method_and_target(weights_dir):
    at = page("pages/explain.py")
    assert not at.exception
    assert at.selectbox(key="explain_model").value == "mobilenet_v2"
    assert len(at.get("image")) == 3 and len(at.get("plotly_chart")) == 1  # the faithfulness curves
    assert "deletion AUC" in texts(at) and "for random maps" in texts(at)
    first_target = at.selectbox(key="explain_target").value
    at.selectbox(key="explain_method_mobilenet_v2").set_value("scorecam").run()
    assert not at.exception and "most active channels" in texts(at)
    second = at.selectbox(key="explain_target").options[1]
    at.selectbox(key="explain_target").set_value(second).run()
    assert not at.exception and at.selectbox(key="explain_target").value != first_target
    assert second.split(" (")[0] in texts(at)  # the overlay's caption names the new target
    at.radio(key="explain_view").set_value("Compare methods").run()
    assert not at.exception and all(f"**{m}**" in texts(at) for m in ("Grad-CAM", "Grad-CAM++", "Score-CAM"))
    assert len(at.get("plotly_chart")) == 3  # a chart under each method's overlay


@pytest.mark.slow
def test_explain_detector_box_and_comparison_views(weights_dir):
    at = page("pages/explain.py")
    at.selectbox(key="explain_sample").set_value("bus (Ultralytics)").run()
    at.selectbox(key="explain_model").set_value("yolo11n").run()
    assert not at.exception
    boxes = at.selectbox(key="explain_box").options
    assert boxes[0] == "all detections" and any("bus" in b for b in boxes)
    bus = next(i for i, b in enumerate(boxes) if "bus" in b) - 1  # options show labels; values are box indices
    at.selectbox(key="explain_box").set_value(bus).run()
    assert not at.exception and "restricted to the chosen box" in texts(at)
    at.radio(key="explain_view").set_value("Compare models").run()
    assert not at.exception
    assert all(name in texts(at) for name in model_names("classify", variants=False))


@pytest.mark.slow
def test_dashboard_shows_the_json_figures(weights_dir, data_dir):
    at = page("pages/dashboard.py")
    assert not at.exception and not at.warning  # every committed report matches its model
    table = at.dataframe[0].value.set_index("model")
    metrics = PROJECT_ROOT / "assets" / "metrics"
    for path in model_reports(metrics):
        report = json.loads(path.read_text())
        if report["task"] == "classify":
            assert table.loc[report["model"], "accuracy"] == report["classification"]["accuracy"]
        else:
            assert table.loc[report["model"], "mAP50-95"] == report["detection"]["map50_95"]
    cnn = json.loads((metrics / "cifar10_cnn.json").read_text())["classification"]["misclassified"]
    true, predicted = at.selectbox(key="cell_true").value, at.selectbox(key="cell_predicted").value
    assert f"{len(cnn.get(f'{true},{predicted}', []))} test images" in texts(at)
    at.selectbox(key="cell_true").set_value(0).run()
    at.selectbox(key="cell_predicted").set_value(8).run()
    shown = min(12, len(cnn.get("0,8", [])))
    assert not at.exception and f"{len(cnn.get('0,8', []))} test images" in texts(at)
    assert len(at.get("image")) == shown and not at.toggle(key="gallery_answers").value  # the images alone
    at.toggle(key="gallery_answers").set_value(True).run()
    assert not at.exception and len(at.get("image")) == 2 * shown  # each image and its Grad-CAM pair (true, predicted)
    top_3 = re.compile(r"(cifar10_cnn|mobilenet_v2_cifar10): (\w+ \d+%, ){2}\w+ \d+%")
    assert sum(bool(top_3.fullmatch(c.value)) for c in at.caption) == 2 * shown  # each model's top 3, per image


NO_MODEL_RENDER = """
import json
from streamlit.testing.v1 import AppTest
from core import REGISTRY
from core.models.loading import is_loaded
at = AppTest.from_file("app.py", default_timeout=240).run()
home = [name for name in REGISTRY if is_loaded(name)]
at.switch_page("pages/dashboard.py").run()
print(json.dumps({"exception": [e.value for e in at.exception], "tables": len(at.dataframe), "home": home,
                  "dashboard": [name for name in REGISTRY if is_loaded(name)]}))
"""


@pytest.mark.slow
def test_dashboard_first_render_loads_no_model(weights_dir, data_dir):
    """A fresh process renders /dashboard (table, charts, the gallery's images) and loads no model: the
    gallery runs them only when its toggle is on. Its own process, as other tests here load models."""
    done = subprocess.run([sys.executable, "-c", NO_MODEL_RENDER], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # the summary, the variants, the study, the corruption and the adversarial benchmarks
    assert result == {"exception": [], "tables": 5, "home": [], "dashboard": []}


def test_dashboard_table_leaves_missing_values_empty(weights_dir):
    """mAP of a classifier, accuracy of the detector: missing values (not the text "None" or "nan"),
    and the table's placeholder draws them as empty cells instead of Streamlit's grey None."""
    frame = page("pages/dashboard.py").dataframe[0]  # the summary table
    assert frame.proto.placeholder == ""
    table = frame.value.set_index("model")
    assert table.loc[["cifar10_cnn", "mobilenet_v2"], ["mAP50", "mAP50-95"]].isna().all().all()
    assert table.loc["yolo11n", ["accuracy", "top-5", "macro-F1", "ECE", "training (min)"]].isna().all()
    assert table.loc["cifar10_cnn", ["accuracy", "mAP50"]].notna().tolist() == [True, False]
    assert not table.select_dtypes(exclude="number").astype(str).isin(["None", "nan", "NaN", "<NA>"]).any().any()


@pytest.mark.slow
def test_dashboard_says_when_a_metrics_file_lacks_its_test_set(weights_dir, data_dir, tmp_path, monkeypatch):
    from core.evaluation import reports

    for path in model_reports(PROJECT_ROOT / "assets" / "metrics"):  # as written before test_set was recorded
        report = {key: value for key, value in json.loads(path.read_text()).items() if key != "test_set"}
        (tmp_path / path.name).write_text(json.dumps(report))
    monkeypatch.setattr(reports, "METRICS_DIR", tmp_path)
    at = page("pages/dashboard.py")
    assert not at.exception and not at.get("image")
    assert any("does not record which images" in i.value and "--model cifar10_cnn" in i.value for i in at.info)


def test_dashboard_without_artifacts_says_which_command(tmp_path, monkeypatch):
    from core.evaluation import reports

    monkeypatch.setattr(reports, "METRICS_DIR", tmp_path / "metrics")
    at = page("pages/dashboard.py")
    assert not at.exception and "python -m training.evaluate" in at.warning[0].value


def test_dashboard_shows_model_cards_and_the_tuning_study(weights_dir):
    import pandas as pd

    at = page("pages/dashboard.py")
    cards = [m.value for m in at.markdown if m.value.startswith("# Model card")]
    assert len(cards) == 1 and cards[0].startswith("# Model card: cifar10_cnn") and "## Intended use" in cards[0]
    at.radio(key="card_model").set_value("mobilenet_v2_cifar10").run()
    [card] = [m.value for m in at.markdown if m.value.startswith("# Model card")]
    assert card.startswith("# Model card: mobilenet_v2_cifar10") and "ImageNet starting weights" in card
    study = pd.read_csv(PROJECT_ROOT / "assets" / "metrics" / "cifar10_cnn_tuning.csv")
    trials = next(frame.value for frame in at.dataframe if "val_accuracy" in frame.value)  # the study's table
    assert len(trials) == len(study) >= 20 and trials.iloc[0]["val_accuracy"] == study["val_accuracy"].max()


def test_dashboard_without_a_study_says_which_command(tmp_path, monkeypatch):
    from core.evaluation import reports

    for path in (PROJECT_ROOT / "assets" / "metrics").glob("*.json"):
        (tmp_path / path.name).write_text(path.read_text())
    monkeypatch.setattr(reports, "METRICS_DIR", tmp_path)
    at = page("pages/dashboard.py")
    assert not at.exception and any("python -m training.tune" in i.value for i in at.info)


def test_batch_page_waits_for_files_with_run_disabled(weights_dir):
    at = page("pages/batch.py")
    assert not at.exception and at.info[0].value == "Upload images or a zip file to start."
    assert at.button[0].disabled and at.multiselect[0].value == ["mobilenet_v2"]  # the first classifier


def test_data_page_shows_the_reports(weights_dir):
    at = page("pages/data.py")
    assert not at.exception
    assert "Balanced" in texts(at) and "small (under 32x32 pixels)" in texts(at)
    assert len(at.get("plotly_chart")) == 3


@pytest.mark.slow
def test_data_page_draws_new_augmentations_without_touching_global_seeds(data_dir):
    at = page("pages/data.py")
    committed = at.get("image")[-1].proto.imgs[0].url
    random.seed(5)
    np.random.seed(5)
    python_state, numpy_state = random.getstate(), np.random.get_state()[1].copy()
    first = at.button(key="augment").click().run().get("image")[-1].proto.imgs[0].url
    at.button(key="augment").click().run()
    assert not at.exception and at.get("image")[-1].proto.imgs[0].caption.endswith("(draw 2)")
    assert len({committed, first, at.get("image")[-1].proto.imgs[0].url}) == 3  # each press is a new grid
    assert random.getstate() == python_state and np.array_equal(np.random.get_state()[1], numpy_state)


@pytest.mark.slow
@pytest.mark.parametrize("data", ["unset", "without CIFAR-10"])
def test_data_page_without_local_cifar10_says_so(tmp_path, monkeypatch, data):
    """No download, whatever VISION_OFFLINE says: a message, and the committed grid stays."""
    monkeypatch.delenv("VISION_OFFLINE", raising=False)
    if data == "unset":
        monkeypatch.delenv("VISION_DATA_DIR", raising=False)
    else:
        monkeypatch.setenv("VISION_DATA_DIR", str(tmp_path))
    at = page("pages/data.py")
    assert not at.button(key="augment").click().run().exception
    assert any("VISION_DATA_DIR" in i.value and "never downloads" in i.value for i in at.info)
    assert "(draw" not in at.get("image")[-1].proto.imgs[0].caption  # the committed grid


@pytest.mark.slow
def test_webcam_snapshot_detects_and_classifies(weights_dir, photo_paths):
    """AppTest's camera widget takes the photo, so this runs the page's own snapshot path."""
    at = page("pages/webcam.py")
    assert not at.exception and at.selectbox(key="webcam_model").value == "yolo11n"
    at.camera_input(key="webcam_snapshot").set_value(("bus.jpg", photo_paths["bus"].read_bytes(), "image/jpeg")).run()
    assert not at.exception and "bus ×1" in texts(at) and "`None`" not in texts(at)
    at.selectbox(key="webcam_model").set_value("mobilenet_v2").run()
    assert not at.exception and "## minibus" in texts(at) and not at.get("image")
    at.toggle(key="webcam_gradcam").set_value(True).run()
    assert not at.exception and len(at.get("image")) == 1  # the Grad-CAM overlay


def _magic_expressions(path: Path) -> list[str]:
    """Script-level expression statements Streamlit's magic would write: all but calls and the docstring."""
    module = ast.parse(path.read_text())
    has_docstring = ast.get_docstring(module) is not None
    found, pending = [], module.body[1:] if has_docstring else list(module.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue  # magic rewrites the script's own statements only
        if isinstance(node, ast.Expr) and not isinstance(node.value, ast.Call):
            found.append(f"{path.name}:{node.lineno}")
        pending.extend(child for child in ast.iter_child_nodes(node) if isinstance(child, ast.stmt))
    return found


def test_no_page_prints_a_stray_value():
    """`a() if c else b()` on its own line shows `None` on the page (the webcam page did)."""
    scripts = [PROJECT_ROOT / "app.py", *sorted((PROJECT_ROOT / "pages").glob("*.py"))]
    assert [hit for script in scripts for hit in _magic_expressions(script)] == []


@pytest.mark.slow
def test_webcam_live_mode_renders_its_controls(weights_dir):
    """AppTest has no WebRTC server side: the page must say so instead of failing (the browser test
    runs live mode for real)."""
    at = page("pages/webcam.py")
    at.radio(key="webcam_mode").set_value("Live").run()
    assert not at.exception and "VISION_ICE_SERVERS" in texts(at)
    assert at.select_slider(key="live_size").value == 320
    assert "Live video cannot start here" in at.error[0].value and "Snapshot mode still works" in at.error[0].value


def test_markdown_looking_file_names_are_shown_as_text(weights_dir, photo_paths):
    """A file name is the user's text, never a link or an image (it used to render as both)."""
    link = "[Click to verify your account](https:evil.example) dog.png"
    picture = "![x](https://evil.example/x.png).png"
    at = page("pages/predict.py")
    at = upload(at, (link, photo_paths["dog"].read_bytes()), (picture, b"not an image"))
    assert not at.exception
    assert [s.value for s in at.subheader] == [r"\[Click to verify your account\]\(https\:evil.example\) dog.png"]
    (error,) = at.error
    assert error.value.startswith(f"`{picture}`: ")  # a code span: Markdown shows what is inside as it is
    assert "## Samoyed" in texts(at)
