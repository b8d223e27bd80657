"""One registry of every named type the engine offers: name -> implementation.

Each kind has one ``Registry`` and one decorator (or registering call):

===================  ==========================  ==============================================
kind                 registered with             entry
===================  ==========================  ==============================================
layer type           ``@register_layer``         a ``Layer`` subclass, under ``type_name``
activation           ``register_activation(f)``  an ``ActivationFunction`` (function, derivative)
loss                 ``@register_loss``          a ``Loss`` subclass, under ``name``
optimizer            ``@register_optimizer``     an ``Optimizer`` subclass, under ``type_name``
initializer          ``@register_initializer``   a function ``(shape, fan_in, fan_out, rng)``
learning-rate        ``@register_schedule``      a class with ``type_name`` (none yet: the
schedule                                         next issues add them)
===================  ==========================  ==============================================

A type describes itself (its class attributes: summary, category, schema, …); everything
that offers or checks types — the GUI's palette and forms, the spec checks, the conformance
harness — asks the registry instead of keeping a list of names. Names are exact: an unknown
one is a ``SpecError`` naming the known ones, never a guess.

Registration happens when the defining module is imported; ``core`` imports every module
that registers something, so ``import core`` fills all registries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from core.errors import SpecError

if TYPE_CHECKING:  # the registered modules import this one to register themselves
    import numpy as np

    from core.layers.activations import ActivationFunction
    from core.layers.base import Layer
    from core.losses import Loss
    from core.optimizers import Optimizer

    Initializer = Callable[[tuple[int, ...], int, int, np.random.Generator], np.ndarray]

EntryT = TypeVar("EntryT")
LayerT = TypeVar("LayerT", bound="type[Layer]")
LossT = TypeVar("LossT", bound="type[Loss]")
OptimizerT = TypeVar("OptimizerT", bound="type[Optimizer]")
InitializerT = TypeVar("InitializerT", bound="Initializer")
ScheduleT = TypeVar("ScheduleT", bound=type)


class Registry(Generic[EntryT]):
    """Exact name -> entry, in registration order. ``kind`` names the kind in messages
    ("layer type", "loss", …)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        #: The entries themselves (a plain dict, published as ``LAYER_TYPES``, ``LOSSES`` …).
        self.entries: dict[str, EntryT] = {}

    def add(self, name: str, entry: EntryT) -> EntryT:
        """Register ``entry`` under ``name``; ValueError (a programming error) when the name
        is empty or already taken."""
        if not isinstance(name, str) or not name or name in self.entries:
            raise ValueError(f"{self.kind} name {name!r} is empty or already registered")
        self.entries[name] = entry
        return entry

    def get(self, name: object) -> EntryT:
        """The entry registered as ``name``; SpecError naming the known names otherwise."""
        if not isinstance(name, str) or name not in self.entries:
            raise SpecError(f"unknown {self.kind} {name!r} (known: {', '.join(self.entries) or 'none'})")
        return self.entries[name]

    def names(self) -> tuple[str, ...]:
        """Every registered name, in registration order."""
        return tuple(self.entries)

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)


LAYER_REGISTRY: Registry[type[Layer]] = Registry("layer type")
ACTIVATION_REGISTRY: Registry[ActivationFunction] = Registry("activation")
LOSS_REGISTRY: Registry[type[Loss]] = Registry("loss")
OPTIMIZER_REGISTRY: Registry[type[Optimizer]] = Registry("optimizer")
INITIALIZER_REGISTRY: Registry[Initializer] = Registry("initializer")
SCHEDULE_REGISTRY: Registry[type[Any]] = Registry("learning-rate schedule")

#: Layer type name -> class (public API name, README "Library API").
LAYER_TYPES: dict[str, type[Layer]] = LAYER_REGISTRY.entries


# -- one decorator per kind ------------------------------------------------------------------

def register_layer(cls: LayerT) -> LayerT:
    """Class decorator: register a layer class under ``cls.type_name`` (must be unique)."""
    LAYER_REGISTRY.add(cls.type_name, cls)
    return cls


def register_activation(function: ActivationFunction) -> ActivationFunction:
    """Register one (function, derivative) entry under ``function.name``."""
    return ACTIVATION_REGISTRY.add(function.name, function)


def register_loss(cls: LossT) -> LossT:
    """Class decorator: register a loss class under ``cls.name``."""
    LOSS_REGISTRY.add(cls.name, cls)
    return cls


def register_optimizer(cls: OptimizerT) -> OptimizerT:
    """Class decorator: register an optimizer class under ``cls.type_name``."""
    OPTIMIZER_REGISTRY.add(cls.type_name, cls)
    return cls


def register_initializer(function: InitializerT) -> InitializerT:
    """Function decorator: register a weight initializer under its function name."""
    INITIALIZER_REGISTRY.add(function.__name__, function)
    return function


def register_schedule(cls: ScheduleT) -> ScheduleT:
    """Class decorator: register a learning-rate schedule under ``cls.type_name``."""
    SCHEDULE_REGISTRY.add(getattr(cls, "type_name", ""), cls)
    return cls


# -- layers: look-ups the spec, the editor and the model file use ----------------------------

def layer_class(type_name: object) -> type[Layer]:
    """The class registered as ``type_name``; SpecError naming the known types otherwise."""
    if not isinstance(type_name, str) or type_name not in LAYER_TYPES:
        known = ", ".join(sorted(LAYER_TYPES))
        raise SpecError(f"unknown layer type {type_name!r} (known types: {known})")
    return LAYER_TYPES[type_name]


def layer_types() -> list[type[Layer]]:
    """The layer classes the editor's palette offers, in palette order."""
    offered = [cls for cls in LAYER_TYPES.values() if cls.palette_order is not None]
    return sorted(offered, key=lambda cls: (cls.palette_order or 0, cls.type_name))


def layer_from_config(config: dict[str, Any]) -> Layer:
    """Construct a layer from ``{"type": name, **settings}``."""
    if not isinstance(config, dict) or "type" not in config:
        raise SpecError(f"a layer must be an object with a 'type' key, not {config!r}")
    settings = {k: v for k, v in config.items() if k != "type"}
    return layer_class(config["type"]).from_config(settings)
