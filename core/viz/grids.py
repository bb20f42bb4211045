"""Labelled grids of small images (the dataset report's sample and augmentation grids)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from core.io.augmentation import augmented_rows
from core.io.datasets import LabelledImages

CELL = 64  # pixels per CIFAR image in the grids (2x upscaled)


def image_grid(rows: list[np.ndarray], labels: list[str], label_width: int = 150) -> Image.Image:
    """One row of CELL-pixel tiles per entry of `rows`, its label on the left. Nearest-pixel
    upscaling, so a 32-pixel image shows its real pixels."""
    columns = max(len(row) for row in rows)
    canvas = Image.new("RGB", (label_width + columns * CELL, len(rows) * CELL), "white")
    draw = ImageDraw.Draw(canvas)
    for r, (row, label) in enumerate(zip(rows, labels)):
        draw.text((6, r * CELL + CELL // 2 - 6), label, fill="black")
        for c, image in enumerate(row):
            tile = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).resize((CELL, CELL), Image.NEAREST)
            canvas.paste(tile, (label_width + c * CELL, r * CELL))
    return canvas


def augmentation_grid(data: LabelledImages, seed: int = 0) -> Image.Image:
    """A few training images (left), each with draws of the training augmentation; the same
    `seed` gives the same grid (seed 0 is the one committed in assets/eda)."""
    rows, labels = augmented_rows(data, seed)
    return image_grid(rows, labels, label_width=170)
