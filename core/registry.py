"""Exact layer type name -> layer class. Unknown names are errors, never guessed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from .errors import SpecError

if TYPE_CHECKING:  # the layers import this module to register themselves
    from .layers.base import Layer

LayerT = TypeVar("LayerT", bound="Layer")

LAYER_TYPES: dict[str, type[Layer]] = {}


def register_layer(cls: type[LayerT]) -> type[LayerT]:
    """Class decorator: register ``cls`` under ``cls.type_name`` (must be unique)."""
    name = cls.type_name
    if not name or name in LAYER_TYPES:
        raise ValueError(f"layer type name {name!r} is empty or already registered")
    LAYER_TYPES[name] = cls
    return cls


def layer_class(type_name: str) -> type[Layer]:
    """The class registered as ``type_name``; SpecError naming the known types otherwise."""
    if not isinstance(type_name, str) or type_name not in LAYER_TYPES:
        known = ", ".join(sorted(LAYER_TYPES))
        raise SpecError(f"unknown layer type {type_name!r} (known types: {known})")
    return LAYER_TYPES[type_name]


def layer_types() -> list[type[Layer]]:
    """The layer classes the editor's palette offers, in palette order."""
    offered = [cls for cls in LAYER_TYPES.values() if cls.palette_order is not None]
    return sorted(offered, key=lambda cls: (cls.palette_order, cls.type_name))


def layer_from_config(config: dict[str, Any]) -> Layer:
    """Construct a layer from ``{"type": name, **settings}``."""
    if not isinstance(config, dict) or "type" not in config:
        raise SpecError(f"a layer must be an object with a 'type' key, not {config!r}")
    settings = {k: v for k, v in config.items() if k != "type"}
    return layer_class(config["type"]).from_config(settings)
