"""Losses. Every loss is a mean over the batch (and, for MSE/BCE, over output units).

Each loss offers two paths:
- ``value`` / ``gradient`` on the network's outputs, exactly as named (cross-entropy on
  probabilities, binary cross-entropy on probabilities, MSE on any outputs);
- for cross-entropy and binary cross-entropy, a fused path on the *pre-activation* logits
  (``value_from_logits`` / ``gradient_from_logits``) that never takes log(0) and whose
  gradient is simply (p - y) / batch. The network switches to it automatically when it
  ends with the matching activation (softmax / sigmoid).

Targets are always given in the network's output shape (one-hot for classes); the
conversion from integer labels is ``targets_for``.
"""

from __future__ import annotations

import numpy as np

from core.errors import SpecError
from core.layers.activations import sigmoid, softmax
from core.registry import LOSS_REGISTRY, register_loss

_EPS = 1e-12


class Loss:
    """Base class. A subclass sets ``name`` (the spec's ``"loss"`` value) and registers
    itself with ``@register_loss``."""

    name = ""
    #: What the GUI shows for this loss ("Cross-entropy"); empty: the name.
    title = ""
    #: One line about when to use it (the training settings' tooltip).
    summary = ""
    #: Activation function whose fused path this loss provides (None: no fused path).
    fused_activation: str | None = None

    def value(self, outputs: np.ndarray, targets: np.ndarray) -> float:
        raise NotImplementedError

    def gradient(self, outputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def value_from_logits(self, logits: np.ndarray, targets: np.ndarray) -> float:
        raise NotImplementedError

    def gradient_from_logits(self, logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def outputs_from_logits(self, logits: np.ndarray) -> np.ndarray:
        """The activation the fused path applies, for reporting outputs during training."""
        raise NotImplementedError


@register_loss
class MeanSquaredError(Loss):
    """mean((outputs - targets)^2) over every element, as in both seeds.

    gradient: 2 (outputs - targets) / outputs.size (the same reduction as the value).
    """

    name = "mse"
    summary = "mean squared error between outputs and one-hot targets (the seeds' loss)"
    title = "Mean squared error"

    def value(self, outputs, targets):
        diff = outputs - targets
        return float(np.vdot(diff, diff) / diff.size)

    def gradient(self, outputs, targets):
        diff = outputs - targets
        diff *= diff.dtype.type(2.0 / diff.size)
        return diff


@register_loss
class CrossEntropy(Loss):
    """Categorical cross-entropy: mean over the batch of -sum_k t_k log p_k.

    ``value``/``gradient`` take probabilities (batch, classes). The fused path takes the
    logits before softmax: loss = logsumexp(z) - <t, z>, gradient (softmax(z) - t) / batch.
    """

    name = "cross_entropy"
    summary = "softmax cross-entropy for one class per sample; end the network with softmax"
    title = "Cross-entropy"
    fused_activation = "softmax"

    def value(self, outputs, targets):
        p = np.clip(outputs, _EPS, 1.0)
        return float(-np.sum(targets * np.log(p)) / outputs.shape[0])

    def gradient(self, outputs, targets):
        p = np.clip(outputs, _EPS, 1.0)
        return -targets / p / outputs.shape[0]

    def value_from_logits(self, logits, targets):
        shift = logits.max(axis=-1, keepdims=True)
        z = logits - shift
        logsumexp = np.log(np.exp(z).sum(axis=-1))
        return float(np.sum(logsumexp - np.sum(targets * z, axis=-1)) / logits.shape[0])

    def gradient_from_logits(self, logits, targets):
        g = softmax(logits)
        g -= targets
        g *= g.dtype.type(1.0 / logits.shape[0])
        return g

    def outputs_from_logits(self, logits):
        return softmax(logits)


@register_loss
class BinaryCrossEntropy(Loss):
    """Binary cross-entropy, mean over every element: -[t log p + (1-t) log(1-p)].

    Fused path on logits z: max(z, 0) - z t + log(1 + exp(-|z|)), gradient (sigmoid(z) - t) / size.
    """

    name = "binary_cross_entropy"
    summary = "sigmoid cross-entropy for yes/no outputs; end the network with sigmoid"
    title = "Binary cross-entropy"
    fused_activation = "sigmoid"

    def value(self, outputs, targets):
        p = np.clip(outputs, _EPS, 1 - 1e-7)
        return float(-np.mean(targets * np.log(p) + (1 - targets) * np.log1p(-p)))

    def gradient(self, outputs, targets):
        p = np.clip(outputs, _EPS, 1 - 1e-7)
        return (p - targets) / (p * (1 - p)) / outputs.size

    def value_from_logits(self, logits, targets):
        z = logits
        return float(np.mean(np.maximum(z, 0) - z * targets + np.log1p(np.exp(-np.abs(z)))))

    def gradient_from_logits(self, logits, targets):
        g = sigmoid(logits)
        g -= targets
        g *= g.dtype.type(1.0 / logits.size)
        return g

    def outputs_from_logits(self, logits):
        return sigmoid(logits)


#: Loss name -> class, in registration order (public API name; the registry's own dict).
LOSSES: dict[str, type[Loss]] = LOSS_REGISTRY.entries

def get_loss(name: str | Loss) -> Loss:
    if isinstance(name, Loss):
        return name
    return LOSS_REGISTRY.get(name)()


def targets_for(y: np.ndarray, output_units: int, dtype: np.dtype) -> np.ndarray:
    """Targets in the network's output shape.

    y: integer labels (n,) -> one-hot (n, output_units), or for a single output unit the
    labels themselves as a column (n, 1); anything already 2-D is cast to ``dtype``.
    """
    y = np.asarray(y)
    if (y.ndim == 1 and np.issubdtype(y.dtype, np.integer)) or (y.ndim == 1 and output_units > 1):
        if output_units == 1:
            return y.astype(dtype).reshape(-1, 1)
        labels = y.astype(np.int64)
        if labels.size and (labels.min() < 0 or labels.max() >= output_units):
            raise SpecError(
                f"labels go up to {labels.max()} but the network has {output_units} outputs: "
                f"set the last Dense layer's units to at least {labels.max() + 1}"
            )
        onehot = np.zeros((labels.shape[0], output_units), dtype=dtype)
        onehot[np.arange(labels.shape[0]), labels] = 1
        return onehot
    if y.ndim == 1:
        return y.astype(dtype).reshape(-1, 1)
    return y.astype(dtype, copy=False)
