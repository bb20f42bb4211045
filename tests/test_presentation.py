"""Drawing, charts, samples and the common vocabulary (core modules behind the pages)."""

from __future__ import annotations

import numpy as np
import pytest

from core import load_image
from core.io.samples import sample_images
from core.models.vocabulary import COMMON, IMAGENET, agreement, classifier_vote, common_probabilities, detector_vote
from core.results import Detection, Detections
from core.viz.charts import latency_figure, top_k_figure
from core.viz.drawing import class_colour, draw_detections


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
    x1, y1, _, y2 = (round(v) for v in bus.box)
    edge = drawn[(y1 + y2) // 2, x1 : x1 + 2].astype(int)  # a pixel of the left edge of the box
    assert np.abs(edge - class_colour(bus.class_id)).max() <= 2, "colour drawn in RGB order"
    assert (drawn != image).any() and np.array_equal(draw_detections(image, Detections("m", (), (1, 1), 1.0)), image)


def _grid_of_boxes(class_ids: list[int]) -> Detections:
    """One 60x50 box per class in cells of 80x90, with room above each box for its label."""
    cells = [(80 * (i % 7), 90 * (i // 7)) for i in range(len(class_ids))]
    boxes = [(x + 10, y + 30, x + 70, y + 80) for x, y in cells]
    detections = tuple(Detection(f"class {c}", c, 0.9, box) for c, box in zip(class_ids, boxes))
    return Detections("m", detections, (560, 270), 1.0)


def test_class_colours_are_the_drawn_colours_whatever_the_order():
    """The colour a legend shows for a class is the colour its boxes are drawn in, in any image:
    it follows the class id, not the detection's position (21 classes, drawn in two orders)."""
    image = np.full((270, 560, 3), 128, np.uint8)
    for order in (list(range(21)), list(range(20, -1, -1))):
        found = _grid_of_boxes(order)
        drawn = draw_detections(image, found)
        for detection in found.detections:
            x1, y1, _, y2 = (int(v) for v in detection.box)
            edge = drawn[(y1 + y2) // 2, x1].astype(int)  # the middle of the box's left edge
            assert np.abs(edge - class_colour(detection.class_id)).max() <= 2, detection.class_id
    assert len({class_colour(i) for i in range(21)}) == 21, "neighbouring classes must look different"


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
    mass = common_probabilities(classified)
    assert mass.shape == (10,) and 0 <= mass.sum() <= 1 + 1e-6
    votes = [classifier_vote(classified), detector_vote(yolo.predict(photos[photo]))]
    assert [v.label for v in votes] == [common, common]
    assert agreement(votes) == common


def test_detector_vote_skips_unmapped_labels():
    detections = Detections("d", (Detection("person", 0, 0.9, (0, 0, 1, 1)), Detection("car", 2, 0.5, (0, 0, 1, 1))), (2, 2), 1.0)
    vote = detector_vote(detections)
    assert (vote.label, vote.score, vote.source_label) == ("automobile", 0.5, "car")
