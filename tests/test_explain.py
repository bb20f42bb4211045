"""Explanations on real weights and photos: every method on every classifier, EigenCAM on YOLO, and
the sanity checks (target changes the map, pointing game, faithfulness beats random)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core import frameworks, get_model
from core.cli import main as cli
from core.explain.eigencam import eigencam, orient
from core.explain.methods import explain, methods_for
from core.models.preprocess import letterbox
from core.models.registry import model_names

CLASSIFIERS = model_names("classify", variants=False)  # int8 variants have no explanations
CLASSIFIER_METHODS = methods_for("classify")


def _inside(point, box) -> bool:
    x, y = point
    return box[0] <= x <= box[2] and box[1] <= y <= box[3]


@pytest.mark.parametrize("method", CLASSIFIER_METHODS)
@pytest.mark.parametrize("name", CLASSIFIERS)
def test_every_method_on_every_classifier(name, method, weights_dir, photos):
    model = get_model(name)
    result = explain(model, photos["cat"], method)
    assert result.heatmap.shape == photos["cat"].shape[:2] and result.heatmap.dtype == np.float32
    assert np.isfinite(result.heatmap).all() and 0 <= result.heatmap.min() and result.heatmap.max() == pytest.approx(1)
    assert result.layer == model.spec.gradcam_layer
    assert result.target.index == int(np.argmax(model.predict(photos["cat"]).probabilities))
    assert result.faithfulness is not None and 0 <= result.faithfulness.deletion_auc <= 1


def test_target_by_label_and_index_changes_the_map(mobilenet, photos):
    samoyed = explain(mobilenet, photos["dog"], "gradcam")
    tennis_ball = explain(mobilenet, photos["dog"], "gradcam", target="tennis_ball")
    by_index = explain(mobilenet, photos["dog"], "gradcam", target=str(tennis_ball.target.index))
    assert samoyed.target.label == "Samoyed" and tennis_ball.target.label == "tennis_ball"
    assert np.allclose(by_index.heatmap, tennis_ball.heatmap)
    assert np.abs(samoyed.heatmap - tennis_ball.heatmap).mean() > 0.05
    with pytest.raises(ValueError, match="not a class"):
        explain(mobilenet, photos["dog"], "gradcam", target="unicorn")


def test_pointing_game_peak_falls_in_the_detectors_box(mobilenet, yolo, photos):
    for photo, detector_label in (("dog", "dog"), ("bus", "bus")):
        result = explain(mobilenet, photos[photo], "gradcam")
        boxes = [d.box for d in yolo.predict(photos[photo]).detections if d.label == detector_label]
        assert any(_inside(result.peak, box) for box in boxes), (photo, result.target.label, result.peak, boxes)


@pytest.mark.slow
def test_trained_model_beats_random_and_random_weights_do_not(mobilenet, photos):
    from core.frameworks import keras
    from core.models.classifier import KerasClassifier

    trained = explain(mobilenet, photos["dog"], "gradcam").faithfulness
    assert trained.deletion_auc < 0.8 * trained.random_deletion_auc and "finds what the score" in trained.verdict()
    keras().utils.set_random_seed(0)
    scaled = keras().Input((224, 224, 3))
    network = keras().applications.MobileNetV2(input_tensor=keras().layers.Rescaling(1 / 127.5, -1)(scaled), weights=None)
    untrained = KerasClassifier(mobilenet.spec, network, mobilenet.labels, mobilenet.weights)
    random = explain(untrained, photos["dog"], "gradcam").faithfulness
    assert abs(random.deletion_auc - random.random_deletion_auc) < 0.05 * random.deletion[0], random


def test_sequential_model_with_preprocessing_inside(mobilenet, photos):
    """A Sequential model with its scaling layer inside: the tutorial recipe breaks on both."""
    from dataclasses import replace

    from core.frameworks import keras
    from core.models.classifier import KerasClassifier

    layers = keras().layers
    model = keras().Sequential([
        keras().Input((32, 32, 3)), layers.Rescaling(1 / 255), layers.Conv2D(8, 3, activation="relu", name="features"),
        layers.GlobalAveragePooling2D(), layers.Dense(3, activation="softmax"),
    ])
    spec = replace(mobilenet.spec, name="tiny", input_size=32, resize="stretch", gradcam_layer="features", num_classes=3)
    tiny = KerasClassifier(spec, model, ("a", "b", "c"), mobilenet.weights)
    for method in CLASSIFIER_METHODS:
        result = explain(tiny, photos["bus"], method)
        assert result.heatmap.shape == photos["bus"].shape[:2] and np.isfinite(result.heatmap).all()


def test_tiny_and_wide_images_and_the_model_is_left_alone(mobilenet, photos):
    layers_before = len(mobilenet.model.layers)
    before = mobilenet.predict(photos["bus"]).probabilities
    for image in (photos["bus"][:9, :40], photos["dog"][400:480, :]):
        result = explain(mobilenet, image, "gradcam")
        assert result.heatmap.shape == image.shape[:2] and np.isfinite(result.heatmap).all()
    assert len(mobilenet.model.layers) == layers_before
    assert np.allclose(mobilenet.predict(photos["bus"]).probabilities, before)


def test_eigencam_is_oriented_towards_the_detections(yolo, photos):
    result = explain(yolo, photos["bus"])
    inside = np.zeros(result.heatmap.shape, bool)
    for detection in yolo.predict(photos["bus"]).detections:
        x1, y1, x2, y2 = (int(v) for v in detection.box)
        inside[y1:y2, x1:x2] = True
    assert result.target.label == "bus" and result.layer == "P5/32"
    assert result.heatmap[inside].mean() > result.heatmap[~inside].mean() + 0.1
    assert result.faithfulness.deletion_auc < result.faithfulness.random_deletion_auc


@pytest.mark.parametrize("layer", ["P5/32", "P3/8"])
def test_eigencam_is_the_grad_cam_packages_on_the_pytorch_network(yolo, photos, layer):
    """Our numpy EigenCAM on the served export against pytorch-grad-cam's EigenCAM on the PyTorch
    checkpoint (oriented by the same boxes): the same map, up to ONNX Runtime's float noise."""
    torch = frameworks.torch()
    from pytorch_grad_cam import EigenCAM
    from pytorch_grad_cam.utils.svd_on_activations import get_2d_projection

    image = photos["bus"]
    boxes = [d.box for d in yolo.predict(image).detections]
    ours = eigencam(yolo, image, layer, boxes)

    network = frameworks.ultralytics().YOLO(str(yolo.weights)).model.eval()
    canvas, placement = letterbox(image, 640)
    inside = np.zeros(canvas.shape[:2], bool)
    for x1, y1, x2, y2 in placement.boxes_to_canvas(boxes):
        inside[int(y1) : int(np.ceil(y2)), int(x1) : int(np.ceil(x2))] = True

    class Oriented(EigenCAM):
        def get_cam_image(self, input_tensor, target_layer, targets, activations, grads, eigen_smooth):
            return np.stack([orient(p, inside) for p in get_2d_projection(activations)])

    class PredictionsOnly(torch.nn.Module):  # YOLO returns a tuple in eval mode; the package wants a tensor
        def __init__(self):
            super().__init__()
            self.network = network

        def forward(self, x):
            return self.network(x)[0]

    tensor = torch.from_numpy(canvas).permute(2, 0, 1)[None].float() / 255
    with Oriented(PredictionsOnly(), [network.model[yolo.feature_layers[layer]]]) as cam:
        theirs = placement.map_to_original(cam(tensor, targets=[lambda output: output.sum()])[0])
    assert ours.shape == theirs.shape == image.shape[:2]
    assert np.abs(ours - theirs).max() < 0.01


