"""One-click repairs: the spec that fixes a problem ``analyze`` found, when the fix is obvious.

``quick_fix(spec, problem)`` dispatches on ``problem.code`` (never on the wording) and builds
the repaired spec from the pure edits in ``core.spec.edit``; ``None`` when the engine's advice
has no automatic form (e.g. ``needs_image_input``: the input shape follows the dataset).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import Problem
from core.registry import layer_class
from core.spec.analysis import analyze, layer_label
from core.spec.edit import insert_layer, move_layer, remove_layer, set_layer_setting
from core.spec.model import LayerSpec, NetworkSpec

#: Units of the Dense layer a quick fix adds when the spec gives no better hint.
FALLBACK_CLASSES = 10


@dataclass(frozen=True)
class QuickFix:
    """A one-click repair: ``label`` names it ("Insert Flatten", also the undo text),
    ``spec`` is the repaired spec, ``row`` the layer to show afterwards (or None)."""

    label: str
    spec: NetworkSpec
    row: int | None = None


def output_units_hint(spec: NetworkSpec) -> int:
    """Units for a Dense output layer a fix adds: the last Dense layer's units (the network
    usually already ends with one sized for the classes), else ``FALLBACK_CLASSES``."""
    for layer in reversed(spec.layers):
        if layer.type == "Dense" and isinstance(layer.config.get("units"), int):
            return int(layer.config["units"])
    return FALLBACK_CLASSES


def quick_fix(spec: NetworkSpec, problem: Problem, n_classes: int | None = None) -> QuickFix | None:
    """The repaired spec for ``problem`` (one of ``analyze(spec).problems``), or None when
    the engine's suggestion has no obvious automatic form (e.g. ``needs_image_input``: the
    input shape follows the dataset).

    Dispatches on ``problem.code`` only, never on the wording of the message or the fix:

    ============================  ==============================================================
    ``no_layers``                 add Dense(units)
    ``needs_flat_input``          insert Flatten before the layer
    ``softmax_needs_flat_input``  move the softmax to the end if that repairs the stack, else
                                  insert Flatten and Dense(units) before it
    ``kernel_too_large``          padding 'same' (layers that have a ``padding`` setting)
    ``pool_too_large``            remove the pooling layer
    ``output_not_flat``           append Flatten and Dense(units)
    ============================  ==============================================================

    ``n_classes`` sizes a Dense layer the fix adds; by default ``output_units_hint(spec)``.
    """
    index = problem.layer_index
    units = int(n_classes) if n_classes is not None else output_units_hint(spec)
    dense = LayerSpec("Dense", {"units": units})
    flatten = LayerSpec("Flatten")
    code = problem.code
    if code == "no_layers" and not spec.layers:
        return QuickFix(f"Add Dense {units}", spec.with_layers([dense]), 0)
    if index is None or not 0 <= index < len(spec.layers):
        return None
    layer = spec.layers[index]
    if code == "needs_flat_input":
        return QuickFix("Insert Flatten", insert_layer(spec, index, flatten), index)
    if code == "softmax_needs_flat_input":
        moved = _softmax_to_end(spec, index)
        if moved is not None:
            return moved
        fixed = spec.with_layers((*spec.layers[:index], flatten, dense, *spec.layers[index:]))
        return QuickFix(f"Insert Flatten and Dense {units}", fixed, index)
    if code == "kernel_too_large" and any(p.name == "padding" for p in layer_class(layer.type).schema):
        # 'same' keeps the kernel the user chose and always fits: output = ceil(input / stride).
        return QuickFix("Use padding 'same'", set_layer_setting(spec, index, "padding", "same"), index)
    if code == "pool_too_large":
        return QuickFix(f"Remove {layer_label(index, layer.type)}", remove_layer(spec, index),
                        min(index, len(spec.layers) - 2) if len(spec.layers) > 1 else None)
    if code == "output_not_flat":
        fixed = spec.with_layers((*spec.layers, flatten, dense))
        return QuickFix(f"Add Flatten and Dense {units}", fixed, len(spec.layers))
    return None


def _softmax_to_end(spec: NetworkSpec, index: int) -> QuickFix | None:
    """When a softmax sits above the layers that flatten the output (e.g. it was moved up by
    mistake), moving it back to the end is the fix, provided that makes the whole stack valid."""
    last = len(spec.layers) - 1
    if index == last:
        return None
    moved = move_layer(spec, index, last)
    if not analyze(moved).ok:
        return None
    return QuickFix("Move softmax to the end", moved, last)
