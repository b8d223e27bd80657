"""Network specs: frozen plain data that round-trips through JSON, and its shape analysis.

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
Analysis never allocates weights: it builds layer objects from settings and asks them for
shapes, parameter counts and multiply-adds.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar

from core import limits
from core.errors import Problem, ShapeError, SpecError
from core.layers.base import Layer, format_shape
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
class LayerInfo:
    """Analysis of one layer. Shapes are per-sample; ``None`` when unknown (after a problem)."""

    index: int
    type: str
    description: str
    input_shape: tuple[int, ...] | None
    output_shape: tuple[int, ...] | None
    param_count: int
    macs: int
    problem: Problem | None = None


@dataclass(frozen=True)
class SpecAnalysis:
    layers: tuple[LayerInfo, ...]
    problems: tuple[Problem, ...]
    output_shape: tuple[int, ...] | None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def total_params(self) -> int:
        return sum(layer.param_count for layer in self.layers)

    @property
    def total_macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    def raise_if_invalid(self) -> None:
        if self.problems:
            raise SpecError(list(self.problems))


def layer_label(index: int, type_name: str) -> str:
    """Human position of a layer: 1-based, e.g. ``layer 4 (Dense)``."""
    return f"layer {index + 1} ({type_name})"


def _located(problem_text: str, index: int, type_name: str) -> str:
    """Prefix a layer's own message with its position, replacing its leading type name."""
    label = layer_label(index, type_name)
    for prefix in (f"{type_name}: ", f"{type_name} "):
        if problem_text.startswith(prefix):
            return label + (": " if prefix.endswith(": ") else " ") + problem_text[len(prefix):]
    return f"{label}: {problem_text}"


def analyze(spec: NetworkSpec, layers: list[Layer] | None = None) -> SpecAnalysis:
    """Shapes, parameter counts, multiply-adds and problems of every layer, without allocating.

    ``layers`` may pass already-constructed layer objects (the Network does) instead of
    creating them from ``spec.layers``. Analysis continues after a settings problem (the
    layer is skipped for shape purposes only if its shape cannot be known).
    """
    infos: list[LayerInfo] = []
    problems: list[Problem] = []
    input_shape = tuple(spec.input_shape)
    shape: tuple[int, ...] | None = input_shape
    if not spec.layers and not layers:
        problems.append(Problem("the network has no layers", None, "add a Dense layer", "no_layers"))
    count = len(layers) if layers is not None else len(spec.layers)
    too_many = limits.layer_count_problem(count)
    if too_many:  # analysing a million layers would itself take minutes
        too_many_layers = Problem(f"the network cannot be built: {too_many} (limit MAX_LAYERS)", None,
                                  "remove layers", "too_many_layers")
        return SpecAnalysis((), (too_many_layers,), None)
    input_values = limits.sample_size_problem(math.prod(input_shape))
    if input_values:
        problems.append(Problem(f"the input shape {format_shape(input_shape)} has {input_values} (limit "
                                "MAX_VALUES_PER_SAMPLE)", None, "use a smaller input", "input_too_large"))
    for i in range(count):
        type_name = layers[i].type_name if layers is not None else spec.layers[i].type
        layer: Layer | None = None
        problem: Problem | None = None
        try:
            layer = layers[i] if layers is not None else spec.layers[i].create()
        except SpecError as exc:
            p = exc.problems[0]
            problem = Problem(_located(p.message, i, type_name), i, p.fix, p.code)
        in_shape = shape
        out_shape = None
        params = macs = 0
        if layer is not None and shape is not None:
            try:
                out_shape = layer.output_shape(shape)
                params = layer.param_count(shape)
                macs = layer.macs(shape)
            except ShapeError as exc:
                p = exc.problems[0]
                problem = Problem(_located(p.message, i, type_name), i, p.fix, p.code)
        if problem is None and out_shape is not None:
            too_big = limits.sample_size_problem(math.prod(out_shape))
            if too_big:
                problem = Problem(_located(f"its output {format_shape(out_shape)} has {too_big} (limit "
                                           "MAX_VALUES_PER_SAMPLE)", i, type_name), i,
                                  "use fewer units or filters", "output_too_large")
        description = layer.describe() if layer is not None else type_name
        infos.append(LayerInfo(i, type_name, description, in_shape, out_shape, params, macs, problem))
        if problem is not None:
            problems.append(problem)
        shape = out_shape
    problems.extend(_loss_problems(spec, infos))
    too_many = limits.parameter_count_problem(sum(info.param_count for info in infos))
    if too_many:
        problems.append(Problem(f"the network is too large to build: {too_many} (limit MAX_PARAMETERS)", None,
                                "use fewer units or filters", "too_many_parameters"))
    return SpecAnalysis(tuple(infos), tuple(problems), shape)


def _loss_problems(spec: NetworkSpec, infos: list[LayerInfo]) -> list[Problem]:
    if not infos or infos[-1].output_shape is None:
        return []
    out = infos[-1].output_shape
    if len(out) != 1:
        return [Problem(f"the network's output {format_shape(out)} is not flat, so no loss can compare it with targets",
                        len(infos) - 1, "end the network with Flatten and a Dense layer", "output_not_flat")]
    return []


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
