"""Network specs: frozen plain data that round-trips through JSON (its shape analysis is
``core.spec.analysis``).

JSON form (user-visible: model files and the command line use it)::

    {"input_shape": [1, 28, 28],
     "layers": [{"type": "Conv2D", "filters": 8, "kernel_size": 3, "stride": 1, "padding": "same"},
                {"type": "Activation", "function": "relu"},
                {"type": "MaxPool2D", "pool_size": 2},
                {"type": "Flatten"},
                {"type": "Dense", "units": 10},
                {"type": "Activation", "function": "softmax"}],
     "loss": "cross_entropy",
     "optimizer": {"type": "Adam", "learning_rate": 0.001},
     "seed": 0}

Each layer's keys are its constructor's arguments; omitted ones take their defaults.
Optional top-level key ``"dtype"``: ``"float32"`` (default) or ``"float64"``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar

from core import limits
from core.errors import SpecError
from core.layers.base import Layer
from core.losses import LOSSES
from core.optimizers import optimizer_from_config
from core.params import Param, validate_config
from core.registry import layer_class

DTYPES = ("float32", "float64")


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    return value


@contextmanager
def spec_errors_only() -> Iterator[None]:
    """Turn every exception a hostile spec can provoke into a SpecError with a sentence
    (SpecError itself passes through unchanged)."""
    try:
        yield
    except SpecError:
        raise
    except RecursionError:
        raise SpecError("the network spec is nested too deeply to be a network spec") from None
    except MemoryError:
        raise SpecError("there is not enough memory to build this network: use fewer or smaller layers") from None
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        raise SpecError(f"the network spec is invalid ({exc})") from None


@dataclass(frozen=True)
class LayerSpec:
    """One layer: its registered type name and its settings (constructor arguments)."""

    type: str
    config: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        config = dict(self.config)
        # Canonical form: a valid config gets its defaults filled in, so two specs that
        # build the same layer compare equal. An invalid one is kept as given, so editors
        # can still show it with its problem.
        try:
            cls = layer_class(self.type)
            config = cls.from_config(_thaw(config)).get_config()
        except SpecError:
            pass
        object.__setattr__(self, "config", _freeze(config))

    @classmethod
    def of(cls, type: str, **config: Any) -> LayerSpec:
        return cls(type, config)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LayerSpec:
        if not isinstance(data, Mapping) or not isinstance(data.get("type"), str):
            raise SpecError(f"a layer must be an object with a 'type' key, not {data!r}")
        return cls(data["type"], {k: v for k, v in data.items() if k != "type"})

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **_thaw(self.config)}

    def with_config(self, **changes: Any) -> LayerSpec:
        return LayerSpec(self.type, {**_thaw(self.config), **changes})

    def create(self) -> Layer:
        """A new, unbuilt layer object; SpecError if the type or a setting is invalid."""
        return layer_class(self.type).from_config(_thaw(self.config))


@dataclass(frozen=True)
class NetworkSpec:
    """A whole network as plain data. See the module docstring for the JSON form."""

    input_shape: tuple[int, ...]
    layers: tuple[LayerSpec, ...] = ()
    loss: str = "cross_entropy"
    optimizer: Mapping[str, Any] = field(default_factory=lambda: {"type": "Adam", "learning_rate": 0.001})
    seed: int = 0
    dtype: str = "float32"

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_shape", tuple(int(d) for d in self.input_shape))
        layers = tuple(layer if isinstance(layer, LayerSpec) else LayerSpec.from_dict(layer) for layer in self.layers)
        object.__setattr__(self, "layers", layers)
        optimizer = _thaw(self.optimizer) if isinstance(self.optimizer, Mapping) else self.optimizer
        with contextlib.suppress(SpecError, TypeError, ValueError):  # canonical form, as for layers
            optimizer = optimizer_from_config(dict(optimizer)).to_dict()
        object.__setattr__(self, "optimizer", _freeze(dict(optimizer)))

    # -- JSON ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = {
            "input_shape": list(self.input_shape),
            "layers": [layer.to_dict() for layer in self.layers],
            "loss": self.loss,
            "optimizer": _thaw(self.optimizer),
            "seed": self.seed,
        }
        if self.dtype != "float32":
            data["dtype"] = self.dtype
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NetworkSpec:
        """Parse and check the top-level structure (not the layer stack: see ``analyze``).

        Raises SpecError, and nothing else, for any input."""
        with spec_errors_only():
            return cls._from_dict(data)

    @classmethod
    def _from_dict(cls, data: Mapping[str, Any]) -> NetworkSpec:
        if not isinstance(data, Mapping):
            raise SpecError(f"a network spec must be a JSON object, not {type(data).__name__}")
        known = {"input_shape", "layers", "loss", "optimizer", "seed", "dtype"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpecError(f"unknown key(s) in network spec: {', '.join(unknown)} "
                            f"(allowed: {', '.join(sorted(known))})")
        if "input_shape" not in data:
            raise SpecError("the network spec needs an 'input_shape', e.g. [784] or [1, 28, 28]")
        shape = data["input_shape"]
        if (not isinstance(shape, (list, tuple)) or not shape or len(shape) > 3
                or not all(isinstance(d, int) and not isinstance(d, bool) and 0 < d <= 1_000_000 for d in shape)):
            raise SpecError(f"'input_shape' must be a list of 1 to 3 positive integers, not {shape!r}")
        layers = data.get("layers", [])
        if not isinstance(layers, (list, tuple)):
            raise SpecError("'layers' must be a list of layer objects")
        too_many = limits.layer_count_problem(len(layers))
        if too_many:  # before creating a single layer: a huge list must not cost time or memory
            raise SpecError(f"the network cannot be built: {too_many} (limit MAX_LAYERS)")
        loss = data.get("loss", "cross_entropy")
        if not isinstance(loss, str) or loss not in LOSSES:
            raise SpecError(f"unknown loss {loss!r}: 'loss' must be one of {', '.join(LOSSES)}")
        seed = data.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**63:
            raise SpecError(f"'seed' must be a non-negative integer, not {seed!r}")
        dtype = data.get("dtype", "float32")
        if dtype not in DTYPES:
            raise SpecError(f"'dtype' must be one of {', '.join(DTYPES)}, not {dtype!r}")
        optimizer = data.get("optimizer", {"type": "Adam", "learning_rate": 0.001})
        if not isinstance(optimizer, Mapping):
            raise SpecError(f"'optimizer' must be an object such as {{\"type\": \"Adam\", \"learning_rate\": 0.001}}, "
                            f"not {optimizer!r}")
        optimizer_from_config(dict(optimizer))  # validates
        return cls(tuple(shape), tuple(LayerSpec.from_dict(layer) for layer in layers), loss, dict(optimizer),
                   seed, dtype)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> NetworkSpec:
        with spec_errors_only():
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise SpecError(f"the network spec is not valid JSON (line {exc.lineno}, column {exc.colno}: "
                                f"{exc.msg})") from None
            return cls.from_dict(data)

    # -- editing helpers (return new specs) ------------------------------------------------------
    def with_layers(self, layers: tuple[LayerSpec, ...] | list[LayerSpec]) -> NetworkSpec:
        return NetworkSpec(self.input_shape, tuple(layers), self.loss, _thaw(self.optimizer), self.seed, self.dtype)

    def replace(self, **changes: Any) -> NetworkSpec:
        data = {"input_shape": self.input_shape, "layers": self.layers, "loss": self.loss,
                "optimizer": _thaw(self.optimizer), "seed": self.seed, "dtype": self.dtype}
        data.update(changes)
        return NetworkSpec(**data)


@dataclass(frozen=True)
class TrainingConfig:
    """How to train (separate from the network): JSON round trip like NetworkSpec."""

    epochs: int = 10
    batch_size: int = 32
    validation_split: float = 0.1
    shuffle: bool = True

    SCHEMA: ClassVar[tuple[Param, ...]] = (
        Param("epochs", "int", default=10, minimum=1, maximum=100_000, help="passes over the training set"),
        Param("batch_size", "int", default=32, minimum=1, maximum=1_000_000,
              help="samples per update: small = noisy but frequent steps"),
        Param("validation_split", "float", default=0.1, minimum=0.0, maximum=0.9,
              help="fraction of the training data held out to watch for overfitting"),
        Param("shuffle", "bool", default=True, help="reshuffle the samples every epoch"),
    )

    def __post_init__(self) -> None:
        validate_config("training", self.SCHEMA, self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        return {"epochs": self.epochs, "batch_size": self.batch_size,
                "validation_split": self.validation_split, "shuffle": self.shuffle}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainingConfig:
        if not isinstance(data, Mapping):
            raise SpecError("training settings must be a JSON object")
        return cls(**validate_config("training", cls.SCHEMA, data))
