"""Drawing results onto images (computing them is elsewhere). RGB uint8 in, RGB uint8 out."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from core.results import Classification, Detections


def class_colour(class_id: int) -> tuple[int, int, int]:
    """The stable colour of a class: the same in every image, chart and table."""
    import supervision as sv

    colour = sv.ColorPalette.DEFAULT.by_idx(class_id)
    return colour.r, colour.g, colour.b


def draw_detections(image: np.ndarray, detections: Detections) -> np.ndarray:
    """Boxes and 'label score' tags, coloured per class, drawn with supervision.

    supervision draws PIL images in RGB (arrays it would treat as OpenCV's BGR).
    """
    import supervision as sv  # imported on first use: it costs about two seconds

    canvas = Image.fromarray(image)
    if not len(detections):
        return np.asarray(canvas).copy()
    boxes = sv.Detections(
        xyxy=np.array([d.box for d in detections.detections], dtype=np.float32),
        confidence=np.array([d.score for d in detections.detections], dtype=np.float32),
        class_id=np.array([d.class_id for d in detections.detections], dtype=int),
    )
    thickness = max(2, round(min(image.shape[:2]) / 250))
    canvas = sv.BoxAnnotator(thickness=thickness).annotate(canvas, boxes)
    labels = [f"{d.label} {d.score:.2f}" for d in detections.detections]
    canvas = sv.LabelAnnotator(text_scale=thickness / 4, text_thickness=max(1, thickness // 2)).annotate(
        canvas, boxes, labels=labels
    )
    return np.asarray(canvas).copy()


def annotate(image: np.ndarray, result: Classification | Detections) -> np.ndarray:
    """`image` with a result drawn on it: a detector's boxes, or a classifier's top label as a caption."""
    if isinstance(result, Detections):
        return draw_detections(image, result)
    return caption(image, f"{result.top.label} {result.top.score:.0%}")


def caption(image: np.ndarray, text: str) -> np.ndarray:
    """`text` in white on a black bar across the top of `image`."""
    picture = Image.fromarray(image)
    draw = ImageDraw.Draw(picture)
    size = max(12, image.shape[0] // 20)
    draw.rectangle((0, 0, image.shape[1], size + 8), fill=(0, 0, 0))
    draw.text((6, 4), text, fill=(255, 255, 255), font_size=size)
    return np.asarray(picture)


COLORMAPS = ("jet", "turbo", "inferno", "viridis")


def shrink(image: np.ndarray, max_side: int) -> np.ndarray:
    """`image` with its longer side at most `max_side` (as it is shown), the aspect ratio kept."""
    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR))


def overlay_heatmap(image: np.ndarray, heatmap: np.ndarray, opacity: float = 0.5, colormap: str = "jet") -> np.ndarray:
    """`heatmap` (H x W, floats in [0, 1] or uint8 levels) coloured and blended over `image`, which
    is resized to the map when the map is a smaller display copy."""
    if image.shape[:2] != heatmap.shape:
        image = np.asarray(Image.fromarray(image).resize(heatmap.shape[::-1], Image.Resampling.BILINEAR))
    coloured = colour_heatmap(heatmap, colormap)
    blended = (1 - opacity) * image.astype(np.float32) + opacity * coloured.astype(np.float32)
    return np.clip(blended, 0, 255).astype(np.uint8)


def colour_heatmap(heatmap: np.ndarray, colormap: str = "jet") -> np.ndarray:
    """A map (floats in [0, 1], or uint8 levels) as an RGB uint8 image through one of OpenCV's colour maps."""
    import cv2

    if colormap not in COLORMAPS:
        raise ValueError(f"Unknown colour map {colormap!r}; choose one of {', '.join(COLORMAPS)}.")
    levels = heatmap if heatmap.dtype == np.uint8 else np.uint8(np.clip(np.nan_to_num(heatmap), 0, 1) * 255)
    bgr = cv2.applyColorMap(levels, getattr(cv2, f"COLORMAP_{colormap.upper()}"))
    return bgr[:, :, ::-1].copy()  # OpenCV colours come out BGR
