"""The networks our scripts train. Each takes raw RGB pixels (0-255) and returns probabilities;
scaling and normalisation are layers inside, so serving cannot disagree with training."""

from __future__ import annotations

import numpy as np

from core import frameworks
from core.io.augmentation import augmentation  # noqa: F401 - the training scripts import it from here

# Per-channel mean and standard deviation of the CIFAR-10 training pixels, in 0-255 units.
CIFAR10_MEAN = (125.3, 123.0, 113.9)
CIFAR10_STD = (63.0, 62.1, 66.7)
WHITENING_PATCH = 2  # side of the pixel patches the first, fixed layer decorrelates


def whitening_kernel(images: np.ndarray, eps: float = 5e-4) -> np.ndarray:
    """A fixed first convolution that whitens 2x2 patches of normalised training images (airbench,
    Keller Jordan 2024): the eigenvectors of the patch covariance scaled by 1/sqrt(eigenvalue + eps),
    with their negatives so a ReLU-like activation keeps both signs. Returns a (2, 2, 3, 24) kernel.

    `eps` damps the weakest directions: on the JPEG copy of CIFAR-10 the two smallest eigenvalues
    (fine colour detail, which JPEG mostly discards) are 1.2e-4 and 2e-4, so those channels come
    out with variance 0.2-0.3 instead of 1, and the noise in them is not amplified."""
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
    keras = frameworks.keras()
    layers = keras.layers
    # PyTorch's default initialisation (uniform, ±1/sqrt(fan_in)), which the dirac part is scaled against
    init = keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform")
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_initializer=init, name=f"{name}_conv")(x)
    if pool:
        x = layers.MaxPooling2D(name=f"{name}_pool")(x)
    x = layers.BatchNormalization(momentum=0.6, epsilon=1e-5, scale=False, name=f"{name}_bn")(x)
    return layers.Activation("gelu", name=f"{name}_gelu")(x)


def _block(x, filters: int, name: str):
    """Widen and halve the resolution, then a second convolution (airbench's conv group: no
    shortcut; the dirac initialisation starts every convolution as an identity instead)."""
    x = _conv_bn(x, filters, f"{name}_a", pool=True)
    x = _conv_bn(x, filters, f"{name}_b")
    return frameworks.keras().layers.Identity(name=f"{name}_out")(x)


def dirac_initialise(model) -> None:
    """Start each block convolution as an identity on its input channels (the first `in` filters
    pass their own channel through), as airbench does: an implicit shortcut at initialisation."""
    for layer in model.layers:
        if layer.name.startswith("block") and layer.name.endswith("_conv"):
            (kernel,) = layer.get_weights()  # (3, 3, in, out)
            channels = min(kernel.shape[2:])
            kernel[:, :, :, :channels] = 0
            kernel[1, 1, np.arange(channels), np.arange(channels)] = 1
            layer.set_weights([kernel])


def cifar_cnn(whitening: np.ndarray, widths: tuple[int, ...] = (64, 128, 128), num_classes: int = 10,
              input_size: int = 32):
    """airbench93's network (Keller Jordan, 2024): a fixed whitening layer, then three conv groups
    (conv, max-pool, batch norm, GELU, conv, batch norm, GELU) of 64/128/128 channels, global max
    pooling and a linear layer; about 0.6 M parameters. Raw pixels in, probabilities out.

    The last group's output, `block3_out` (3x3 cells), is the Grad-CAM layer recorded in the
    sidecar; `block2_out` (7x7) gives finer maps.
    """
    keras = frameworks.keras()
    layers = keras.layers
    pixels = keras.Input((input_size, input_size, 3), name="pixels")
    x = layers.Rescaling(1.0, name="as_float")(pixels)
    x = layers.Normalization(mean=list(CIFAR10_MEAN), variance=list(np.square(CIFAR10_STD)), name="normalise")(x)
    whiten = layers.Conv2D(whitening.shape[-1], WHITENING_PATCH, use_bias=False, trainable=False, name="whiten")
    x = whiten(x)
    whiten.set_weights([whitening])
    # No batch norm here: it would scale the directions that `eps` keeps small back up to unit
    # variance, and on this JPEG copy those are mostly compression noise (see whitening_kernel)
    x = layers.Activation("gelu", name="whiten_gelu")(x)
    for index, width in enumerate(widths, start=1):
        x = _block(x, width, f"block{index}")
    x = layers.GlobalMaxPooling2D(name="pool")(x)
    init = keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform")
    logits = layers.Dense(num_classes, use_bias=False, kernel_initializer=init, name="dense")(x)
    logits = layers.Rescaling(1 / 9, name="logits")(logits)  # small logits at the start train faster
    model = keras.Model(pixels, layers.Softmax(name="probabilities")(logits), name="cifar10_cnn")
    dirac_initialise(model)
    return model


