"""Detector evaluation: pycocotools on hand-made cases, and Ultralytics' validator against it on a
slice of the real coco128."""

from __future__ import annotations

import shutil

import pytest

from core.evaluation.detection import coco_ground_truth, coco_map, evaluate_yolo_folder

NAMES = {0: "person", 1: "bicycle"}


def _truth(tmp_path, boxes: str):
    from PIL import Image

    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    Image.new("RGB", (200, 100)).save(tmp_path / "images" / "000001.jpg")
    (tmp_path / "labels" / "000001.txt").write_text(boxes)
    return coco_ground_truth(tmp_path / "images", tmp_path / "labels", NAMES)


def test_ground_truth_boxes_are_in_pixels(tmp_path):
    truth = _truth(tmp_path, "0 0.5 0.5 0.5 0.2\n")
    assert truth["images"] == [{"id": 1, "file_name": "000001.jpg", "width": 200, "height": 100}]
    (annotation,) = truth["annotations"]
    assert annotation["bbox"] == pytest.approx([50, 40, 100, 20]) and annotation["category_id"] == 1


def test_exact_boxes_score_one_and_a_wrong_class_scores_zero(tmp_path):
    truth = _truth(tmp_path, "0 0.5 0.5 0.5 0.2\n")
    exact = [{"image_id": 1, "category_id": 1, "bbox": [50, 40, 100, 20], "score": 0.9}]
    assert coco_map(truth, exact)["map50_95"] == pytest.approx(1.0)
    wrong_class = [{**exact[0], "category_id": 2}]
    assert coco_map(truth, wrong_class)["map50_95"] == 0


def test_half_overlap_counts_only_at_low_iou(tmp_path):
    truth = _truth(tmp_path, "0 0.5 0.5 0.5 0.2\n")
    shifted = [{"image_id": 1, "category_id": 1, "bbox": [100, 40, 100, 20], "score": 0.9}]  # IoU 1/3
    assert coco_map(truth, shifted)["map50"] == 0
    shifted = [{"image_id": 1, "category_id": 1, "bbox": [70, 40, 100, 20], "score": 0.9}]  # IoU 2/3
    result = coco_map(truth, shifted)
    assert result["map50"] == pytest.approx(1.0) and result["map50_95"] == pytest.approx(0.4)  # .50 to .65


@pytest.mark.slow
def test_ultralytics_and_pycocotools_agree_on_a_coco128_slice(tmp_path, data_dir, yolo):
    source = data_dir / "coco128"
    subset = tmp_path / "coco"
    for kind, suffix in (("images", ".jpg"), ("labels", ".txt")):
        (subset / kind / "train2017").mkdir(parents=True)
        for path in sorted((source / kind / "train2017").glob(f"*{suffix}"))[:24]:
            shutil.copy(path, subset / kind / "train2017")
    result = evaluate_yolo_folder(yolo.weights, subset, dict(enumerate(yolo.labels)))
    assert result["images"] == 24 and 0.3 < result["map50_95"] < result["map50"] <= 1
    assert result["cross_check"]["difference_map50_95"] <= 0.01, result["cross_check"]
    assert not list(source.rglob("*.cache"))  # the shared data stays untouched
