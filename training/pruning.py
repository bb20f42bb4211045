"""Channel pruning of the CIFAR-10 CNN: narrower convolutions, same recipe everywhere else.

A convolution's output channel is worth what it passes on: its mean absolute activation after the
GELU (on a sample of training images) times the L1 norm of the next layer's weights that read it.
The lowest-ranked channels of every convolution go; the network is rebuilt at the new widths and
each surviving weight is copied across. Removing a channel is exactly what zeroing the next
layer's weights on it does (tests/test_pruning.py checks that), so the pruned model starts from its
source minus what the dropped channels contributed.
"""

from __future__ import annotations

import numpy as np

from core import frameworks
from training.architectures import cifar_cnn

BLOCKS = 3  # cifar_cnn's conv groups: block1..block3, each an "a" and a "b" convolution


def conv_names() -> list[str]:
    """The prunable convolutions in graph order: block1_a, block1_b, block2_a, ..."""
    return [f"block{i}_{part}" for i in range(1, BLOCKS + 1) for part in ("a", "b")]


def channel_scores(model, images: np.ndarray) -> dict[str, np.ndarray]:
    """Each convolution's channels scored by activation x outgoing weight (see the module's docstring).
    The last convolution feeds a global max pool, so its activation is the pooled one."""
    keras = frameworks.keras()
    names = conv_names()
    taps = [model.get_layer(f"{name}_gelu").output for name in names[:-1]] + [model.get_layer("pool").output]
    activations = keras.Model(model.inputs[0], taps).predict(images.astype(np.float32), batch_size=250, verbose=0)
    scores = {}
    for name, activation, reader in zip(names, activations, _readers(model)):
        mean_activation = np.abs(activation).reshape(-1, activation.shape[-1]).mean(axis=0)
        scores[name] = mean_activation * _outgoing_l1(reader)
    return scores


def kept_channels(scores: dict[str, np.ndarray], keep: float) -> dict[str, np.ndarray]:
    """The indices (ascending, so the channel order is unchanged) of each convolution's best channels.
    Both convolutions of a group keep the same number, since cifar_cnn gives a group one width."""
    kept = {}
    for name, score in scores.items():
        count = max(1, round(keep * len(score)))
        kept[name] = np.sort(np.argsort(score)[::-1][:count])
    return kept


def pruned_copy(model, kept: dict[str, np.ndarray]):
    """A new cifar_cnn at the kept widths carrying `model`'s weights on the kept channels (`model`
    is the plain network or its mirror-averaged serving form; the copy is the plain network)."""
    widths = tuple(len(kept[f"block{i}_a"]) for i in range(1, BLOCKS + 1))
    whitening = model.get_layer("whiten").get_weights()[0]
    pruned = cifar_cnn(whitening, widths)
    incoming = np.arange(whitening.shape[-1])  # the whitening layer keeps all its channels
    for name in conv_names():
        out = kept[name]
        (kernel,) = model.get_layer(f"{name}_conv").get_weights()
        pruned.get_layer(f"{name}_conv").set_weights([kernel[:, :, incoming][:, :, :, out]])
        pruned.get_layer(f"{name}_bn").set_weights([w[out] for w in model.get_layer(f"{name}_bn").get_weights()])
        incoming = out
    (dense,) = model.get_layer("dense").get_weights()
    pruned.get_layer("dense").set_weights([dense[incoming]])
    return pruned


def zeroed_copy(model, kept: dict[str, np.ndarray]):
    """`model` (either form) at full width with the next layer's weights on every dropped channel set
    to zero: what pruning must be equivalent to (the tests' reference)."""
    keras = frameworks.keras()
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    for name, reader in zip(conv_names(), _readers(copy)):
        weights = reader.get_weights()
        dropped = np.setdiff1d(np.arange(weights[0].shape[-2]), kept[name])
        weights[0][..., dropped, :] = 0  # axis -2: a kernel's input channels, a dense kernel's rows
        reader.set_weights(weights)
    return copy


def widths(model) -> tuple[int, ...]:
    """The channels of each conv group of a cifar_cnn."""
    return tuple(model.get_layer(f"block{i}_a_conv").filters for i in range(1, BLOCKS + 1))


def parameter_count(model) -> int:
    return int(sum(np.prod(w.shape) for w in model.weights if "float" in str(w.dtype)))


def _readers(model) -> list:
    """For each convolution (conv_names' order), the layer that reads its output channels."""
    names = conv_names()
    return [model.get_layer(f"{following}_conv") for following in names[1:]] + [model.get_layer("dense")]


def _outgoing_l1(reader) -> np.ndarray:
    """Per input channel of `reader` (a Conv2D or Dense), the L1 norm of the weights reading it."""
    kernel = reader.get_weights()[0]
    return np.abs(kernel).reshape(-1, kernel.shape[-2], kernel.shape[-1]).sum(axis=(0, 2))