def fixed_view(size: int, name: str, rows: np.ndarray | None = None, columns: np.ndarray | None = None):
    """A fixed linear resampling of (size, size, channels) images from built-in layers only, so the
    saved model loads anywhere: the axis to map goes last and a frozen Dense layer applies a
    (size, size) matrix to it (`columns` maps the width, `rows` the height; out[j] = sum_i in[i] M[i, j])."""
    keras = frameworks.keras()
    layers = keras.layers
    steps = [keras.Input((size, size, 3))]
    mapped = []
    for axis_last, matrix, part in (((1, 3, 2), columns, "columns"), ((3, 2, 1), rows, "rows")):
        if matrix is not None:
            dense = layers.Dense(size, use_bias=False, trainable=False, name=f"{name}_{part}")
            steps += [layers.Permute(axis_last), dense, layers.Permute(axis_last)]
            mapped.append((dense, matrix))
    view = keras.Sequential(steps, name=name)
    for dense, matrix in mapped:
        dense.set_weights([matrix.astype(np.float32)])
    return view


def mirror(size: int, name: str = "mirror"):
    """A left-right flip: the anti-diagonal matrix reverses the width."""
    return fixed_view(size, name, columns=np.eye(size)[::-1])


def translation(size: int, offset: int, name: str):
    """The image moved by `offset` pixels along both axes (towards the top left when positive),
    the border filled by reflection as in airbench's test-time augmentation."""
    source = np.abs(np.arange(size) + offset)  # reflect at 0 ...
    source = np.where(source > size - 1, 2 * (size - 1) - source, source)  # ... and at size - 1
    matrix = np.zeros((size, size))
    matrix[source, np.arange(size)] = 1
    return fixed_view(size, name, rows=matrix, columns=matrix)


def mirror_averaged(model, translate: int = 0):
    """`model` (pixels -> ... -> Softmax) as a model that averages the logits of the image and of its
    mirror image: test-time augmentation inside the saved model, so every user of it gets it. With
    `translate`, the image moved by that many pixels diagonally either way (each with its mirror)
    weighs as much again: airbench's mirror-and-translate averaging, 6 passes instead of 2.

    The other branches call the same layer objects again (`call` replays the graph layer by layer;
    calling the model itself would nest a second copy in the saved file), so the graph stays flat
    and every weight is stored once. A layer's `output` is still its first call's, on the
    unmodified image: Grad-CAM reaches it by name.
    """
    keras = frameworks.keras()
    layers = keras.layers
    pixels = model.inputs[0]
    logits = model.layers[-1].input  # the Softmax's input
    size = pixels.shape[1]
    flip = mirror(size)
    to_logits = keras.Model(pixels, logits)

    def with_mirror(view, name):
        return layers.Average(name=name)([to_logits.call(view), to_logits.call(flip(view))])

    averaged = layers.Average(name="mirror_average")([logits, to_logits.call(flip(pixels))])
    if translate:
        moved = [translation(size, offset, f"translate_{'minus' if offset < 0 else 'plus'}_{abs(offset)}")(pixels)
                 for offset in (translate, -translate)]
        shifted = layers.Average(name="translate_average")(
            [with_mirror(view, f"mirror_average_{i}") for i, view in enumerate(moved)])
        averaged = layers.Average(name="test_time_average")([averaged, shifted])
    return keras.Model(pixels, layers.Softmax(name="probabilities")(averaged), name=model.name)


def averaging_description(translate: int) -> str:
    """What `mirror_averaged(model, translate)` averages, for a sidecar's description."""
    return "averages the image and its mirror image" + (f", each also moved by {translate} px either way."
                                                        if translate else ".")
