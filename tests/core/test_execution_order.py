"""A relu before a max pooling runs after it (``core.layers.execution_order``): the network's
results must be exactly those of the written order, gradients included, ties at zero too."""

from __future__ import annotations

import numpy as np
import pytest

import core
from core.layers.activations import Activation
from core.layers.execution_order import execution_order
from core.layers.pooling import AvgPool2D, MaxPool2D


def cnn(dtype: str, pool: str = "MaxPool2D", function: str = "relu", filters: int = 8) -> core.Network:
    net = core.Network.from_spec({"input_shape": [1, 12, 12], "dtype": dtype, "seed": 3, "layers": [
        {"type": "Conv2D", "filters": filters, "kernel_size": 3, "padding": "same"},
        {"type": "Activation", "function": function}, {"type": pool, "pool_size": 2},
        {"type": "Conv2D", "filters": 16, "kernel_size": 3},
        {"type": "Activation", "function": function}, {"type": pool, "pool_size": 2},
        {"type": "Flatten"}, {"type": "Dense", "units": 4}, {"type": "Activation", "function": "softmax"}],
        "loss": "cross_entropy", "optimizer": {"type": "Adam", "learning_rate": 0.01}})
    weights = net.get_weights()
    weights["layers.0.b"][...] = -0.3  # many windows entirely negative: tied at relu's zero
    net.set_weights(weights)
    return net


def written_order_gradients(net: core.Network, x: np.ndarray, targets: np.ndarray):
    """Forward and backward layer by layer in the written order: (logits, {key: grad})."""
    body = net.layers[:-1]  # softmax folded into the loss
    out = x
    for layer in body:
        out = layer.forward(out, True)
    g = net.loss.gradient_from_logits(out, targets)
    for layer in reversed(body):
        g = layer.backward_input(g)
    return out, {key: grad.copy() for key, _, grad in net.parameters()}


def test_relu_and_max_pooling_trade_places_and_nothing_else_does():
    relu, pool = Activation("relu"), MaxPool2D(2)
    tanh, avg = Activation("tanh"), AvgPool2D(2)
    assert execution_order([relu, pool, relu, pool]) == [pool, relu, pool, relu]
    assert execution_order([tanh, pool, relu, avg]) == [tanh, pool, relu, avg]
    assert execution_order([relu, relu, pool]) == [relu, pool, relu]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("filters", [8, 24])  # channels-first and channels-last conv outputs
def test_training_gives_the_written_orders_numbers_bit_for_bit(dtype, filters):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((10, 1, 12, 12)).astype(dtype)
    x[:, :, :4] = 0  # flat regions: exact ties inside pooling windows
    y = rng.integers(0, 4, 10)
    net = cnn(dtype, filters=filters)
    targets = net.targets(y)
    want_logits, want = written_order_gradients(net, x, targets)
    relu_y = net.layers[1]._y
    assert relu_y is not None and (relu_y == 0).mean() > 0.3  # the zero ties are really there
    _, logits = net.compute_gradients(x, targets)
    got = {key: grad.copy() for key, _, grad in net.parameters()}
    np.testing.assert_array_equal(logits, want_logits)
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    np.testing.assert_array_equal(net.predict(x), net.layer_outputs(x)[-1])
    np.testing.assert_array_equal(net.scores(x)[0], want_logits)


def test_input_gradient_matches_the_written_order():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 1, 12, 12))
    net = cnn("float64")
    out = net.forward(x, training=True)
    dx = net.backward(np.ones_like(out))
    g = np.ones_like(out)
    a = x
    for layer in net.layers:
        a = layer.forward(a, True)
    for layer in reversed(net.layers):
        g = layer.backward_input(g)
    np.testing.assert_array_equal(dx, g)
