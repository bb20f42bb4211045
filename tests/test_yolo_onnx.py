"""YOLO served without PyTorch (core.models.yolo_onnx) gives Ultralytics' answers: on the very same
export through Ultralytics' predictor, and on the PyTorch checkpoint; its NMS follows torchvision's
rule; its feature maps are the PyTorch network's."""

from __future__ import annotations

import numpy as np
import pytest

from core import frameworks
from core.models.detector import UltralyticsYolo
from core.models.registry import get_spec
from core.models.preprocess import letterbox
from core.models.yolo_onnx import OnnxYolo, non_max_suppression


@pytest.fixture(scope="module")
def native(yolo):
    return UltralyticsYolo(get_spec("yolo11n"), yolo.weights)


def _coco_images(data_dir, count: int) -> list[np.ndarray]:
    from core import load_image

    paths = sorted((data_dir / "coco128" / "images" / "train2017").glob("*.jpg"))
    return [load_image(path) for path in paths[:: len(paths) // count][:count]]


@pytest.mark.parametrize("options", [{}, {"conf": 0.1, "iou": 0.5}, {"imgsz": 320}], ids=["defaults", "low conf", "320"])
def test_same_answers_as_ultralytics_predictor_on_the_same_export(yolo, photos, data_dir, options):
    """Our letterbox, box scaling and NMS against Ultralytics' on one ONNX file: only float noise differs."""
    from core.models.runtimes import cached_export, export_onnx

    export = cached_export("yolo11n", yolo.weights, ".onnx", lambda target: export_onnx(yolo.weights, target, 640))
    theirs = frameworks.ultralytics().YOLO(str(export), task="detect")
    images = [photos["bus"], photos["dog"], np.ascontiguousarray(photos["bus"][101:498, 13:624])]
    images += _coco_images(data_dir, 6)
    total = 0
    for image in images:
        ours = yolo.predict(image, **options).detections
        result = theirs.predict(np.ascontiguousarray(image[:, :, ::-1]), verbose=False,
                                **{"conf": 0.25, "iou": 0.7, "imgsz": 640, **options})[0]
        order = np.argsort(-result.boxes.conf.numpy(), kind="stable")
        assert [d.class_id for d in ours] == result.boxes.cls.numpy().astype(int)[order].tolist()
        if ours:
            assert np.abs(np.array([d.score for d in ours]) - result.boxes.conf.numpy()[order]).max() < 1e-5
            assert np.abs(np.array([d.box for d in ours]) - result.boxes.xyxy.numpy()[order]).max() < 0.01
        total += len(ours)
    assert total >= 20  # the comparison saw real detections


def test_close_to_the_pytorch_checkpoint(yolo, native, photos):
    """The export against the PyTorch network (VISION_RUNTIME=native): ONNX Runtime's float noise."""
    for name in ("bus", "dog", "cat"):
        fast, slow = yolo.predict(photos[name]), native.predict(photos[name])
        assert fast.labels() == slow.labels() and len(fast) > 0
        for a, b in zip(fast.detections, slow.detections):
            assert abs(a.score - b.score) < 0.01
            assert np.abs(np.subtract(a.box, b.box)).max() < 2.0  # pixels


def test_feature_maps_are_the_networks_layer_outputs(yolo, native, photos):
    canvas, _ = letterbox(photos["bus"], 640)
    assert list(yolo.feature_layers.items()) == list(native.feature_layers.items()) == \
        [("P3/8", 16), ("P4/16", 19), ("P5/32", 22)]
    for layer, stride in (("P3/8", 8), ("P4/16", 16), ("P5/32", 32)):
        ours, theirs = yolo.feature_map(canvas, layer), native.feature_map(canvas, layer)
        assert ours.shape == theirs.shape and ours.shape[1:] == (640 // stride, 640 // stride)
        assert np.abs(ours - theirs).max() < 1e-3 * np.abs(theirs).max()


def _raw(boxes_xywh, class_scores) -> np.ndarray:
    """A raw YOLO output (4 + classes rows, one column per anchor)."""
    return np.concatenate([np.array(boxes_xywh, np.float32).T, np.array(class_scores, np.float32).T])


@pytest.mark.parametrize("boxes, scores, kept", [
    # two overlapping boxes of one class: the better one stays
    ([[50, 50, 40, 40], [52, 50, 40, 40]], [[0.9, 0], [0.8, 0]], [0]),
    # the same boxes in different classes: both stay (NMS is per class)
    ([[50, 50, 40, 40], [52, 50, 40, 40]], [[0.9, 0], [0, 0.8]], [0, 1]),
    # IoU 0.6 is below the 0.7 threshold: both stay, best first
    ([[50, 50, 40, 40], [60, 50, 40, 40]], [[0.7, 0], [0.9, 0]], [1, 0]),
    # below the confidence threshold: dropped before NMS
    ([[50, 50, 40, 40], [200, 200, 10, 10]], [[0.9, 0], [0.2, 0.1]], [0]),
    # nothing above the threshold
    ([[50, 50, 40, 40]], [[0.1, 0.2]], []),
], ids=["same class", "other class", "below iou", "below conf", "none"])
def test_non_max_suppression_follows_ultralytics(boxes, scores, kept):
    torch = frameworks.torch()
    from ultralytics.utils.nms import non_max_suppression as theirs

    raw = _raw(boxes, scores)
    found, found_scores, found_classes = non_max_suppression(raw, 0.25, 0.7)
    expected = theirs(torch.from_numpy(raw[None]), conf_thres=0.25, iou_thres=0.7)[0].numpy()
    assert np.allclose(found, expected[:, :4]) and np.allclose(found_scores, expected[:, 4])
    assert found_classes.tolist() == expected[:, 5].astype(int).tolist()
    centres = np.array(boxes, np.float32)[:, :2]
    assert [int(np.argmin(np.abs(centres - (b[:2] + b[2:]) / 2).sum(1))) for b in found] == kept


def test_an_export_names_its_feature_layers(yolo):
    assert isinstance(yolo, OnnxYolo)
    assert set(yolo._session.get_outputs()[i].name for i in range(4)) == {"output0", "P3/8", "P4/16", "P5/32"}
