"""The service layer: the one way in for every front end, with real models on real photos."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core import service
from core.errors import (ImageError, InferenceError, InvalidOptionError, ModelConfigError, UnknownModelError,
                         VisionError, WeightsNotFoundError)
from core.models.registry import BUILT_IN, REGISTRY, Registry
from core.models.runtimes import file_digest


def test_results_carry_model_version_vocabulary_and_options(weights_dir, photo_paths):
    classified = service.predict("mobilenet_v2", photo_paths["dog"], top_k=3)
    assert classified.model == "mobilenet_v2" and classified.top.label == "Samoyed"
    assert classified.version == file_digest(service.load("mobilenet_v2").weights)[:12]
    assert len(classified.classes) == 1000 and classified.classes[classified.top.index] == "Samoyed"
    assert classified.options == {"top_k": 3} and len(classified.top_k) == 3
    detected = service.predict("yolo11n", photo_paths["bus"].read_bytes(), conf=0.5)
    assert detected.options == {"conf": 0.5, "iou": 0.7, "imgsz": 640}
    assert "bus" in detected.labels() and detected.classes[0] == "person" and len(detected.classes) == 80
    assert all(d.score >= 0.5 for d in detected.detections)
    assert detected.version == file_digest(service.load("yolo11n").weights)[:12]


def test_defaults_and_clipping(weights_dir):
    assert service.options_for("yolo11n") == {"conf": 0.25, "iou": 0.7, "imgsz": None}
    assert service.options_for("cifar10_cnn") == {"top_k": 5}
    assert service.options_for("cifar10_cnn", top_k=50) == {"top_k": 10}  # no more classes than it has


@pytest.mark.parametrize("name, options, words", [
    ("cifar10_cnn", {"conf": 0.3}, "takes top_k, not conf"),
    ("yolo11n", {"top_k": 3}, "takes conf, iou, imgsz, not top_k"),
    ("cifar10_cnn", {"top_k": 0}, "at least 1"),
    ("cifar10_cnn", {"top_k": 2.5}, "whole number"),
    ("cifar10_cnn", {"top_k": True}, "whole number"),
    ("yolo11n", {"conf": 1.5}, "conf must be a number from 0 to 1"),
    ("yolo11n", {"iou": 0}, "iou must be a number above 0"),
    ("yolo11n", {"conf": "high"}, "not 'high'"),
    ("yolo11n", {"imgsz": 100}, "multiple of 32"),
    ("yolo11n", {"imgsz": 4096}, "multiple of 32 from 32 to 2048"),
])
def test_bad_options_are_named(name, options, words):
    with pytest.raises(InvalidOptionError, match=words):
        service.options_for(name, **options)


def test_each_error_type_for_its_cause(weights_dir, photo_paths, tmp_path):
    with pytest.raises(UnknownModelError, match="Unknown model 'resnet9000'; registered: mobilenet_v2"):
        service.predict("resnet9000", photo_paths["dog"])
    with pytest.raises(ImageError, match="not an image"):
        service.predict("cifar10_cnn", b"plain text, not a picture")
    with pytest.raises(WeightsNotFoundError, match="no.keras"):
        service.load("cifar10_cnn", str(tmp_path / "no.keras"))
    with pytest.raises(InvalidOptionError, match="supports eigencam, not 'gradcam'"):
        service.explain("yolo11n", photo_paths["bus"], "gradcam")
    with pytest.raises(InvalidOptionError, match="use box"):
        service.explain("yolo11n", photo_paths["bus"], target="bus")
    with pytest.raises(InvalidOptionError, match="use target"):
        service.explain("cifar10_cnn", photo_paths["dog"], box=0)
    with pytest.raises(InvalidOptionError, match="not a layer with a spatial output"):
        service.explain("cifar10_cnn", photo_paths["dog"], layer="no_such_layer")


def test_every_error_has_a_status_an_exit_code_and_its_own_code():
    errors = VisionError.__subclasses__()
    assert len(errors) >= 11
    for error in errors:
        assert 400 <= error.http_status < 600 and error.exit_code in (1, 2), error
    assert len({error.code for error in errors}) == len(errors), "two errors share a code"
    assert (ImageError.http_status, UnknownModelError.http_status, WeightsNotFoundError.http_status) == (400, 404, 503)
    assert ImageError("The file is empty.").payload() == {"code": "invalid_image", "message": "The file is empty."}


def test_a_model_failing_on_an_input_is_an_inference_error(weights_dir, photos):
    """A frame the detector cannot take (a one-channel float image made to look valid) fails inside
    the framework; the caller sees one clear error naming the model, the cause chained."""
    model = service.load("yolo11n")
    with pytest.raises(InferenceError, match="YOLO11n .* failed on this image") as error:
        service.guarded("yolo11n", lambda: model.predict(np.zeros((64, 64), np.uint8)))
    assert error.value.__cause__ is not None


def test_predict_many_gives_the_single_image_answers(weights_dir, photos):
    images = [photos["dog"], photos["cat"], photos["bus"]] * 3
    batched = service.predict_many("cifar10_cnn", images, batch_size=4)
    singles = [service.predict("cifar10_cnn", image) for image in images]
    assert [r.top.label for r in batched] == [r.top.label for r in singles]
    assert max(np.abs(a.probabilities - b.probabilities).max() for a, b in zip(batched, singles)) < 1e-4
    detected = service.predict_many("yolo11n", [photos["bus"], photos["dog"]])
    assert "bus" in detected[0].labels() and "dog" in detected[1].labels()


def test_explain_through_the_service(weights_dir, photo_paths):
    result = service.explain("mobilenet_v2", photo_paths["dog"], "gradcam++", target="tennis_ball", faithfulness=False)
    assert result.method == "gradcam++" and result.target.label == "tennis_ball" and result.faithfulness is None
    assert result.version == service.load("mobilenet_v2").version and result.layer == "Conv_1"
    assert list(service.methods("cifar10_cnn")) == ["gradcam", "gradcam++", "scorecam"]
    assert service.layers("mobilenet_v2")[0] == "Conv_1" and service.layers("yolo11n") == ["P5/32", "P4/16", "P3/8"]


def test_list_models_says_where_each_file_is(weights_dir):
    infos = {info.name: info for info in service.list_models()}
    assert list(infos) == list(REGISTRY)
    assert infos["yolo11n"].weights_path == str(weights_dir / "yolo11n.pt")
    assert infos["cifar10_cnn"].weights_path.endswith("models/cifar10_cnn.keras")
    assert [info.name for info in service.list_models("detect")] == ["yolo11n", "yolov8n", "yolo11n-int8", "yolov8n-int8"]
    assert infos["yolo11n-int8"].weights_path == infos["yolo11n"].weights_path  # built from its source's weights
    assert (infos["yolo11n-int8"].runtime, infos["cifar10_cnn-int8"].runtime) == ("onnxruntime", "tflite")
    assert json.dumps(infos["mobilenet_v2"].to_dict())


def test_a_broken_sidecar_disables_only_its_model(tmp_path):
    (tmp_path / "good.json").write_text(json.dumps({"name": "good", "labels": ["a", "b"], "input_size": 32}))
    (tmp_path / "truncated.json").write_text('{"name": "truncated", "labels": ["a"')
    (tmp_path / "no_labels.json").write_text(json.dumps({"name": "no_labels", "input_size": 32}))
    registry = Registry(BUILT_IN, tmp_path)
    assert [name for name in registry if not registry[name].variant_of] == ["mobilenet_v2", "yolo11n", "yolov8n", "good"]
    assert registry["good-int8"].variant_of == "good" and "truncated" not in registry
    with pytest.raises(ModelConfigError, match=r"truncated\.json: cannot be read") as error:
        registry["truncated"]
    assert str(tmp_path) in str(error.value)
    with pytest.raises(ModelConfigError, match=r"no_labels\.json: a model sidecar needs name, labels and input_size"):
        registry["no_labels"]
    assert set(registry.broken()) == {"truncated", "no_labels"} and registry["good"].num_classes == 2


def test_importing_the_registry_reads_no_sidecar(tmp_path):
    registry = Registry(BUILT_IN, tmp_path)
    (tmp_path / "late.json").write_text(json.dumps({"name": "late", "labels": ["a"], "input_size": 32}))
    assert "late" in registry  # written after the registry was made, read on first use
    (tmp_path / "later.json").write_text(json.dumps({"name": "later", "labels": ["a"], "input_size": 32}))
    assert "later" not in registry
    registry.reload()
    assert "later" in registry
