"""The layer contract shared by every layer type.

A layer is constructed from settings only, computes its output shape by arithmetic,
allocates its parameters in ``build`` from a generator it is handed, and implements
``forward`` / ``backward``. Shapes exchanged with ``output_shape`` are per-sample (no batch
axis); arrays passed to ``forward`` / ``backward`` carry a leading batch axis.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from core.errors import ShapeError
from core.params import Param, validate_config

Shape = tuple[int, ...]


class Layer:
    """Base class. Subclasses set ``type_name`` and ``schema`` and override the hooks.

    Attributes after ``build``:
        params: name -> array (e.g. ``{"W": (in, out), "b": (out,)}`` for Dense), trainable
        grads:  name -> array of the same shape, filled by ``backward``
        state:  name -> array of non-trainable state (Keras's ``trainable=False`` weights,
                e.g. a running mean of shape (features,)): updated by ``forward`` in
                training mode, never by an optimizer, never in ``Network.parameters()``;
                saved in model files and carried by ``get_weights`` / inference copies.
                Empty for layers without state (every built-in layer today).
        input_shape / shape: per-sample input and output shapes
    """

    type_name: ClassVar[str] = ""
    schema: ClassVar[tuple[Param, ...]] = ()

    # -- how the type describes itself to the GUI and the checks (one place per type) ----------
    #: One line about what the layer does (editor form header, palette tooltip).
    summary: ClassVar[str] = ""
    #: Family the editor colours by: "dense", "convolution", "pooling", "reshape",
    #: "regularization", "activation".
    category: ClassVar[str] = ""
    #: Position in the editor's palette (ascending); None keeps the type out of the palette.
    palette_order: ClassVar[int | None] = None
    #: Settings a newly added layer starts with (the schema supplies everything else).
    default_settings: ClassVar[Mapping[str, Any]] = MappingProxyType({})
    #: Per-sample input rank the layer needs (1 flat, 3 image), None for any rank.
    input_rank: ClassVar[int | None] = None
    #: True for layers whose ``forward`` differs between training and inference.
    has_training_mode: ClassVar[bool] = False

    def __init__(self, **config: Any):
        self.config: dict[str, Any] = validate_config(self.type_name, self.schema, config)
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.state: dict[str, np.ndarray] = {}
        self.input_shape: Shape | None = None
        self.shape: Shape | None = None
        self.dtype: np.dtype = np.dtype(np.float32)
        self.built = False

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        """Construct from a settings dict (as in a spec), refusing unknown or missing keys
        with a SpecError rather than a TypeError."""
        return cls(**validate_config(cls.type_name, cls.schema, config))

    # -- description -------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, exactly (pairs as lists so they are JSON-ready)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.config.items()}

    def describe(self) -> str:
        """Short human description of the key settings, e.g. ``"Dense 128"``."""
        settings = ", ".join(f"{k}={v}" for k, v in self.get_config().items())
        return f"{self.type_name}({settings})"

    def __repr__(self) -> str:
        return self.describe()

    # -- shape arithmetic (pure; never allocates) -----------------------------------------
    def output_shape(self, input_shape: Shape) -> Shape:
        """Per-sample output shape for a per-sample input shape; ShapeError if it does not fit."""
        return tuple(input_shape)

    def param_shapes(self, input_shape: Shape) -> dict[str, Shape]:
        """Name -> shape of each parameter this layer would allocate for ``input_shape``."""
        return {}

    def state_shapes(self, input_shape: Shape) -> dict[str, Shape]:
        """Name -> shape of each non-trainable state array this layer would keep for
        ``input_shape`` (e.g. ``{"running_mean": (features,)}``); empty by default."""
        return {}

    def param_count(self, input_shape: Shape) -> int:
        return int(sum(int(np.prod(s)) for s in self.param_shapes(input_shape).values()))

    def macs(self, input_shape: Shape) -> int:
        """Multiply-adds per sample (0 for layers without a matrix product)."""
        return 0

    # -- parameters -----------------------------------------------------------------------
    def build(self, input_shape: Shape, rng: np.random.Generator, dtype: np.dtype | type = np.float32) -> None:
        """Allocate ``params`` and ``grads`` for ``input_shape`` from ``rng``."""
        input_shape = tuple(int(d) for d in input_shape)
        self.shape = self.output_shape(input_shape)
        self.input_shape = input_shape
        self.dtype = np.dtype(dtype)
        self.params = {
            name: np.ascontiguousarray(self.initial_value(name, shape, input_shape, rng), dtype=self.dtype)
            for name, shape in self.param_shapes(input_shape).items()
        }
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}
        state_shapes = self.state_shapes(input_shape)
        shared = sorted(set(state_shapes) & set(self.params))
        if shared:  # one key space per layer: layers.<i>.<name> must name one array
            raise RuntimeError(f"{self.type_name} declares {shared[0]!r} both as a parameter and as state")
        # Initial state draws nothing from ``rng``: adding a stateful layer type never shifts
        # the generator stream other layers' initial weights come from.
        self.state = {
            name: np.ascontiguousarray(self.initial_state(name, shape, input_shape), dtype=self.dtype)
            for name, shape in state_shapes.items()
        }
        self.on_build(rng)
        self.built = True

    def initial_value(self, name: str, shape: Shape, input_shape: Shape, rng: np.random.Generator) -> np.ndarray:
        """Initial value of parameter ``name``; layers with parameters override this."""
        raise NotImplementedError(f"{self.type_name} declares parameter {name} but no initial value")

    def initial_state(self, name: str, shape: Shape, input_shape: Shape) -> np.ndarray:
        """Initial value of state array ``name`` (zeros by default; a running variance
        would start at ones)."""
        return np.zeros(shape, dtype=self.dtype)

    def on_build(self, rng: np.random.Generator) -> None:
        """Hook for layers that need more than parameters (e.g. Dropout keeps the generator)."""

    # -- computation ------------------------------------------------------------------------
    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """``x``: (batch, *input_shape) -> (batch, *output_shape). Never mutates ``x``."""
        raise NotImplementedError

    def backward(self, dy: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        """``dy``: dE/dY (batch, *output_shape) -> dE/dX (batch, *input_shape).

        Fills ``grads`` (overwriting, not accumulating). Never mutates ``dy`` or the forward
        cache. With ``need_input_grad=False`` (the first layer during training) it may skip
        computing dE/dX and return None.
        """
        raise NotImplementedError

    def backward_input(self, dy: np.ndarray) -> np.ndarray:
        """``backward(dy)`` when dE/dX is needed: dy (batch, *output_shape) -> dE/dX
        (batch, *input_shape), which every layer then returns."""
        dx = self.backward(dy, need_input_grad=True)
        if dx is None:
            raise RuntimeError(f"{self.type_name}.backward returned no input gradient")
        return dx

    # -- helpers for subclasses ---------------------------------------------------------------
    def shape_error(self, message: str, fix: str | None = None, code: str | None = None) -> ShapeError:
        from core.errors import Problem

        return ShapeError(Problem(message, None, fix, code))

    def _check_built(self) -> None:
        if not self.built:
            raise self._not_built()

    def _not_built(self) -> RuntimeError:
        return RuntimeError(f"{self.type_name} layer is not built: call build(input_shape, rng) or use a Network")

    def built_input_shape(self) -> Shape:
        """The per-sample input shape of a built layer; RuntimeError if it is not built."""
        if self.input_shape is None:
            raise self._not_built()
        return self.input_shape

    def built_shape(self) -> Shape:
        """The per-sample output shape of a built layer; RuntimeError if it is not built."""
        if self.shape is None:
            raise self._not_built()
        return self.shape


def format_shape(shape: Shape) -> str:
    """``(8, 13, 13)``; ``(784,)`` for flat shapes."""
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
