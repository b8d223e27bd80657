"""core.spec.edit: structural edits return new specs, edit classification, quick fixes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core import LayerSpec, NetworkSpec, Problem, SpecError, analyze
from core.registry import LAYER_TYPES, layer_types
from core.spec.edit import (
    PALETTE_TYPES,
    default_layer,
    default_settings,
    diff_layers,
    duplicate_layer,
    insert_layer,
    move_layer,
    palette_types,
    remove_layer,
    set_layer_setting,
)
from core.spec.fixes import output_units_hint, quick_fix

CNN = {"input_shape": [1, 28, 28], "layers": [
    {"type": "Conv2D", "filters": 8, "kernel_size": 3},
    {"type": "Activation", "function": "relu"},
    {"type": "MaxPool2D", "pool_size": 2},
    {"type": "Flatten"},
    {"type": "Dense", "units": 10},
    {"type": "Activation", "function": "softmax"}]}


def spec_of(layers, input_shape=(1, 28, 28)) -> NetworkSpec:
    return NetworkSpec.from_dict({"input_shape": list(input_shape), "layers": layers})


def types(spec: NetworkSpec) -> list[str]:
    return [layer.type for layer in spec.layers]


def test_palette_defaults_are_the_documented_ones_and_valid():
    assert default_layer("Dense").config["units"] == 64
    conv = default_layer("Conv2D").config
    assert (conv["filters"], conv["kernel_size"], conv["padding"]) == (8, 3, "same")
    assert default_layer("MaxPool2D").config["pool_size"] == 2
    assert default_layer("Dropout").config["rate"] == 0.25
    assert default_layer("Activation").config["function"] == "relu"
    for name in PALETTE_TYPES:
        default_layer(name).create()
    with pytest.raises(SpecError, match="unknown layer type 'Dense2'"):
        default_layer("Dense2")


def test_palette_and_defaults_are_derived_from_the_layer_classes():
    assert palette_types() == PALETTE_TYPES == tuple(cls.type_name for cls in layer_types())
    assert PALETTE_TYPES[:3] == ("Dense", "Conv2D", "MaxPool2D") and PALETTE_TYPES[-1] == "Activation"
    for name, cls in LAYER_TYPES.items():
        assert default_settings(name) == cls.default_settings
        layer = default_layer(name)
        assert {k: layer.config[k] for k in cls.default_settings} == dict(cls.default_settings)


def test_insert_remove_duplicate_move_return_new_specs_and_keep_the_rest():
    spec = spec_of(CNN["layers"])
    flat = spec_of(CNN["layers"])  # an equal copy: the edits must not mutate their input
    assert types(insert_layer(spec, 0, default_layer("Dropout")))[:2] == ["Dropout", "Conv2D"]
    assert types(insert_layer(spec, 6, default_layer("Dropout")))[-1] == "Dropout"
    assert types(remove_layer(spec, 3)) == ["Conv2D", "Activation", "MaxPool2D", "Dense", "Activation"]
    dup = duplicate_layer(spec, 0)
    assert types(dup)[:2] == ["Conv2D", "Conv2D"] and dup.layers[0] == dup.layers[1]
    assert types(move_layer(spec, 3, 0))[:2] == ["Flatten", "Conv2D"]
    assert types(move_layer(spec, 0, 5))[-1] == "Conv2D"
    assert spec == flat
    # everything but the layers is kept
    edited = remove_layer(spec.replace(loss="mse", seed=7), 0)
    assert (edited.loss, edited.seed, edited.input_shape) == ("mse", 7, (1, 28, 28))


@pytest.mark.parametrize("call", [
    lambda s: insert_layer(s, 7, default_layer("Flatten")),
    lambda s: insert_layer(s, -1, default_layer("Flatten")),
    lambda s: remove_layer(s, 6),
    lambda s: duplicate_layer(s, -1),
    lambda s: move_layer(s, 0, 6),
    lambda s: set_layer_setting(s, 9, "units", 3),
])
def test_out_of_range_indexes_are_refused_with_the_valid_range(call):
    with pytest.raises(IndexError, match=r"valid: 0\.\."):
        call(spec_of(CNN["layers"]))


def test_set_layer_setting_validates_against_the_schema():
    spec = spec_of(CNN["layers"])
    assert set_layer_setting(spec, 4, "units", 128).layers[4].config["units"] == 128
    assert set_layer_setting(spec, 0, "kernel_size", (3, 5)).layers[0].config["kernel_size"] == (3, 5)
    assert set_layer_setting(spec, 2, "stride", None).layers[2].config["stride"] is None
    with pytest.raises(SpecError, match=r"layer 5 \(Dense\).*'units' must be between 1 and 100,000"):
        set_layer_setting(spec, 4, "units", 0)
    with pytest.raises(SpecError, match="must be in \\[0, 1\\)"):
        set_layer_setting(spec_of([{"type": "Dropout", "rate": 0.5}], (4,)), 0, "rate", 1.0)
    with pytest.raises(SpecError, match="has no setting 'unit'"):
        set_layer_setting(spec, 4, "unit", 3)


def test_diff_classifies_single_edits():
    old = tuple("ABCDE")
    assert diff_layers(old, old).kind == "none"
    d = diff_layers(old, tuple("ABXCDE"))
    assert (d.kind, d.index) == ("insert", 2)
    d = diff_layers(old, tuple("ABCCDE"))  # duplicate C: the copy is the inserted one
    assert (d.kind, d.index) == ("insert", 3)
    d = diff_layers(old, tuple("ABDE"))
    assert (d.kind, d.index) == ("remove", 2)
    d = diff_layers(old, tuple("DABCE"))
    assert (d.kind, d.index, d.to) == ("move", 3, 0)
    d = diff_layers(old, tuple("BCDAE"))
    assert (d.kind, d.index, d.to) == ("move", 0, 3)
    d = diff_layers(old, tuple("ABXDE"))
    assert (d.kind, d.index, d.to) == ("update", 2, 2)
    d = diff_layers(old, tuple("AXYZ"))
    assert (d.kind, d.index) == ("replace", 1)


@given(st.lists(st.integers(0, 3), min_size=1, max_size=8), st.data())
def test_diff_of_a_move_reproduces_the_move(items, data):
    """Whatever one move did, replaying the classified move on ``old`` gives ``new``
    (ambiguous cases such as swapping neighbours may be classified either way)."""
    old = tuple(items)
    i = data.draw(st.integers(0, len(old) - 1))
    j = data.draw(st.integers(0, len(old) - 1))
    new = list(old)
    new.insert(j, new.pop(i))
    d = diff_layers(old, new)
    if d.kind == "none":
        assert tuple(new) == old
        return
    assert d.kind in ("move", "update")
    if d.kind == "move":
        replay = list(old)
        replay.insert(d.to, replay.pop(d.index))
        assert replay == new


@given(st.lists(st.integers(0, 3), max_size=8), st.data())
def test_diff_of_an_insert_or_remove_names_a_position_that_reproduces_it(items, data):
    old = tuple(items)
    i = data.draw(st.integers(0, len(old)))
    value = data.draw(st.integers(0, 3))
    new = (*old[:i], value, *old[i:])
    d = diff_layers(old, new)
    assert d.kind == "insert" and new[:d.index] + new[d.index + 1:] == old
    d = diff_layers(new, old)
    assert d.kind == "remove" and new[:d.index] + new[d.index + 1:] == old


def test_quick_fix_inserts_flatten_before_a_dense_that_receives_an_image():
    spec = spec_of([{"type": "Conv2D", "filters": 8, "kernel_size": 3}, {"type": "Dense", "units": 10}])
    problem = analyze(spec).problems[0]
    assert str(problem) == "layer 2 (Dense) needs a flat input but receives (8, 26, 26): insert Flatten before it"
    assert problem.code == "needs_flat_input"
    fix = quick_fix(spec, problem)
    assert fix.label == "Insert Flatten" and fix.row == 1
    assert types(fix.spec) == ["Conv2D", "Flatten", "Dense"] and analyze(fix.spec).ok


def test_quick_fix_for_softmax_moves_a_misplaced_softmax_back_to_the_end():
    spec = spec_of([{"type": "Conv2D", "filters": 8, "kernel_size": 3}, {"type": "Activation", "function": "softmax"},
                    {"type": "Flatten"}, {"type": "Dense", "units": 10}])
    assert analyze(spec).problems[0].code == "softmax_needs_flat_input"
    fix = quick_fix(spec, analyze(spec).problems[0])
    assert fix.label == "Move softmax to the end" and fix.row == 3
    assert types(fix.spec) == ["Conv2D", "Flatten", "Dense", "Activation"] and analyze(fix.spec).ok


def test_quick_fix_for_a_final_softmax_on_an_image_adds_flatten_and_a_dense_sized_like_the_last_dense():
    spec = spec_of([{"type": "Conv2D", "filters": 4, "kernel_size": 3}, {"type": "Activation", "function": "softmax"}])
    fix = quick_fix(spec, analyze(spec).problems[0])
    assert fix.label == "Insert Flatten and Dense 10"
    assert types(fix.spec) == ["Conv2D", "Flatten", "Dense", "Activation"] and analyze(fix.spec).ok
    assert quick_fix(spec, analyze(spec).problems[0], n_classes=3).spec.layers[2].config["units"] == 3
    assert output_units_hint(spec_of([{"type": "Dense", "units": 7}, {"type": "Dense", "units": 4}], (3,))) == 4


def test_quick_fix_for_a_kernel_larger_than_the_image_switches_to_same_padding():
    spec = spec_of([{"type": "Conv2D", "filters": 4, "kernel_size": 5}, {"type": "Flatten"},
                    {"type": "Dense", "units": 2}], (1, 4, 4))
    problem = analyze(spec).problems[0]
    assert problem.fix == "use a smaller kernel_size or padding 'same'" and problem.code == "kernel_too_large"
    fix = quick_fix(spec, problem)
    assert fix.label == "Use padding 'same'" and fix.spec.layers[0].config["kernel_size"] == 5
    assert analyze(fix.spec).ok and analyze(fix.spec).layers[0].output_shape == (4, 4, 4)


def test_quick_fix_for_an_oversized_pool_removes_it_and_other_fixes():
    spec = spec_of([{"type": "MaxPool2D", "pool_size": 8}, {"type": "Flatten"}, {"type": "Dense", "units": 2}],
                   (1, 4, 4))
    assert analyze(spec).problems[0].code == "pool_too_large"
    fix = quick_fix(spec, analyze(spec).problems[0])
    assert fix.label == "Remove layer 1 (MaxPool2D)" and types(fix.spec) == ["Flatten", "Dense"]
    assert analyze(fix.spec).ok
    empty = spec_of([], (4,))
    assert analyze(empty).problems[0].code == "no_layers"
    fix = quick_fix(empty, analyze(empty).problems[0])
    assert fix.label == "Add Dense 10" and analyze(fix.spec).ok
    image_out = spec_of([{"type": "Conv2D", "filters": 4, "kernel_size": 3}])
    assert analyze(image_out).problems[0].code == "output_not_flat"
    fix = quick_fix(image_out, analyze(image_out).problems[0])
    assert fix.label == "Add Flatten and Dense 10" and analyze(fix.spec).ok


def test_no_quick_fix_when_the_input_shape_is_wrong_for_the_layer():
    # The input shape follows the dataset: the editor cannot "fix" it by editing layers.
    spec = spec_of([{"type": "Conv2D", "filters": 4, "kernel_size": 3}, {"type": "Flatten"},
                    {"type": "Dense", "units": 2}], (64,))
    problem = analyze(spec).problems[0]
    # Worded for every front end: what the layer needs, not a control to use (issue 15 item 6).
    assert problem.fix == ("feed it images shaped (channels, height, width), e.g. (1, 8, 8), and keep image "
                           "layers before Flatten and Dense")
    assert problem.code == "needs_image_input"
    assert quick_fix(spec, problem) is None


def test_quick_fix_dispatches_on_the_code_never_on_the_wording():
    spec = spec_of([{"type": "Conv2D", "filters": 8, "kernel_size": 3}, {"type": "Dense", "units": 10}])
    problem = analyze(spec).problems[0]
    # Reworded advice (as the app rewrites it for its own controls) keeps the repair...
    reworded = Problem("the second layer wants flat rows", problem.layer_index, "use the Flatten layer", problem.code)
    assert quick_fix(spec, reworded).label == "Insert Flatten"
    # ...and the old sentence without its code repairs nothing.
    assert quick_fix(spec, Problem(problem.message, problem.layer_index, problem.fix)) is None
    assert quick_fix(spec_of([], (4,)), Problem("the network has no layers", None, "add a Dense layer")) is None


def test_default_layer_instances_are_equal_to_their_canonical_specs():
    # The editor compares layers to find what an edit did: a new default layer must equal
    # the same layer parsed from JSON.
    assert default_layer("Conv2D") == LayerSpec.from_dict(
        {"type": "Conv2D", "filters": 8, "kernel_size": 3, "padding": "same"})
