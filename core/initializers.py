"""Weight initializers. Every draw comes from the ``numpy.random.Generator`` passed in.

``fan_in`` / ``fan_out`` are the number of inputs / outputs of one unit: for Dense (in, out)
weights they are in and out; for Conv2D (out_c, in_c, kh, kw) weights they are
in_c*kh*kw and out_c*kh*kw.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from core.registry import INITIALIZER_REGISTRY, register_initializer

Initializer = Callable[[tuple[int, ...], int, int, np.random.Generator], np.ndarray]


@register_initializer
def glorot_uniform(shape, fan_in, fan_out, rng):
    """Glorot/Xavier uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out)). Good for tanh/sigmoid."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape)


@register_initializer
def glorot_normal(shape, fan_in, fan_out, rng):
    """Glorot/Xavier normal: N(0, 2 / (fan_in + fan_out))."""
    return rng.standard_normal(shape) * np.sqrt(2.0 / (fan_in + fan_out))


@register_initializer
def he_uniform(shape, fan_in, fan_out, rng):
    """He/Kaiming uniform: U(-a, a), a = sqrt(6 / fan_in). Good for ReLU."""
    limit = np.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, size=shape)


@register_initializer
def he_normal(shape, fan_in, fan_out, rng):
    """He/Kaiming normal: N(0, 2 / fan_in)."""
    return rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)


@register_initializer
def lecun_normal(shape, fan_in, fan_out, rng):
    """LeCun normal: N(0, 1 / fan_in), i.e. seed 2's ``randn(...) / sqrt(fan_in)``."""
    return rng.standard_normal(shape) / np.sqrt(fan_in)


@register_initializer
def lecun_uniform(shape, fan_in, fan_out, rng):
    """LeCun uniform: U(-a, a), a = sqrt(3 / fan_in)."""
    limit = np.sqrt(3.0 / fan_in)
    return rng.uniform(-limit, limit, size=shape)


@register_initializer
def zeros(shape, fan_in, fan_out, rng):
    """All zeros (biases). Draws nothing from ``rng``."""
    return np.zeros(shape)


#: Initializer name -> function, in registration order (the registry's own dict).
INITIALIZERS: dict[str, Initializer] = INITIALIZER_REGISTRY.entries


def get_initializer(name: str) -> Initializer:
    """The registered initializer ``name``; SpecError naming the known ones otherwise."""
    return INITIALIZER_REGISTRY.get(name)
