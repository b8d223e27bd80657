"""Inverted dropout: scales kept units by 1/(1-rate) during training; identity at inference."""

from __future__ import annotations

from types import MappingProxyType
from typing import cast

import numpy as np

from core.layers.base import Layer
from core.params import Param
from core.registry import register_layer


@register_layer
class Dropout(Layer):
    """Dropout(rate): zeroes each value with probability ``rate`` while training.

    The mask is drawn from the generator the network hands to ``build`` (the run's seeded
    generator), so runs are reproducible.
    """

    type_name = "Dropout"
    summary = "While training, zeroes a random fraction of values so the network cannot rely on any one."
    category = "regularization"
    palette_order = 50
    default_settings = MappingProxyType({"rate": 0.25})
    has_training_mode = True
    schema = (
        Param("rate", "float", minimum=0.0, maximum=1.0, exclusive_maximum=True,
              help="fraction of values set to zero during training, in [0, 1)"),
    )

    def __init__(self, rate: float):
        super().__init__(rate=rate)

    def describe(self) -> str:
        return f"Dropout {self.config['rate']:g}"

    def on_build(self, rng: np.random.Generator) -> None:
        self._rng = rng

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        rate = self.config["rate"]
        if not training or rate == 0.0:
            self._mask = None
            return cast(np.ndarray, x.copy())
        self._check_built()
        keep = 1.0 - rate
        # The mask holds the scale factor directly: 0 or 1/keep.
        mask = (self._rng.random(x.shape, dtype=x.dtype) < keep).astype(x.dtype)
        mask *= x.dtype.type(1.0 / keep)
        self._mask = mask
        return cast(np.ndarray, x * mask)

    def backward(self, dy: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        if self._mask is None:
            return cast(np.ndarray, dy.copy())
        return cast(np.ndarray, dy * self._mask)
