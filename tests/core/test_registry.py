"""core.registry: one registry per kind of named type, exact look-ups, one decorator each."""

from __future__ import annotations

import pytest

import core
from core import SpecError
from core.layers import Layer
from core.registry import (
    ACTIVATION_REGISTRY,
    INITIALIZER_REGISTRY,
    LAYER_REGISTRY,
    LAYER_TYPES,
    LOSS_REGISTRY,
    OPTIMIZER_REGISTRY,
    SCHEDULE_REGISTRY,
    Registry,
    layer_class,
    layer_types,
)

REGISTRIES = [LAYER_REGISTRY, ACTIVATION_REGISTRY, LOSS_REGISTRY, OPTIMIZER_REGISTRY, INITIALIZER_REGISTRY,
              SCHEDULE_REGISTRY]


def test_every_kind_holds_the_engines_types_after_import_core():
    assert set(LAYER_REGISTRY.names()) >= {"Dense", "Conv2D", "MaxPool2D", "Flatten", "Dropout", "Activation"}
    assert set(ACTIVATION_REGISTRY.names()) >= {"relu", "leaky_relu", "sigmoid", "tanh", "softmax", "linear"}
    assert LOSS_REGISTRY.names()[:3] == ("mse", "cross_entropy", "binary_cross_entropy")
    assert OPTIMIZER_REGISTRY.names()[:2] == ("SGD", "Adam")
    assert "glorot_uniform" in INITIALIZER_REGISTRY and "he_normal" in INITIALIZER_REGISTRY
    assert SCHEDULE_REGISTRY.names() == ()  # ready for the learning-rate schedules of the next issues


def test_public_tables_are_the_registries_own_entries():
    # README "Library API" names keep working and can never drift from the registry.
    assert core.LAYER_TYPES is LAYER_REGISTRY.entries is LAYER_TYPES
    assert core.LOSSES is LOSS_REGISTRY.entries
    assert core.OPTIMIZERS is OPTIMIZER_REGISTRY.entries
    assert core.get_loss("mse").name == "mse"
    assert core.layer_class("Dense") is core.Dense
    assert core.OPTIMIZERS["Adam"] is core.Adam


def test_entries_are_registered_under_their_own_names():
    for name, cls in LAYER_REGISTRY.entries.items():
        assert cls.type_name == name
    for name, fn in ACTIVATION_REGISTRY.entries.items():
        assert fn.name == name
    for name, loss in LOSS_REGISTRY.entries.items():
        assert loss.name == name
    for name, opt in OPTIMIZER_REGISTRY.entries.items():
        assert opt.type_name == name
    for name, init in INITIALIZER_REGISTRY.entries.items():
        assert init.__name__ == name


@pytest.mark.parametrize("registry", REGISTRIES, ids=lambda r: r.kind)
def test_unknown_names_are_a_spec_error_naming_the_known_ones(registry):
    with pytest.raises(SpecError) as info:
        registry.get("Nonexistent")
    message = str(info.value)
    assert f"unknown {registry.kind} 'Nonexistent'" in message
    for name in registry.names():
        assert name in message
    # Exact names only: no case folding, no guessing, non-strings refused the same way.
    for name in registry.names()[:1]:
        with pytest.raises(SpecError):
            registry.get(name.upper() if name != name.upper() else name.lower())
    with pytest.raises(SpecError):
        registry.get(["list"])


def test_engine_look_ups_go_through_the_registries():
    with pytest.raises(SpecError, match=r"unknown loss 'hinge' \(known: mse, cross_entropy"):
        core.get_loss("hinge")
    with pytest.raises(SpecError, match=r"unknown optimizer 'RMSprop' \(known: SGD, Adam"):
        core.optimizers.optimizer_from_config({"type": "RMSprop"})
    with pytest.raises(SpecError, match=r"unknown initializer 'ones' \(known: glorot_uniform"):
        core.initializers.get_initializer("ones")
    with pytest.raises(SpecError, match="unknown layer type 'Dense2'"):
        layer_class("Dense2")


def test_a_registry_refuses_empty_and_duplicate_names():
    registry: Registry[int] = Registry("thing")
    assert registry.add("a", 1) == 1
    with pytest.raises(ValueError, match="already registered"):
        registry.add("a", 2)
    with pytest.raises(ValueError, match="empty"):
        registry.add("", 3)
    assert registry.get("a") == 1 and registry.names() == ("a",) and len(registry) == 1 and "a" in registry
    assert list(registry) == ["a"]


def test_the_layer_decorator_refuses_a_second_class_under_a_taken_name():
    class Impostor(Layer):
        type_name = "Dense"

    with pytest.raises(ValueError, match="'Dense' is empty or already registered"):
        core.registry.register_layer(Impostor)
    assert LAYER_TYPES["Dense"] is core.Dense


def test_palette_is_ordered_by_each_classs_palette_order():
    order = [cls.type_name for cls in layer_types()]
    assert order[:3] == ["Dense", "Conv2D", "MaxPool2D"] and order[-2:] == ["Dropout", "Activation"]
    assert [cls.palette_order for cls in layer_types()] == sorted(cls.palette_order for cls in layer_types())


def test_activation_choices_come_from_the_registry():
    (function,) = core.Activation.schema
    assert function.choices == ACTIVATION_REGISTRY.names()


def test_every_registered_loss_and_optimizer_describes_itself_for_the_gui():
    """Titles, summaries and setting labels live on the classes (the GUI keeps no table)."""
    from core.losses import LOSSES
    from core.optimizers import OPTIMIZERS

    for name, loss in LOSSES.items():
        assert loss.title and len(loss.summary) > 20, name
    for name, optimizer in OPTIMIZERS.items():
        assert len(optimizer.summary) > 20, name
        assert all(param.label for param in optimizer.schema), name