def test_eigencam_restricted_to_one_box(yolo, photos):
    detections = yolo.predict(photos["bus"]).detections
    person = next(i for i, d in enumerate(detections) if d.label == "person")
    result = explain(yolo, photos["bus"], box=person, layer="P4/16")
    x1, y1, x2, y2 = (int(round(v)) for v in detections[person].box)
    outside = result.heatmap.copy()
    outside[y1:y2, x1:x2] = 0
    assert result.target.label == "person" and outside.max() == 0 and result.heatmap.max() == pytest.approx(1)
    with pytest.raises(ValueError, match="does not exist"):
        explain(yolo, photos["bus"], box=99)


def test_cli_explain_json_schema(photo_paths, capsys, tmp_path, weights_dir):
    out = tmp_path / "overlay.png"
    code = cli(["explain", str(photo_paths["dog"]), "--model", "mobilenet_v2", "--method", "gradcam",
                "--out", str(out), "--json"])
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and out.stat().st_size > 0
    assert set(row) >= {"image", "model", "method", "target", "layer", "faithfulness", "heatmap_peak", "latency_ms"}
    assert row["target"]["label"] == "Samoyed"
    assert set(row["faithfulness"]) >= {"deletion_auc", "insertion_auc", "random_deletion_auc", "random_insertion_auc"}
    from PIL import Image

    assert Image.open(out).size == Image.open(photo_paths["dog"]).size


def test_cli_explain_rejects_a_wrong_method(photo_paths, capsys, weights_dir):
    code = cli(["explain", str(photo_paths["dog"]), "--model", "yolo11n", "--method", "gradcam"])
    assert code == 1 and "supports eigencam" in capsys.readouterr().err


def test_display_copy_is_small_and_keeps_the_answer(mobilenet, photos):
    """What the pages cache: a uint8 map at most 1600 px long, however large the photo."""
    from core.viz.drawing import overlay_heatmap

    from PIL import Image

    large = np.asarray(Image.fromarray(photos["dog"]).resize((4800, 3600)))
    full = explain(mobilenet, large, "gradcam")
    kept = full.for_display(1600)
    assert full.heatmap.shape == (3600, 4800) and kept.heatmap.shape == (1200, 1600) and kept.heatmap.dtype == np.uint8
    assert kept.peak == full.peak and kept.target == full.target and kept.faithfulness == full.faithfulness
    assert kept.heatmap.nbytes * 4 * 9 == full.heatmap.nbytes  # a ninth of the pixels, a quarter of the bytes each
    levels = np.asarray(full.heatmap * 255, np.uint8)[::3, ::3]
    assert np.abs(kept.heatmap.astype(int) - levels.astype(int)).mean() < 3  # the same map, smaller
    assert overlay_heatmap(large, kept.heatmap).shape == (1200, 1600, 3)
