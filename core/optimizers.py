"""Optimizers: they receive (key, param, grad) triples and own all of their state.

Layers never optimize; the network hands its parameters to an optimizer under stable keys
(``layers.3.W``) so the state can be saved and restored exactly. Update rules follow
PyTorch's conventions (independent checks compare against it):

SGD            p -= lr * g
  momentum     v = mu * v + g;            p -= lr * v
  nesterov     v = mu * v + g;            p -= lr * (g + mu * v)
Adam           m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
               p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
weight_decay   (L2) g <- g + wd * p before the rule above, for every parameter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from core.errors import SpecError
from core.layers._compiled import adam_update
from core.params import Param, validate_config
from core.registry import OPTIMIZER_REGISTRY, register_optimizer

ParamTriple = tuple[str, np.ndarray, np.ndarray]
#: Parameters of at least this many values take Adam's compiled one-pass update (measured per
#: float32 parameter: 100,352 values 173 µs compiled vs 162 NumPy; 200,000: 339 vs 347;
#: 401,408, the shipped model's Dense: 678 vs 916).
COMPILED_ADAM_FROM = 1 << 18

_LR = Param("learning_rate", "float", minimum=0.0, maximum=10.0, exclusive_minimum=True, log_scale=True,
            label="Learning rate", help="step size of each update; too high diverges, too low crawls")
_WD = Param("weight_decay", "float", default=0.0, minimum=0.0, maximum=1.0,
            log_scale=True, zero_means_off=True, decimals=6, label="L2 weight decay",
            help="L2 penalty: pulls every weight towards zero by this factor per step")


class Optimizer:
    """Base class. A subclass sets ``type_name`` and its ``Param`` ``schema``, implements
    ``_update`` and registers itself with ``@register_optimizer``."""

    type_name = ""
    #: One line about the optimizer (the training settings' tooltip).
    summary = ""
    schema: tuple[Param, ...] = ()

    def __init__(self, **config: Any):
        self.config = validate_config(self.type_name, self.schema, config)
        self.state: dict[str, dict[str, np.ndarray]] = {}
        self.iterations = 0
        self._scratch_buffers: dict[tuple[tuple[int, ...], np.dtype], tuple[np.ndarray, np.ndarray]] = {}

    @property
    def learning_rate(self) -> float:
        return self.config["learning_rate"]

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self.config["learning_rate"] = _LR.check(value, self.type_name)

    def get_config(self) -> dict[str, Any]:
        return dict(self.config)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type_name, **self.config}

    def step(self, params: Iterable[ParamTriple]) -> None:
        """Update every param in place from its grad."""
        self.iterations += 1
        wd = self.config.get("weight_decay", 0.0)
        for key, param, grad in params:
            if wd:
                grad = grad + param.dtype.type(wd) * param
            self._update(key, param, grad)

    def _update(self, key: str, param: np.ndarray, grad: np.ndarray) -> None:
        raise NotImplementedError

    def _scratch(self, like: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Two work arrays shaped like ``like``, reused by every step (never saved: not state)."""
        found = self._scratch_buffers.get((like.shape, like.dtype))
        if found is None:
            found = self._scratch_buffers[(like.shape, like.dtype)] = (np.empty_like(like), np.empty_like(like))
        return found

    def _slot(self, key: str, name: str, like: np.ndarray) -> np.ndarray:
        slots = self.state.setdefault(key, {})
        if name not in slots:
            slots[name] = np.zeros_like(like)
        return slots[name]

    # -- persistence -------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{"iterations": int, "slots": {"layers.0.W/m": array, ...}}`` (copies)."""
        slots = {f"{key}/{name}": arr.copy() for key, d in self.state.items() for name, arr in d.items()}
        return {"iterations": self.iterations, "slots": slots}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.iterations = int(state["iterations"])
        self.state = {}
        for full, arr in state["slots"].items():
            key, _, name = full.rpartition("/")
            self.state.setdefault(key, {})[name] = np.array(arr, copy=True)

    def reset(self) -> None:
        self.state = {}
        self.iterations = 0


