"""Detector metrics on a YOLO-format set (coco128 here): Ultralytics' own validator, cross-checked by
pycocotools on the very same predictions.

Ultralytics writes its predictions as COCO JSON (`save_json`); we build the matching COCO ground
truth from the YOLO label files, and pycocotools scores that pair independently. The two use
slightly different precision-recall integration (trapezoid vs 101-point sum), so they agree
closely but not exactly; both figures are kept.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import tempfile
from importlib import metadata
from pathlib import Path

import numpy as np
from PIL import Image

# The thresholds of every figure here (Ultralytics' validation defaults, stated in the JSON).
CONFIDENCE = 0.001
NMS_IOU = 0.7
MAX_DETECTIONS = 300
IMAGE_SIZE = 640
IMAGES = "images/train2017"  # coco128 keeps its 128 images in the train2017 layout
IMAGE_SUFFIXES = (".jpg", ".png")


def evaluate_yolo_folder(weights: Path, dataset: Path, names: dict[int, str]) -> dict:
    """mAP50, mAP50-95, precision, recall and per-class AP of `weights` on `dataset`, plus the
    pycocotools cross-check. The dataset is copied to a temporary folder (Ultralytics writes a
    label cache beside the labels, and shared data must stay untouched)."""
    from core import frameworks

    ultralytics = frameworks.ultralytics()
    with tempfile.TemporaryDirectory(prefix="vision-eval-") as temp:
        root = Path(temp) / "data"
        shutil.copytree(dataset, root, ignore=shutil.ignore_patterns("*.cache"))
        config = _dataset_yaml(root, names)
        with contextlib.redirect_stdout(io.StringIO()):
            metrics = ultralytics.YOLO(str(weights)).val(
                data=str(config), imgsz=IMAGE_SIZE, batch=16, conf=CONFIDENCE, iou=NMS_IOU, max_det=MAX_DETECTIONS,
                device="cpu", plots=False, save_json=True, project=temp, name="val", verbose=False,
            )
        predictions = json.loads((Path(metrics.save_dir) / "predictions.json").read_text())
        ground_truth = coco_ground_truth(root / IMAGES, root / "labels" / "train2017", names)
    figures = _ultralytics_figures(metrics, names)
    check = coco_map(ground_truth, predictions)
    check["difference_map50_95"] = round(abs(check["map50_95"] - figures["map50_95"]), 5)
    return {
        **figures,
        "images": len(ground_truth["images"]),
        "instances": len(ground_truth["annotations"]),
        "thresholds": {"confidence": CONFIDENCE, "nms_iou": NMS_IOU, "max_detections": MAX_DETECTIONS,
                       "image_size": IMAGE_SIZE, "match_iou": "0.50:0.05:0.95"},
        "cross_check": check,
    }


def _dataset_yaml(root: Path, names: dict[int, str]) -> Path:
    """Our own dataset file (coco128 ships none that points here); JSON is valid YAML."""
    path = root / "dataset.yaml"
    path.write_text(json.dumps({"path": str(root), "train": IMAGES, "val": IMAGES, "names": names}))
    return path


def _ultralytics_figures(metrics, names: dict[int, str]) -> dict:
    box = metrics.box
    per_class = [
        {"label": names[int(c)], "ap50": round(float(ap[0]), 5), "ap50_95": round(float(ap.mean()), 5)}
        for c, ap in zip(box.ap_class_index, box.all_ap)
    ]
    return {
        "map50": round(float(box.map50), 5),
        "map50_95": round(float(box.map), 5),
        "precision": round(float(box.mp), 5),
        "recall": round(float(box.mr), 5),
        "per_class": per_class,
        "library": f"ultralytics {metadata.version('ultralytics-opencv-headless')}",
    }


def coco_ground_truth(images: Path, labels: Path, names: dict[int, str]) -> dict:
    """COCO-format ground truth from YOLO label files (class cx cy w h, normalised). Image ids and
    category ids follow Ultralytics' `save_json` for non-COCO sets: the numeric file stem, class + 1."""
    gt = {"images": [], "annotations": [], "categories": [{"id": i + 1, "name": n} for i, n in names.items()]}
    # JPEG as shipped; PNG for a set rewritten without further loss (training.robustness' corrupted copies)
    for path in sorted(p for p in images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        width, height = Image.open(path).size
        image_id = int(path.stem) if path.stem.isnumeric() else path.stem
        gt["images"].append({"id": image_id, "file_name": path.name, "width": width, "height": height})
        rows = read_yolo_labels(labels / f"{path.stem}.txt")
        for cls, cx, cy, w, h in rows:
            box = [(cx - w / 2) * width, (cy - h / 2) * height, w * width, h * height]
            gt["annotations"].append({"id": len(gt["annotations"]) + 1, "image_id": image_id, "category_id": int(cls) + 1,
                                      "bbox": box, "area": box[2] * box[3], "iscrowd": 0})
    return gt


def read_yolo_labels(path: Path) -> np.ndarray:
    """Rows of (class, cx, cy, w, h), normalised; none when an image has no label file."""
    return np.loadtxt(path, ndmin=2) if path.is_file() else np.zeros((0, 5))


def coco_map(ground_truth: dict, predictions: list[dict]) -> dict:
    """mAP50-95 and mAP50 by pycocotools, at up to MAX_DETECTIONS boxes per image (COCO's summary
    stops at 100, Ultralytics keeps 300: read straight from the precision table instead)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints as it goes
        coco_gt = COCO()
        coco_gt.dataset = ground_truth
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(predictions) if predictions else COCO()
        evaluation = COCOeval(coco_gt, coco_dt, "bbox")
        evaluation.params.maxDets = [1, 10, MAX_DETECTIONS]
        evaluation.evaluate()
        evaluation.accumulate()
    precision = evaluation.eval["precision"][:, :, :, 0, -1]  # IoU x recall x class, all areas, most boxes
    return {
        "map50_95": round(_mean_valid(precision), 5),
        "map50": round(_mean_valid(precision[0]), 5),
        "library": f"pycocotools {metadata.version('pycocotools')}",
    }


def _mean_valid(precision: np.ndarray) -> float:
    valid = precision[precision > -1]  # -1 marks classes without ground truth
    return float(valid.mean()) if valid.size else 0.0
