"""A layer with non-trainable state, for tests only: registered only inside a test
(``with registered(): ...``) and removed after, never offered by the app.

``Center`` subtracts a mean and adds a trainable bias, like the centring half of BatchNorm:
in training mode it uses the batch mean and moves its running mean towards it; at inference
it uses the running mean. So its output at inference depends on its state, which is what
the save/load, inference-copy and set_weights tests need to see.

Shapes: input and output (batch, *input_shape); ``b`` and ``running_mean`` input_shape.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from core.layers.base import Layer, Shape
from core.params import Param
from core.registry import LAYER_TYPES, register_layer

MOMENTUM = 0.5


class Center(Layer):
    type_name = "TestCenter"
    summary = "Test-only: subtracts a running mean of its input."
    category = "regularization"
    has_training_mode = True
    schema = (Param("momentum", "float", minimum=0.0, maximum=1.0, default=MOMENTUM,
                    help="weight of the old running mean in each update"),)

    def __init__(self, momentum: float = MOMENTUM):
        super().__init__(momentum=momentum)

    def param_shapes(self, input_shape: Shape) -> dict[str, Shape]:
        return {"b": tuple(input_shape)}

    def state_shapes(self, input_shape: Shape) -> dict[str, Shape]:
        return {"running_mean": tuple(input_shape)}

    def initial_value(self, name: str, shape: Shape, input_shape: Shape, rng: np.random.Generator) -> np.ndarray:
        return np.zeros(shape)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if training:
            mean = x.mean(axis=0)
            m = self.config["momentum"]
            self.state["running_mean"][...] = m * self.state["running_mean"] + (1 - m) * mean
        else:
            mean = self.state["running_mean"]
        self._training = training
        return x - mean + self.params["b"]

    def backward(self, dy: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        self.grads["b"][...] = dy.sum(axis=0)
        if not need_input_grad:
            return None
        # Training: y = x - mean(x over the batch) + b, so dx = dy - mean(dy over the batch).
        return dy - dy.mean(axis=0) if self._training else dy.copy()


@contextmanager
def registered() -> Iterator[type[Center]]:
    """``Center`` registered as "TestCenter" for the duration of the block, then removed."""
    register_layer(Center)
    try:
        yield Center
    finally:
        LAYER_TYPES.pop(Center.type_name, None)
