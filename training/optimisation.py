"""The CNN's optimisation recipe after airbench (Keller Jordan, 2024), in Keras terms: a triangular
learning-rate schedule, Nesterov SGD whose batch-norm biases learn 64 times faster, and lookahead
(the weights are pulled towards a running average every few steps, more strongly near the end)."""

from __future__ import annotations

import numpy as np

from core import frameworks


def triangular_schedule(peak: float, total_steps: int, start: float = 0.2, end: float = 0.07,
                        peak_at: float = 0.23):
    """Linear from start*peak up to peak at `peak_at` of the steps, then down to end*peak."""
    keras = frameworks.keras()
    ops = keras.ops
    peak_step = max(1.0, peak_at * total_steps)

    class Triangular(keras.optimizers.schedules.LearningRateSchedule):
        def __call__(self, step):
            step = ops.cast(step, "float32")
            rising = start + (1 - start) * step / peak_step
            falling = 1 - (1 - end) * (step - peak_step) / max(1.0, total_steps - peak_step)
            return peak * ops.maximum(ops.where(step < peak_step, rising, falling), end)

        def get_config(self):
            return {"peak": peak, "total_steps": total_steps, "start": start, "end": end, "peak_at": peak_at}

    return Triangular()


def bias_boosted_sgd(learning_rate, boosted: set[str], boost: float, **kwargs):
    """Nesterov SGD where the variables whose paths are in `boosted` take `boost` times larger steps
    (their gradients are scaled before the update; weight decay, decoupled, is unchanged)."""
    keras = frameworks.keras()

    class BoostedSGD(keras.optimizers.SGD):
        def apply(self, grads, trainable_variables=None):
            variables = trainable_variables if trainable_variables is not None else self._trainable_variables
            grads = [g * boost if v.path in boosted else g for g, v in zip(grads, variables)]
            return super().apply(grads, trainable_variables)

    return BoostedSGD(learning_rate, nesterov=True, **kwargs)


def batch_norm_biases(model) -> set[str]:
    """Paths of the batch-norm bias (beta) variables of `model`."""
    keras = frameworks.keras()
    return {layer.beta.path for layer in all_layers(model)
            if isinstance(layer, keras.layers.BatchNormalization) and layer.center}


def all_layers(model):
    """Every layer of `model`, those of nested models included."""
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):  # a nested model
            yield from all_layers(layer)


def lookahead(total_steps: int, steps_per_epoch: int, start_epoch: int = 3, every: int = 5,
              base_decay: float = 0.95**5):
    """A callback: from `start_epoch` on, every `every` steps the weights (batch-norm statistics
    included) move to an average that trails them, decay base_decay * (step / total_steps)^3; at
    the end of each epoch they are set to that average."""
    keras = frameworks.keras()

    class Lookahead(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.step, self.average = 0, None

        def on_train_batch_end(self, batch, logs=None):
            self.step += 1
            epoch_ended = (batch + 1) % steps_per_epoch == 0
            if self.step < start_epoch * steps_per_epoch or (self.step % every and not epoch_ended):
                return
            weights = [w for w in self.model.weights if "float" in str(w.dtype)]  # not the augmentation's seeds
            if self.average is None:
                self.average = [np.array(keras.ops.convert_to_numpy(w)) for w in weights]
                return
            decay = 1.0 if self.step % every else base_decay * (self.step / total_steps) ** 3
            for weight, average in zip(weights, self.average):
                average += (1 - decay) * (keras.ops.convert_to_numpy(weight) - average)
                weight.assign(average)

    return Lookahead()