@register_optimizer
class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum."""

    type_name = "SGD"
    summary = "Stochastic gradient descent: steps against the gradient, optionally with momentum"
    schema = (
        replace(_LR, default=0.01),
        Param("momentum", "float", default=0.0, minimum=0.0, maximum=1.0, exclusive_maximum=True,
              label="Momentum", step=0.01, decimals=4,
              help="fraction of the previous step carried into this one (0 = plain SGD)"),
        Param("nesterov", "bool", default=False, label="Nesterov momentum",
              help="look ahead along the momentum before taking the gradient"),
        _WD,
    )

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0):
        super().__init__(learning_rate=learning_rate, momentum=momentum, nesterov=nesterov,
                         weight_decay=weight_decay)
        if self.config["nesterov"] and self.config["momentum"] == 0.0:
            raise SpecError("SGD: 'nesterov' needs a momentum above 0: set momentum (e.g. 0.9) or turn nesterov off")

    def _update(self, key, param, grad):
        lr = param.dtype.type(self.config["learning_rate"])
        mu = self.config["momentum"]
        if mu == 0.0:
            param -= lr * grad
            return
        v = self._slot(key, "velocity", param)
        v *= param.dtype.type(mu)
        v += grad
        if self.config["nesterov"]:
            param -= lr * (grad + param.dtype.type(mu) * v)
        else:
            param -= lr * v


@register_optimizer
class Adam(Optimizer):
    """Adam with bias correction (Kingma & Ba), PyTorch's defaults."""

    type_name = "Adam"
    summary = "Adam: per-weight step sizes from running averages of the gradients (a robust default)"
    schema = (
        replace(_LR, default=0.001),
        Param("beta1", "float", default=0.9, minimum=0.0, maximum=1.0, exclusive_maximum=True,
              label="β₁ (beta1)", step=0.01, decimals=4,
              help="decay of the running mean of gradients"),
        Param("beta2", "float", default=0.999, minimum=0.0, maximum=1.0, exclusive_maximum=True,
              label="β₂ (beta2)", step=0.01, decimals=4,
              help="decay of the running mean of squared gradients"),
        Param("epsilon", "float", default=1e-8, minimum=0.0, maximum=1.0, exclusive_minimum=True,
              log_scale=True, decimals=12, label="ε (epsilon)",
              help="added to the denominator to avoid division by zero"),
        _WD,
    )

    def __init__(self, learning_rate: float = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 epsilon: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(learning_rate=learning_rate, beta1=beta1, beta2=beta2, epsilon=epsilon,
                         weight_decay=weight_decay)

    def _update(self, key, param, grad):
        c = self.config
        t = self.iterations
        dt = param.dtype.type
        b1, b2 = c["beta1"], c["beta2"]
        m = self._slot(key, "m", param)
        v = self._slot(key, "v", param)
        bias1 = 1 - b1 ** t
        bias2 = 1 - b2 ** t
        # One compiled pass when numba is there and the arrays outgrow the cache (the same
        # operations, so the same bits); smaller ones are faster as NumPy's cached passes.
        if param.size >= COMPILED_ADAM_FROM and adam_update(
                param, grad, m, v, (b1, b2, 1 - b1, 1 - b2, 1.0 / np.sqrt(bias2), c["epsilon"],
                                    c["learning_rate"] / bias1)):
            return
        # The textbook expressions, each pass written into one of two reused buffers instead
        # of a fresh temporary (same operations, same rounding; ~1/3 faster on big layers).
        scaled, denom = self._scratch(param)
        np.multiply(grad, dt(1 - b1), out=scaled)
        m *= dt(b1)
        m += scaled  # m = b1 m + (1 - b1) g
        np.multiply(grad, grad, out=scaled)
        scaled *= dt(1 - b2)
        v *= dt(b2)
        v += scaled  # v = b2 v + (1 - b2) g²
        np.sqrt(v, out=denom)
        denom *= dt(1.0 / np.sqrt(bias2))
        denom += dt(c["epsilon"])  # sqrt(v / bias2) + eps
        step = np.divide(m, denom, out=denom)
        step *= dt(c["learning_rate"] / bias1)
        param -= step


#: Optimizer type name -> class, in registration order (public API name; the registry's own dict).
OPTIMIZERS: dict[str, type[Optimizer]] = OPTIMIZER_REGISTRY.entries


def optimizer_from_config(config: Optimizer | Mapping[str, Any] | str) -> Optimizer:
    """``{"type": "Adam", "learning_rate": 0.001}`` -> Adam(...)."""
    if isinstance(config, Optimizer):
        return config
    if isinstance(config, str):
        config = {"type": config}
    if not isinstance(config, dict) or "type" not in config:
        raise SpecError(f"an optimizer must be an object with a 'type' key, not {config!r}")
    name = config["type"]
    cls = OPTIMIZER_REGISTRY.get(name)
    # Validate first: the constructors' keyword arguments would turn an unknown or
    # non-string key into a TypeError.
    settings = validate_config(name, cls.schema, {k: v for k, v in config.items() if k != "type"})
    return cls(**settings)
