"""core.analysis.trace_views: the stages and panels the Step-through view paints."""

from __future__ import annotations

import numpy as np

import core
from core.analysis.trace_views import BAR_LIMIT, TOP_UNITS, BarsPanel, GridPanel, build_stages


def _cnn():
    net = core.Network.from_spec({"input_shape": [1, 8, 8], "layers": [
        {"type": "Conv2D", "filters": 3, "kernel_size": 3}, {"type": "Activation", "function": "relu"},
        {"type": "MaxPool2D", "pool_size": 2}, {"type": "Flatten"}, {"type": "Dense", "units": 40},
        {"type": "Activation", "function": "tanh"}, {"type": "Dense", "units": 4},
        {"type": "Activation", "function": "softmax"}], "loss": "cross_entropy", "optimizer": {"type": "Adam"},
        "seed": 3, "dtype": "float64"})
    rng = np.random.default_rng(0)
    return net, rng.random((2, 1, 8, 8)), np.array([1, 3])


def test_stages_walk_forward_loss_then_backward():
    net, x, y = _cnn()
    trace = core.trace_step(net, x, y)
    stages = build_stages(trace, sample=1)
    n = len(trace.layers)
    assert [s.direction for s in stages] == ["forward"] * n + ["loss"] + ["backward"] * n
    assert [s.layer for s in stages] == [*range(n), -1, *reversed(range(n))]


def test_every_grid_pixel_shows_the_number_at_its_index():
    net, x, y = _cnn()
    trace = core.trace_step(net, x, y)
    for stage in build_stages(trace, sample=1):
        for panel in stage.panels:
            if not isinstance(panel, GridPanel) or panel.values.ndim == 0:
                continue
            rows, cols = np.nonzero(panel.index[..., 0] >= 0)
            assert len(rows) == panel.values.size  # every number drawn exactly once
            r, c = rows[len(rows) // 2], cols[len(cols) // 2]
            index = panel.pick_at(int(r), int(c))
            assert panel.pixel_of(index) == (r, c)
            assert panel.values[index] == panel.values[index]  # a valid index into the values


def test_forward_conv_output_panel_is_the_traced_sample_and_clicks_map_back():
    net, x, y = _cnn()
    trace = core.trace_step(net, x, y)
    conv = build_stages(trace, sample=1)[0]
    output = next(p for p in conv.panels if p.quantity == "output" and p.layer == 0)
    assert isinstance(output, GridPanel)
    np.testing.assert_array_equal(output.values, trace.layers[0].output[1])
    assert output.tile == (6, 6)
    r, c = output.pixel_of((2, 4, 5))
    assert output.pick_at(r, c) == (2, 4, 5)
    assert output.pick_at(-1, 0) is None


def test_long_vectors_are_summarised_with_every_value_a_click_away():
    net, x, y = _cnn()
    trace = core.trace_step(net, x, y)
    dense = build_stages(trace)[4]  # Dense 40: input 12 values, output 40 values
    bars = [p for p in dense.panels if isinstance(p, BarsPanel) and p.layer == 4]
    assert len(bars) == 1 and bars[0].total == 40 > BAR_LIMIT
    out = trace.layers[4].output[0]
    top = np.argsort(-np.abs(out))[:TOP_UNITS]
    assert sorted(i for (i,) in bars[0].indices) == sorted(top.tolist())
    assert bars[0].histogram is not None and bars[0].histogram[0].sum() == 40
    full = [p for p in dense.panels if isinstance(p, GridPanel) and p.layer == 4]
    assert len(full) == 1 and full[0].values.size == 40


def test_backward_stage_has_gradients_and_updates_of_each_parameter():
    net, x, y = _cnn()
    trace = core.trace_step(net, x, y)
    stages = build_stages(trace)
    back_conv = stages[-1]
    assert back_conv.layer == 0
    quantities = {p.quantity for p in back_conv.panels}
    assert {"grad_output", "grad_input", "grad:W", "update:W", "grad:b", "update:b"} <= quantities
    kernels = next(p for p in back_conv.panels if p.quantity == "update:W")
    np.testing.assert_array_equal(kernels.values, trace.layers[0].update["W"])
    assert kernels.pick_at(*kernels.pixel_of((2, 0, 1, 2))) == (2, 0, 1, 2)


def test_first_dense_weights_of_an_image_mlp_show_as_images():
    net = core.Network.from_spec({"input_shape": [16], "layers": [{"type": "Dense", "units": 3},
                                  {"type": "Activation", "function": "sigmoid"}], "loss": "mse", "seed": 1})
    trace = core.trace_step(net, np.random.default_rng(1).random((1, 16)), np.array([[0.0, 1.0, 0.0]]))
    back = build_stages(trace)[-1]
    grad_w = next(p for p in back.panels if p.quantity == "grad:W")
    assert grad_w.tile == (4, 4)
    assert grad_w.pick_at(*grad_w.pixel_of((5, 2))) == (5, 2)


def test_loss_stage_shows_the_loss_and_outputs_against_targets():
    net, x, y = _cnn()
    trace = core.trace_step(net, x, y)
    loss = build_stages(trace, sample=1, class_names=("a", "b", "c", "d"))[len(trace.layers)]
    value = loss.panels[0]
    assert isinstance(value, GridPanel) and value.pick_at(0, 0) == ()
    assert float(value.values) == trace.loss
    outputs = loss.panels[1]
    assert isinstance(outputs, BarsPanel) and outputs.labels == ("a", "b", "c", "d")
    np.testing.assert_array_equal(outputs.targets, [0, 0, 0, 1])
