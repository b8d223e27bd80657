"""Element-wise activations and the per-sample softmax, as one configurable layer."""

from __future__ import annotations

from types import MappingProxyType
from typing import cast

import numpy as np

from ..params import Param
from ..registry import register_layer
from .base import Layer, Shape

#: Slope of leaky_relu for negative inputs (PyTorch's default).
LEAKY_RELU_SLOPE = 0.01

FUNCTIONS = ("relu", "leaky_relu", "sigmoid", "tanh", "softmax", "linear")


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function (no overflow for large |z|)."""
    # 0.5 * (1 + tanh(z / 2)) is exact algebra and never overflows, unlike 1 / (1 + exp(-z)).
    y = np.multiply(z, 0.5)
    np.tanh(y, out=y)
    y += 1
    y *= 0.5
    return cast(np.ndarray, y)


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax over the class axis, separately for each sample (rows sum to 1)."""
    shifted = z - z.max(axis=axis, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=axis, keepdims=True)
    return cast(np.ndarray, shifted)


@register_layer
class Activation(Layer):
    """Activation(function): same shape in and out.

    ``softmax`` normalises over the last axis per sample and needs a flat input.
    Derivatives are taken at the pre-activation input (not at the output, seed 2's bug).
    """

    type_name = "Activation"
    summary = "Applies a non-linearity to every value (softmax turns scores into probabilities)."
    category = "activation"
    palette_order = 60
    default_settings = MappingProxyType({"function": "relu"})
    schema = (
        Param("function", "choice", choices=FUNCTIONS,
              help="non-linearity applied to every value (softmax: per sample, over classes)"),
    )

    def __init__(self, function: str):
        super().__init__(function=function)
        self.function: str = self.config["function"]

    def describe(self) -> str:
        return self.function

    def output_shape(self, input_shape: Shape) -> Shape:
        if self.function == "softmax" and len(input_shape) != 1:
            raise self.shape_error(
                f"softmax needs a flat input (one score per class) but receives {input_shape}",
                "insert Flatten and a Dense layer before it",
            )
        return tuple(input_shape)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        f = self.function
        y: np.ndarray
        if f == "relu":
            y = np.maximum(x, 0)
        elif f == "leaky_relu":
            y = np.where(x > 0, x, x * LEAKY_RELU_SLOPE)
        elif f == "sigmoid":
            y = sigmoid(x)
        elif f == "tanh":
            y = np.tanh(x)
        elif f == "softmax":
            y = softmax(x)
        else:  # linear
            y = x.copy()
        # Cache what backward needs. For relu/leaky we need the sign of the input; for the
        # others the output itself carries the derivative (s' = s(1-s), tanh' = 1 - t^2).
        self._x = x
        self._y = y
        return y

    def backward(self, dy: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        f = self.function
        # Masks by multiplication: ~10x faster than np.where on conv-sized arrays.
        if f == "relu":
            return dy * (self._x > 0)
        if f == "leaky_relu":
            scale = np.where(self._x > 0, dy.dtype.type(1), dy.dtype.type(LEAKY_RELU_SLOPE))
            return cast(np.ndarray, dy * scale)
        if f == "sigmoid":
            y = self._y
            return cast(np.ndarray, dy * y * (1 - y))
        if f == "tanh":
            y = self._y
            return cast(np.ndarray, dy * (1 - y * y))
        if f == "softmax":
            s = self._y
            # Jacobian-vector product of softmax, per sample: s * (dy - <dy, s>).
            return cast(np.ndarray, s * (dy - np.sum(dy * s, axis=-1, keepdims=True)))
        return cast(np.ndarray, dy.copy())
