"""Drawing, charts, samples and the common vocabulary (core modules behind the pages)."""

from __future__ import annotations

import numpy as np
import pytest

from core import load_image
from core.viz.charts import latency_figure, top_k_figure
from core.viz.drawing import class_colour, draw_detections
from core.results import Detection, Detections
from core.io.samples import sample_images
from core.models.vocabulary import COMMON, IMAGENET, agreement, classifier_vote, common_probabilities, detector_vote


def test_samples_ship_with_dependencies():
    samples = sample_images()
    assert {"bus (Ultralytics)", "cat (scikit-image)"} <= set(samples)
    for path in samples.values():
        assert load_image(path).shape[2] == 3


def test_boxes_are_drawn_in_rgb_with_class_colours(yolo, photos):
    image = photos["bus"]
    result = yolo.predict(image)
    drawn = draw_detections(image, result)
    assert drawn.shape == image.shape and drawn.dtype == np.uint8
    bus = next(d for d in result.detections if d.label == "bus")
    x1, y1, x2, y2 = (int(round(v)) for v in bus.box)
    edge = drawn[(y1 + y2) // 2, x1 : x1 + 2].astype(int)  # a pixel of the left edge of the box
    assert np.abs(edge - class_colour(bus.class_id)).max() <= 2, "colour drawn in RGB order"
    assert (drawn != image).any() and np.array_equal(draw_detections(image, Detections("m", (), (1, 1), 1.0)), image)


def test_class_colours_are_stable_and_distinct():
    assert class_colour(5) == class_colour(5)
    assert len({class_colour(i) for i in range(10)}) == 10


def test_top_k_figure(mobilenet, photos):
    result = mobilenet.predict(photos["dog"], top_k=5)
    bars = top_k_figure(result).data[0]
    assert list(bars.y)[-1] == "Samoyed" and len(bars.y) == 5  # most probable on top
    assert bars.text[-1] == f"{result.top.score:.1%}"
    assert list(latency_figure({"a": 5.0, "b": 60.0}).data[0].y) == [5.0, 60.0]


def test_imagenet_groups_have_the_right_classes(mobilenet):
    labels = mobilenet.labels
    assert labels[min(IMAGENET["dog"])] == "Chihuahua" and labels[max(IMAGENET["dog"])] == "Mexican_hairless"
    assert {labels[i] for i in IMAGENET["cat"]} == {"tabby", "tiger_cat", "Persian_cat", "Siamese_cat", "Egyptian_cat"}
    assert labels[min(IMAGENET["frog"])] == "bullfrog" and "sports_car" in {labels[i] for i in IMAGENET["automobile"]}
    assert all(not (IMAGENET[a] & IMAGENET[b]) for a in COMMON for b in COMMON if a < b), "groups overlap"


@pytest.mark.parametrize("photo, common", [("dog", "dog"), ("cat", "cat"), ("bus", None)])
def test_votes_on_real_photos(mobilenet, yolo, photos, photo, common):
    classified = mobilenet.predict(photos[photo])
    mass = common_probabilities(classified, mobilenet.labels)
    assert mass.shape == (10,) and 0 <= mass.sum() <= 1 + 1e-6
    votes = [classifier_vote(classified, mobilenet.labels), detector_vote(yolo.predict(photos[photo]))]
    assert [v.label for v in votes] == [common, common]
    assert agreement(votes) == common


def test_detector_vote_skips_unmapped_labels():
    detections = Detections("d", (Detection("person", 0, 0.9, (0, 0, 1, 1)), Detection("car", 2, 0.5, (0, 0, 1, 1))), (2, 2), 1.0)
    vote = detector_vote(detections)
    assert (vote.label, vote.score, vote.source_label) == ("automobile", 0.5, "car")
