"""Fully connected layer: y = x @ W + b."""

from __future__ import annotations

from types import MappingProxyType
from typing import cast

import numpy as np

from core.initializers import INITIALIZERS, get_initializer
from core.layers.base import Layer, Shape, format_shape
from core.params import Param
from core.registry import register_layer


@register_layer
class Dense(Layer):
    """Dense(units): (batch, in) -> (batch, units). W: (in, units), b: (units,).

    Needs a flat per-sample input; after Conv2D / MaxPool2D insert Flatten.
    """

    type_name = "Dense"
    summary = "Fully connected: every output is a weighted sum of all inputs plus a bias."
    category = "dense"
    palette_order = 10
    default_settings = MappingProxyType({"units": 64})
    input_rank = 1
    schema = (
        Param("units", "int", minimum=1, maximum=100_000, help="number of output neurons"),
        Param("kernel_initializer", "choice", default="glorot_uniform", choices=tuple(INITIALIZERS),
              help="how the weights are drawn before training"),
        Param("use_bias", "bool", default=True, help="add a learned bias to each output"),
    )

    def __init__(self, units: int, kernel_initializer: str = "glorot_uniform", use_bias: bool = True):
        super().__init__(units=units, kernel_initializer=kernel_initializer, use_bias=use_bias)

    def describe(self) -> str:
        return f"Dense {self.config['units']}"

    def output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 1:
            raise self.shape_error(
                f"Dense needs a flat input but receives {format_shape(input_shape)}",
                "insert Flatten before it",
                code="needs_flat_input",
            )
        return (self.config["units"],)

    def param_shapes(self, input_shape: Shape) -> dict[str, Shape]:
        self.output_shape(input_shape)
        shapes: dict[str, Shape] = {"W": (input_shape[0], self.config["units"])}
        if self.config["use_bias"]:
            shapes["b"] = (self.config["units"],)
        return shapes

    def macs(self, input_shape: Shape) -> int:
        return int(input_shape[0]) * int(self.config["units"])

    def initial_value(self, name: str, shape: Shape, input_shape: Shape, rng: np.random.Generator) -> np.ndarray:
        if name == "b":
            return np.zeros(shape)
        return get_initializer(self.config["kernel_initializer"])(shape, shape[0], shape[1], rng)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """x: (batch, in) -> (batch, units)."""
        self._check_built()
        self._x = x
        y = x @ self.params["W"]
        if "b" in self.params:
            y += self.params["b"]
        return cast(np.ndarray, y)

    def backward(self, dy: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        """dy: (batch, units) -> dx: (batch, in). dW = x^T dy, db = sum over the batch."""
        np.matmul(self._x.T, dy, out=self.grads["W"])
        if "b" in self.grads:
            np.sum(dy, axis=0, out=self.grads["b"])
        if not need_input_grad:
            return None
        return cast(np.ndarray, dy @ self.params["W"].T)
