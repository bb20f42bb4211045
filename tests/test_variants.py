"""Optimised variants: registered for every model, built from their source, agreeing with it on real
photos, saying what they were made from, and failing clearly without their source or calibration."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core import get_model, service
from core.config import METRICS_DIR, MODELS_DIR
from core.errors import InvalidOptionError, WeightsDamagedError, WeightsNotFoundError
from core.explain.base import map_correlation
from core.models import runtimes
from core.models.registry import VARIANTS, get_spec, model_names
from core.models.variants import load_variant, variant_sidecar
from core.models.yolo_onnx import box_iou

SOURCES = model_names(variants=False)
INT8 = [f"{name}-int8" for name in SOURCES]


def test_every_model_has_its_int8_variant_with_the_same_task_labels_and_geometry():
    assert set(VARIANTS) == {"int8"}
    assert model_names() == SOURCES + INT8 and "yolov8n" in SOURCES
    for name in SOURCES:
        source, variant = get_spec(name), get_spec(f"{name}-int8")
        assert (variant.variant_of, variant.variant) == (name, "int8") and source.variant_of is None
        for field in ("task", "input_size", "num_classes", "labels", "resize", "crop_fraction", "dataset", "weights"):
            assert getattr(variant, field) == getattr(source, field), field


def _same_top1(name: str, photos) -> None:
    variant, source = get_model(name), get_model(get_spec(name).variant_of)
    for stem in ("dog", "cat", "bus"):
        assert variant.predict(photos[stem]).top.label == source.predict(photos[stem]).top.label, stem


def _matched_detections(name: str, photos) -> None:
    variant, source = get_model(name), get_model(get_spec(name).variant_of)
    for stem in ("bus", "dog"):
        ours, theirs = variant.predict(photos[stem]).detections, source.predict(photos[stem]).detections
        assert theirs and ours
        matched = [any(o.label == t.label and box_iou(np.array([o.box]), np.array(t.box))[0] >= 0.5 for o in ours)
                   for t in theirs]
        assert np.mean(matched) >= 0.75, (stem, [t.label for t in theirs], [o.label for o in ours])


def test_the_cnns_int8_variant_agrees_with_it_and_names_its_source(weights_dir, data_dir, photos):
    _same_top1("cifar10_cnn-int8", photos)
    model, source = get_model("cifar10_cnn-int8"), get_model("cifar10_cnn")
    made = variant_sidecar(model)
    assert made["variant_of"] == "cifar10_cnn" and made["source_version"] == source.version
    assert made["calibration"]["images"] == 300 and "training images" in made["calibration"]["description"]
    assert model.served_file.suffix == ".tflite" and model.served_file.stat().st_size < source.served_file.stat().st_size / 3
    result = service.predict("cifar10_cnn-int8", photos["dog"])
    assert result.version == model.version != source.version and np.isclose(result.probabilities.sum(), 1, atol=0.02)


@pytest.mark.slow
@pytest.mark.parametrize("name", [name for name in INT8 if name != "cifar10_cnn-int8"])
def test_every_variant_loads_and_agrees_with_its_source_on_real_photos(name, weights_dir, data_dir, photos):
    if get_spec(name).task == "classify":
        _same_top1(name, photos)
    else:
        _matched_detections(name, photos)
    assert variant_sidecar(get_model(name))["variant_of"] == get_spec(name).variant_of


def test_an_int8_classifier_is_explained_by_score_cam_alone(weights_dir, data_dir, photos):
    assert service.methods("cifar10_cnn-int8") == {"scorecam": "Score-CAM"}
    assert service.methods("yolo11n-int8") == {"eigencam": "EigenCAM"}
    with pytest.raises(InvalidOptionError, match="supports scorecam, not 'gradcam' .*no gradients"):
        service.explain("cifar10_cnn-int8", photos["dog"], "gradcam")
    ours = service.explain("cifar10_cnn-int8", photos["dog"], target="dog")
    theirs = service.explain("cifar10_cnn", photos["dog"], "scorecam", target="dog")
    assert ours.method == "scorecam" and "masks from cifar10_cnn's feature maps" in ours.note
    assert ours.heatmap.shape == theirs.heatmap.shape and map_correlation(ours.heatmap, theirs.heatmap) > 0.9


def test_without_calibration_images_a_variant_names_what_it_needs(weights_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("VISION_DATA_DIR", str(tmp_path))  # an empty data folder
    with pytest.raises(WeightsNotFoundError) as error:
        load_variant(get_spec("mobilenet_v2-int8"), get_model("mobilenet_v2"))
    message = str(error.value)
    assert "built from mobilenet_v2" in message and "coco128/" in message and "VISION_DATA_DIR" in message


def test_a_damaged_source_fails_its_variant_with_the_sources_message(weights_dir, data_dir, tmp_path):
    damaged = tmp_path / "cifar10_cnn.keras"
    damaged.write_bytes((MODELS_DIR / "cifar10_cnn.keras").read_bytes()[:30_000])
    with pytest.raises(WeightsDamagedError, match="not a complete Keras file"):
        get_model("cifar10_cnn-int8", str(damaged))


def test_a_models_exports_never_remove_another_models_with_the_same_prefix(tmp_path, monkeypatch):
    """'mobilenet_v2-…' exports are replaced when mobilenet_v2's weights change; 'mobilenet_v2-int8-…'
    files belong to another model and stay."""
    monkeypatch.setenv(runtimes.CACHE_ENV, str(tmp_path))
    weights = tmp_path / "w.h5"
    weights.write_bytes(b"one")
    variant = runtimes.cached_export("m-int8", weights, ".x", lambda target: target.write_text("int8"), key="abcd")
    first = runtimes.cached_export("m", weights, ".x", lambda target: target.write_text("fp32"))
    weights.write_bytes(b"two")
    second = runtimes.cached_export("m", weights, ".x", lambda target: target.write_text("fp32"))
    assert variant.exists() and second.exists() and not first.exists()


@pytest.mark.parametrize("values, scale, zero_point, dtype", [
    ([0.0, 1.0, 254.6, 255.0, 300.0], 1.0, 0, np.uint8),
    ([-1.0, 0.0, 0.5, 1.0], 1 / 127.5, 0, np.int8),
])
def test_tflite_inputs_are_quantised_and_outputs_dequantised_by_their_parameters(values, scale, zero_point, dtype):
    detail = {"dtype": dtype, "quantization": (scale, zero_point)}
    quantised = runtimes._quantised(np.array(values, np.float32), detail)
    limits = np.iinfo(dtype)
    assert quantised.dtype == dtype and quantised.min() >= limits.min and quantised.max() <= limits.max
    back = runtimes._dequantised(quantised, detail)
    inside = (np.array(values) >= (limits.min - zero_point) * scale) & (np.array(values) <= (limits.max - zero_point) * scale)
    assert np.allclose(back[inside], np.array(values)[inside], atol=scale / 2 + 1e-6)


@pytest.mark.parametrize("name", INT8)
def test_committed_variant_metrics_compare_with_the_source_measured_in_the_same_run(name):
    data = json.loads((METRICS_DIR / f"{name}.json").read_text())  # python -m training.optimise writes it
    variant = data["variant"]
    assert variant["of"] == get_spec(name).variant_of and data["provenance"]["source_model_sha256"]
    assert variant["size_bytes"] < variant["source_size_bytes"]
    assert 0 < variant["latency_p50_ms"] and 0 < variant["source_latency_p50_ms"]
    assert np.isclose(variant["latency_ratio"], variant["latency_p50_ms"] / variant["source_latency_p50_ms"], atol=2e-3)
    drift = variant["explanation_drift"]
    assert drift["images"] >= 50 and drift["method"] == ("scorecam" if get_spec(name).task == "classify" else "eigencam")
    assert -1 <= drift["mean_correlation"] <= 1 and 0 <= drift["mean_peak_distance"] <= 1
    quality = data.get("classification") or data["detection"]
    if "accuracy_change_points" in variant:
        change = 100 * (quality["accuracy"] - variant["source_accuracy"])
        assert np.isclose(variant["accuracy_change_points"], change, atol=1e-3)
    else:
        assert np.isclose(variant["map50_95_change"], quality["map50_95"] - variant["source_map50_95"], atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("name", [name for name in INT8 if get_spec(name).dataset.startswith("CIFAR")])
def test_cifar_variant_figures_hold_on_a_slice_of_the_test_set(name, data_dir):
    """The first 100 test images of each class: accuracy and agreement with the source within 2
    points of what the committed metrics file says of all 10,000."""
    from training.cifar10 import load_cifar10_test

    test, _ = load_cifar10_test(limit_per_class=100)
    data = json.loads((METRICS_DIR / f"{name}.json").read_text())
    variant, source = get_model(name), get_model(get_spec(name).variant_of)
    pixels = np.stack([variant.model_input(image) for image in test.images])
    ours = variant.probabilities(pixels).argmax(1)
    theirs = np.concatenate([source.probabilities(pixels[i : i + 250]).argmax(1) for i in range(0, len(pixels), 250)])
    assert abs(float(np.mean(ours == test.labels)) - data["classification"]["accuracy"]) <= 0.02
    assert float(np.mean(ours == theirs)) >= data["variant"]["agreement_top1"] - 0.02
