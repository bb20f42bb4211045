"""Real inference with the real weights on real photos."""

from __future__ import annotations

import numpy as np

from core.results import Detections, label_counts

# ImageNet class indices (Keras order): 151-268 are dog breeds, 281-285 domestic cats.
DOG_BREEDS = range(151, 269)
CATS = range(281, 286)


def test_yolo_finds_the_bus_and_the_people(yolo, photos):
    result = yolo.predict(photos["bus"])
    labels = result.labels()
    assert "bus" in labels and labels.count("person") >= 3, labels
    width, height = result.image_size
    assert (width, height) == (photos["bus"].shape[1], photos["bus"].shape[0])
    for detection in result.detections:
        x1, y1, x2, y2 = detection.box
        assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height, detection
    scores = [d.score for d in result.detections]
    assert scores == sorted(scores, reverse=True)


def test_detections_are_counted_in_words(yolo, photos):
    result = yolo.predict(photos["bus"])
    assert label_counts(result.labels()) == f"person ×{result.labels().count('person')}, bus ×1"
    assert result.count_text() == f"{len(result)} objects"
    one_bus = Detections(result.model, tuple(d for d in result.detections if d.label == "bus"), result.image_size, 1.0)
    assert one_bus.count_text() == "1 object" and label_counts([]) == ""


def test_yolo_thresholds_filter(yolo, photos):
    loose = yolo.predict(photos["bus"], conf=0.1)
    strict = yolo.predict(photos["bus"], conf=0.8)
    assert len(strict) < len(loose)
    assert all(d.score >= 0.8 for d in strict.detections)


def _bgr(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image[:, :, ::-1])


def test_yolo_sees_rgb_not_bgr(yolo, photos):
    """predict takes RGB: fed the same photo in BGR order, YOLO does clearly worse. Had the wrapper
    the channels backwards, the two answers below would swap. (The bus barely cares, 0.94 against
    0.93; the cat drops from 0.86 to 0.61 and gains a phantom dog.)"""
    assert max(d.score for d in yolo.predict(photos["bus"]).detections if d.label == "bus") > 0.8
    right, swapped = yolo.predict(photos["cat"]), yolo.predict(_bgr(photos["cat"]))
    assert right.labels() == ["cat"] and "dog" in swapped.labels()
    assert right.detections[0].score > max(d.score for d in swapped.detections if d.label == "cat") + 0.15


def test_classifier_sees_rgb_not_bgr(mobilenet, photos):
    """The same check for a classifier: MobileNetV2 is surer of the Samoyed (0.64 against 0.53) and
    puts far more mass on domestic cats (0.48 against 0.12) when fed RGB."""
    dog = mobilenet.predict(photos["dog"])
    samoyed = dog.top.index
    assert dog.top.label == "Samoyed"
    assert dog.top.score > mobilenet.predict(_bgr(photos["dog"])).probabilities[samoyed] + 0.05
    cats = [mobilenet.predict(image).probabilities[list(CATS)].sum() for image in (photos["cat"], _bgr(photos["cat"]))]
    assert cats[0] > 0.4 and cats[1] < cats[0] / 2, cats


def test_mobilenet_sees_a_dog(mobilenet, photos):
    result = mobilenet.predict(photos["dog"], top_k=5)
    assert any(score.index in DOG_BREEDS for score in result.top_k), result.top_k
    assert result.top.label == "Samoyed"


def test_mobilenet_sees_a_cat(mobilenet, photos):
    result = mobilenet.predict(photos["cat"], top_k=5)
    assert any(score.index in CATS for score in result.top_k), result.top_k


def test_classification_is_a_distribution(mobilenet, photos):
    result = mobilenet.predict(photos["bus"], top_k=3)
    assert result.model == "mobilenet_v2" and result.classes == mobilenet.labels
    assert len(result.top_k) == 3 and result.top.label == "minibus" == result.classes[result.top.index]
    assert np.allclose([s.score for s in result.top_k], np.sort(result.probabilities)[::-1][:3])
    assert abs(float(result.probabilities.sum()) - 1.0) < 1e-4
    assert result.model_input.shape == (224, 224, 3) and result.model_input.dtype == np.uint8
    assert result.latency_ms > 0


def test_same_answer_for_same_image(mobilenet, yolo, photos):
    first, second = mobilenet.predict(photos["cat"]), mobilenet.predict(photos["cat"])
    assert np.allclose(first.probabilities, second.probabilities, atol=1e-6)
    boxes = [yolo.predict(photos["cat"]).detections for _ in range(2)]
    assert [d.label for d in boxes[0]] == [d.label for d in boxes[1]] == ["cat"]
    assert np.allclose([d.box for d in boxes[0]], [d.box for d in boxes[1]], atol=1e-3)
