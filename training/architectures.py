"""The networks our scripts train. Each takes raw RGB pixels (0-255) and returns probabilities;
scaling and normalisation are layers inside, so serving cannot disagree with training."""

from __future__ import annotations

import numpy as np

from core import frameworks

# Per-channel mean and standard deviation of the CIFAR-10 training pixels, in 0-255 units.
CIFAR10_MEAN = (125.3, 123.0, 113.9)
CIFAR10_STD = (63.0, 62.1, 66.7)
WHITENING_PATCH = 2  # side of the pixel patches the first, fixed layer decorrelates


def augmentation(name: str = "augment"):
    """Flips, shifts, small rotations and colour jitter, active only while training (inside the graph).

    Kept mild on purpose: a ten-epoch schedule underfits under heavy augmentation (our first
    recipe, with ±11° rotations and ±4 px shifts, stopped at 83%).
    """
    keras = frameworks.keras()
    layers = keras.layers
    return keras.Sequential(
        [
            layers.RandomFlip("horizontal"),
            layers.RandomTranslation(0.0625, 0.0625, fill_mode="reflect"),  # ±2 px
            layers.RandomRotation(0.012, fill_mode="reflect"),  # ±4°
            layers.RandomBrightness(0.1, value_range=(0, 255)),
            layers.RandomContrast(0.1),
        ],
        name=name,
    )


def whitening_kernel(images: np.ndarray, eps: float = 5e-4) -> np.ndarray:
    """A fixed first convolution that whitens 2x2 patches of normalised training images (airbench,
    Keller Jordan 2024): the eigenvectors of the patch covariance scaled by 1/sqrt(eigenvalue), with
    their negatives so a ReLU-like activation keeps both signs. Returns a (2, 2, 3, 24) kernel."""
    pixels = (images.astype(np.float32) - CIFAR10_MEAN) / CIFAR10_STD
    p = WHITENING_PATCH
    patches = np.lib.stride_tricks.sliding_window_view(pixels, (p, p), axis=(1, 2))  # N, H', W', 3, p, p
    patches = patches.transpose(0, 1, 2, 4, 5, 3).reshape(-1, p * p * 3)
    covariance = np.cov(patches, rowvar=False)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    filters = eigenvectors / np.sqrt(eigenvalues + eps)  # columns are filters
    kernel = filters.reshape(p, p, 3, p * p * 3)
    return np.concatenate([kernel, -kernel], axis=-1).astype(np.float32)


def _conv_bn(x, filters: int, name: str, pool: bool = False):
    """conv -> (max-pool) -> batch norm -> GELU. Pooling before the norm is what keeps it cheap."""
    layers = frameworks.keras().layers
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    if pool:
        x = layers.MaxPooling2D(name=f"{name}_pool")(x)
    x = layers.BatchNormalization(momentum=0.6, scale=False, name=f"{name}_bn")(x)
    return layers.Activation("gelu", name=f"{name}_gelu")(x)


def _block(x, filters: int, name: str):
    """Widen and halve the resolution, then one residual convolution."""
    x = _conv_bn(x, filters, f"{name}_a", pool=True)
    residual = _conv_bn(x, filters, f"{name}_b")
    return frameworks.keras().layers.Add(name=f"{name}_add")([x, residual])


def cifar_cnn(
    whitening: np.ndarray,
    widths: tuple[int, ...] = (64, 256, 256),
    dropout: float = 0.0,
    num_classes: int = 10,
    input_size: int = 32,
):
    """A small residual CNN after airbench94 (Jordan 2024) and ResNet-9 (Page 2018): a fixed whitening
    layer, then one block per width, each pooling once; about 2 M parameters at the default widths.

    The last block's output, `block3_add` (3x3 cells), is the Grad-CAM layer recorded in the sidecar;
    `block2_add` (7x7) gives finer maps.
    """
    keras = frameworks.keras()
    layers = keras.layers
    inputs = keras.Input((input_size, input_size, 3), name="pixels")
    x = layers.Rescaling(1.0, name="as_float")(inputs)
    x = layers.Normalization(mean=list(CIFAR10_MEAN), variance=list(np.square(CIFAR10_STD)), name="normalise")(x)
    whiten = layers.Conv2D(whitening.shape[-1], WHITENING_PATCH, use_bias=False, trainable=False, name="whiten")
    x = whiten(x)
    whiten.set_weights([whitening])
    x = layers.BatchNormalization(momentum=0.6, scale=False, name="whiten_bn")(x)
    x = layers.Activation("gelu", name="whiten_gelu")(x)
    for index, width in enumerate(widths, start=1):
        x = _block(x, width, f"block{index}")
    x = layers.GlobalMaxPooling2D(name="pool")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    logits = layers.Dense(num_classes, use_bias=False, name="dense")(x)
    logits = layers.Rescaling(0.125, name="logits")(logits)  # small logits at the start train faster (Page)
    outputs = layers.Softmax(name="probabilities")(logits)
    return keras.Model(inputs, outputs, name="cifar10_cnn")
