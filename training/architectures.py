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
    recipe, with ±11° rotations and ±4 px shifts, stopped at 83%). Shifts and rotations sample the
    nearest pixel: bilinear resampling blurred every training image while test images stay sharp
    (the model trained that way scored 87.2% on blurred validation images, 85.9% on the real ones).
    """
    keras = frameworks.keras()
    layers = keras.layers
    return keras.Sequential(
        [
            layers.RandomFlip("horizontal"),
            layers.RandomTranslation(0.0625, 0.0625, fill_mode="reflect", interpolation="nearest"),  # ±2 px
            layers.RandomRotation(0.012, fill_mode="reflect", interpolation="nearest"),  # ±4°
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


class SharedLayers:
    """Makes each named layer once and hands back the same one afterwards, so building the graph a
    second time (on the mirrored image) reuses every weight instead of creating new ones."""

    def __init__(self):
        self._made = {}

    def __call__(self, make, *args, name: str, **kwargs):
        if name not in self._made:
            self._made[name] = make(*args, name=name, **kwargs)
        return self._made[name]


def _conv_bn(shared: SharedLayers, x, filters: int, name: str, pool: bool = False):
    """conv -> (max-pool) -> batch norm -> GELU. Pooling before the norm is what keeps it cheap."""
    layers = frameworks.keras().layers
    x = shared(layers.Conv2D, filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    if pool:
        x = shared(layers.MaxPooling2D, name=f"{name}_pool")(x)
    x = shared(layers.BatchNormalization, momentum=0.6, scale=False, name=f"{name}_bn")(x)
    return shared(layers.Activation, "gelu", name=f"{name}_gelu")(x)


def _block(shared: SharedLayers, x, filters: int, name: str):
    """Widen and halve the resolution, then one residual convolution."""
    x = _conv_bn(shared, x, filters, f"{name}_a", pool=True)
    residual = _conv_bn(shared, x, filters, f"{name}_b")
    return shared(frameworks.keras().layers.Add, name=f"{name}_add")([x, residual])


def _logits(shared: SharedLayers, pixels, whitening: np.ndarray, widths, dropout: float, num_classes: int):
    """Raw pixels -> class logits, built from `shared`'s layers."""
    layers = frameworks.keras().layers
    x = shared(layers.Rescaling, 1.0, name="as_float")(pixels)
    x = shared(layers.Normalization, mean=list(CIFAR10_MEAN), variance=list(np.square(CIFAR10_STD)), name="normalise")(x)
    whiten = shared(layers.Conv2D, whitening.shape[-1], WHITENING_PATCH, use_bias=False, trainable=False, name="whiten")
    x = whiten(x)
    whiten.set_weights([whitening])
    x = shared(layers.BatchNormalization, momentum=0.6, scale=False, name="whiten_bn")(x)
    x = shared(layers.Activation, "gelu", name="whiten_gelu")(x)
    for index, width in enumerate(widths, start=1):
        x = _block(shared, x, width, f"block{index}")
    x = shared(layers.GlobalMaxPooling2D, name="pool")(x)
    if dropout:
        x = shared(layers.Dropout, dropout, name="dropout")(x)
    logits = shared(layers.Dense, num_classes, use_bias=False, name="dense")(x)
    return shared(layers.Rescaling, 0.125, name="logits")(logits)  # small logits at the start train faster (Page)


def mirror(size: int, name: str = "mirror"):
    """A left-right flip of (height, width, channels) images from built-in layers only, so the saved
    model loads anywhere: the width axis goes last, a fixed anti-diagonal matrix reverses it."""
    keras = frameworks.keras()
    layers = keras.layers
    reverse = layers.Dense(size, use_bias=False, trainable=False, name=f"{name}_reverse")
    flip = keras.Sequential(
        [keras.Input((size, size, 3)), layers.Permute((1, 3, 2)), reverse, layers.Permute((1, 3, 2))], name=name
    )
    reverse.set_weights([np.eye(size, dtype=np.float32)[::-1]])
    return flip


def cifar_cnn(
    whitening: np.ndarray,
    widths: tuple[int, ...] = (64, 256, 256),
    dropout: float = 0.0,
    num_classes: int = 10,
    input_size: int = 32,
):
    """A small residual CNN after airbench94 (Jordan 2024) and ResNet-9 (Page 2018): a fixed whitening
    layer, then one block per width, each pooling once; about 2 M parameters at the default widths.

    Returns (trained, served): `trained` sees one view of the image; `served` shares every weight
    and averages the logits of the image and its mirror image (test-time augmentation inside the
    saved model, so every user of the artifact gets it). The last block's output, `block3_add`
    (3x3 cells), is the Grad-CAM layer recorded in the sidecar; `block2_add` (7x7) gives finer maps.
    """
    keras = frameworks.keras()
    layers = keras.layers
    shared = SharedLayers()
    inputs = keras.Input((input_size, input_size, 3), name="pixels")
    logits = _logits(shared, inputs, whitening, widths, dropout, num_classes)
    trained = keras.Model(inputs, layers.Softmax(name="probabilities")(logits), name="cifar10_cnn")
    mirrored = _logits(shared, mirror(input_size)(inputs), whitening, widths, dropout, num_classes)
    averaged = layers.Average(name="mirror_average")([logits, mirrored])
    served = keras.Model(inputs, layers.Softmax(name="probabilities")(averaged), name="cifar10_cnn")
    return trained, served
