"""The networks our scripts train. Each takes raw RGB pixels (0-255) and returns probabilities;
scaling and normalisation are layers inside, so serving cannot disagree with training."""

from __future__ import annotations

import numpy as np

from core import frameworks

# Per-channel mean and standard deviation of the CIFAR-10 training pixels, in 0-255 units.
CIFAR10_MEAN = (125.3, 123.0, 113.9)
CIFAR10_STD = (63.0, 62.1, 66.7)


def augmentation(name: str = "augment"):
    """Rotations, flips, colour jitter and shifts, active only while training (inside the graph)."""
    keras = frameworks.keras()
    layers = keras.layers
    return keras.Sequential(
        [
            layers.RandomFlip("horizontal"),
            layers.RandomTranslation(0.125, 0.125, fill_mode="reflect"),  # ±4 px: the classic crop
            layers.RandomRotation(0.03, fill_mode="reflect"),  # ±11°
            layers.RandomBrightness(0.15, value_range=(0, 255)),
            layers.RandomContrast(0.15),
        ],
        name=name,
    )


def _conv_bn(x, filters: int, name: str):
    layers = frameworks.keras().layers
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _residual(x, filters: int, name: str):
    shortcut = x
    x = _conv_bn(x, filters, f"{name}_a")
    x = _conv_bn(x, filters, f"{name}_b")
    return frameworks.keras().layers.Add(name=f"{name}_add")([shortcut, x])


def cifar_resnet(width: int = 32, dropout: float = 0.0, num_classes: int = 10, input_size: int = 32):
    """A ResNet-9-style network (Myrtle/Page, DAWNBench): few layers, wide, fast on a CPU.

    Widths are width, 2w, 4w, 8w over three stages; the last feature map, `stage3_res_add` (after the
    final residual block), is the Grad-CAM layer recorded in the sidecar.
    """
    keras = frameworks.keras()
    layers = keras.layers
    inputs = keras.Input((input_size, input_size, 3), name="pixels")
    x = layers.Rescaling(1.0, name="as_float")(inputs)
    x = layers.Normalization(mean=list(CIFAR10_MEAN), variance=list(np.square(CIFAR10_STD)), name="normalise")(x)
    x = _conv_bn(x, width, "prep")
    x = _conv_bn(x, 2 * width, "stage1")
    x = layers.MaxPooling2D(name="stage1_pool")(x)
    x = _residual(x, 2 * width, "stage1_res")
    x = _conv_bn(x, 4 * width, "stage2")
    x = layers.MaxPooling2D(name="stage2_pool")(x)
    x = _conv_bn(x, 8 * width, "stage3")
    x = layers.MaxPooling2D(name="stage3_pool")(x)
    x = _residual(x, 8 * width, "stage3_res")
    x = layers.GlobalMaxPooling2D(name="pool")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    logits = layers.Dense(num_classes, name="dense")(x)
    logits = layers.Rescaling(0.125, name="logits")(logits)  # small logits at the start train faster (Page)
    outputs = layers.Softmax(name="probabilities")(logits)
    return keras.Model(inputs, outputs, name="cifar10_cnn")
