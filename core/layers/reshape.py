"""Flatten: (batch, *shape) -> (batch, prod(shape))."""

from __future__ import annotations

import numpy as np

from core.layers.base import Layer, Shape
from core.registry import register_layer


@register_layer
class Flatten(Layer):
    """Flatten(): joins all per-sample axes into one, in C order (channels, rows, columns)."""

    type_name = "Flatten"
    summary = "Joins channels, rows and columns into one long vector for Dense layers."
    category = "reshape"
    palette_order = 40

    def __init__(self) -> None:
        super().__init__()

    def describe(self) -> str:
        return "Flatten"

    def output_shape(self, input_shape: Shape) -> Shape:
        return (int(np.prod(input_shape, dtype=np.int64)),)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._in_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        return dy.reshape(self._in_shape)
