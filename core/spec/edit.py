"""Editing a network spec's layer stack: pure functions that return a new ``NetworkSpec``.

The layer editor (and scripts) build every structural edit from these, so the GUI holds no
list arithmetic of its own:

- ``default_layer(type)`` — a new layer with the palette's sensible defaults;
- ``insert_layer`` / ``remove_layer`` / ``duplicate_layer`` / ``move_layer`` /
  ``set_layer_setting`` — one edit each, indexes 0-based, out-of-range indexes refused;
- ``diff_layers(old, new)`` — what one edit did to a layer tuple (insert at 2, move 4→1…),
  so a list view can update its rows (and keep the selection) instead of resetting;

One-click repairs of the problems ``analyze`` finds live beside this module, in
``core.spec.fixes`` (they are made of these edits).

Nothing here allocates weights: checks go through ``analyze`` and the layer schemas.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.errors import SpecError
from core.registry import layer_class, layer_types
from core.spec.analysis import layer_label
from core.spec.model import LayerSpec, NetworkSpec


def palette_types() -> tuple[str, ...]:
    """Layer types the editor's palette offers, in palette order (each class's ``palette_order``)."""
    return tuple(cls.type_name for cls in layer_types())


def default_settings(type_name: str) -> Mapping[str, Any]:
    """Settings a new layer of ``type_name`` starts with (its class's ``default_settings``)."""
    return layer_class(type_name).default_settings


#: Snapshot of ``palette_types()`` at import (every built-in layer is registered by then);
#: kept for existing callers. Code that may run after a late registration calls the function.
PALETTE_TYPES: tuple[str, ...] = palette_types()

def default_layer(type_name: str) -> LayerSpec:
    """A new layer of ``type_name`` with its class's ``default_settings`` (Dense 64, Conv2D 8
    3×3 same, MaxPool2D 2, Dropout 0.25, Activation relu) on top of its schema defaults.
    SpecError for an unknown type or one with required settings and no default."""
    cls = layer_class(type_name)
    settings = dict(cls.default_settings)
    missing = [p.name for p in cls.schema if p.required and p.name not in settings]
    if missing:
        raise SpecError(f"{type_name} has no default for {', '.join(missing)}")
    layer = LayerSpec(type_name, settings)
    layer.create()  # validates the defaults against the schema
    return layer


def _check_index(spec: NetworkSpec, index: int, *, allow_end: bool = False) -> int:
    count = len(spec.layers)
    limit = count if allow_end else count - 1
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index <= limit:
        where = f"0..{limit}" if limit >= 0 else "none (the network has no layers)"
        raise IndexError(f"layer index {index!r} is out of range (valid: {where})")
    return index


def insert_layer(spec: NetworkSpec, index: int, layer: LayerSpec) -> NetworkSpec:
    """``spec`` with ``layer`` inserted so that it becomes layer ``index`` (0..len)."""
    _check_index(spec, index, allow_end=True)
    layers = list(spec.layers)
    layers.insert(index, layer)
    return spec.with_layers(layers)


def remove_layer(spec: NetworkSpec, index: int) -> NetworkSpec:
    """``spec`` without layer ``index``."""
    _check_index(spec, index)
    return spec.with_layers(spec.layers[:index] + spec.layers[index + 1:])


def duplicate_layer(spec: NetworkSpec, index: int) -> NetworkSpec:
    """``spec`` with a copy of layer ``index`` right after it (at ``index + 1``)."""
    _check_index(spec, index)
    return insert_layer(spec, index + 1, spec.layers[index])


def move_layer(spec: NetworkSpec, index: int, to: int) -> NetworkSpec:
    """``spec`` with layer ``index`` moved so that it ends up at position ``to``."""
    _check_index(spec, index)
    _check_index(spec, to)
    layers = list(spec.layers)
    layers.insert(to, layers.pop(index))
    return spec.with_layers(layers)


def set_layer_setting(spec: NetworkSpec, index: int, name: str, value: Any) -> NetworkSpec:
    """``spec`` with setting ``name`` of layer ``index`` set to ``value``.

    The value is checked against the layer's schema (SpecError naming the layer and the
    allowed range otherwise); pairs may be given as lists or tuples.
    """
    _check_index(spec, index)
    layer = spec.layers[index]
    params = {p.name: p for p in layer_class(layer.type).schema}
    if name not in params:
        raise SpecError(f"{layer_label(index, layer.type)} has no setting {name!r} "
                        f"(it takes {', '.join(params) or 'no settings'})")
    value = params[name].check(value, layer_label(index, layer.type))
    if isinstance(value, tuple):
        value = list(value)
    layers = list(spec.layers)
    layers[index] = layer.with_config(**{name: value})
    return spec.with_layers(layers)


# -- what an edit did ------------------------------------------------------------------------

@dataclass(frozen=True)
class LayerDiff:
    """How ``new`` differs from ``old`` (tuples of layers).

    kind:
        ``"none"``    identical;
        ``"insert"``  one layer inserted at ``index``;
        ``"remove"``  layer ``index`` removed;
        ``"move"``    the layer at ``index`` moved to ``to`` (everything else kept in order);
        ``"update"``  same length, the layers from ``index`` to ``to`` (inclusive) changed
                      in place (settings edits);
        ``"replace"`` anything else (several inserts, a new document); ``index`` is the
                      first position that differs.
    """

    kind: str
    index: int | None = None
    to: int | None = None


def diff_layers(old: Sequence[Any], new: Sequence[Any]) -> LayerDiff:
    """Classify the edit that turned ``old`` into ``new`` (any sequences of comparable items)."""
    old, new = tuple(old), tuple(new)
    if old == new:
        return LayerDiff("none")
    first = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), min(len(old), len(new)))
    if len(new) == len(old) + 1 and new[:first] + new[first + 1:] == old:
        return LayerDiff("insert", first)
    if len(old) == len(new) + 1 and old[:first] + old[first + 1:] == new:
        return LayerDiff("remove", first)
    if len(old) != len(new):
        return LayerDiff("replace", first)
    last = max(i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b)
    # One layer moved: either old[last] moved up to `first`, or old[first] moved down to `last`.
    if new[first] == old[last] and new[first + 1:last + 1] == old[first:last]:
        return LayerDiff("move", last, first)
    if new[last] == old[first] and new[first:last] == old[first + 1:last + 1]:
        return LayerDiff("move", first, last)
    return LayerDiff("update", first, last)
