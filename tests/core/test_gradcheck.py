"""The gradient check must not accuse a correct engine at ReLU / max-pool kinks (flat MNIST
backgrounds), must count what it excluded, and must still catch a wrong gradient."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import core
from core.analysis.gradcheck import DEFAULT_THRESHOLD, check_network, kink_pattern, same_pattern
from core.data import load_idx
from core.layers.activations import Activation
from core.layers.conv import Conv2D
from core.layers.pooling import MaxPool2D

SHIPPED_MODEL = Path(__file__).resolve().parents[2] / "resources" / "models" / "mnist_cnn.nnz"
#: Few samples and entries keep each check to a few seconds on a busy 2-core machine.
ENTRIES = 12


@pytest.fixture(scope="module")
def mnist_samples(mnist_dir):
    """Three real MNIST training digits as the shipped model sees them: (3, 1, 28, 28) in [0, 1]."""
    x, y = load_idx(mnist_dir / "t10k-images-idx3-ubyte.gz", mnist_dir / "t10k-labels-idx1-ubyte.gz")
    return (x[:3].astype(np.float32) / 255)[:, None], y[:3]


@pytest.fixture(scope="module")
def shipped_cnn():
    return core.load_model(SHIPPED_MODEL)


def by_key(results):
    return {r.key: r for r in results}


@pytest.mark.mnist
def test_trained_cnn_on_real_digits_passes_with_kinks_excluded_and_counted(shipped_cnn, mnist_samples):
    x, y = mnist_samples
    results = by_key(check_network(shipped_cnn, x, y, max_entries=ENTRIES))
    assert set(results) == {"layers.0.W", "layers.0.b", "layers.3.W", "layers.3.b", "layers.8.W", "layers.8.b",
                            "layers.11.W", "layers.11.b", "input"}
    failed = {k: r.relative_error for k, r in results.items() if not r.passed}
    assert failed == {}, f"a correct engine was accused: {failed}"
    # Most pixels are background: nudging one breaks max-pool ties differently for +ε and -ε.
    # Those entries are skipped and counted, and enough kink-free pixels are still compared.
    assert results["input"].kinks > ENTRIES
    assert results["input"].checked == ENTRIES and results["input"].conclusive
    assert all(r.checked > 0 for r in results.values())
    assert max(r.relative_error for r in results.values()) < DEFAULT_THRESHOLD / 10


@pytest.mark.mnist
def test_without_kink_detection_the_same_check_would_fail(shipped_cnn, mnist_samples, monkeypatch):
    """The test above is meaningful: ignoring kinks reproduces issue 15's false alarm."""
    monkeypatch.setattr(core.analysis.gradcheck, "same_pattern", lambda a, b: True)
    x, y = mnist_samples
    results = by_key(check_network(shipped_cnn, x, y, max_entries=ENTRIES))
    assert results["input"].kinks == 0
    assert not results["input"].passed and results["input"].relative_error > 1e-3


@pytest.mark.mnist
@pytest.mark.parametrize("fault", ["conv_dW_scaled_by_1.01", "conv_bias_grad_dropped"])
def test_an_injected_wrong_conv_gradient_is_still_caught(shipped_cnn, mnist_samples, monkeypatch, fault):
    original = Conv2D.backward

    def broken(self, dy, need_input_grad=True):
        dx = original(self, dy, need_input_grad)
        if fault == "conv_dW_scaled_by_1.01":
            self.grads["W"] *= 1.01
        else:
            self.grads["b"][...] = 0
        return dx

    monkeypatch.setattr(Conv2D, "backward", broken)
    x, y = mnist_samples
    results = by_key(check_network(shipped_cnn, x, y, max_entries=ENTRIES))
    wrong = {"layers.0.W", "layers.3.W"} if fault == "conv_dW_scaled_by_1.01" else {"layers.0.b", "layers.3.b"}
    assert {k for k, r in results.items() if not r.passed} == wrong
    assert all(results[k].relative_error > 1e-3 and results[k].checked > 0 for k in wrong)


def test_a_wrong_relu_mask_is_caught_away_from_kinks(monkeypatch):
    """A backward pass that lets gradient through negative pre-activations is not excused as a kink."""
    rng = np.random.default_rng(0)
    net = core.Network.from_spec({"input_shape": [1, 6, 6], "layers": [
        {"type": "Conv2D", "filters": 2, "kernel_size": 3}, {"type": "Activation", "function": "relu"},
        {"type": "MaxPool2D", "pool_size": 2}, {"type": "Flatten"}, {"type": "Dense", "units": 3},
        {"type": "Activation", "function": "softmax"}], "loss": "cross_entropy", "seed": 1})
    weights = net.get_weights()
    weights["layers.0.b"][...] = -0.5  # some pooling windows entirely negative: tied at relu's 0
    net.set_weights(weights)
    x, y = rng.standard_normal((2, 1, 6, 6)), np.array([0, 2])
    pooled = net.layer_outputs(x)[2]  # the pooling layer's output, in the written order
    assert (pooled == 0).any() and (pooled > 0).any()
    assert all(r.passed for r in check_network(net, x, y, max_entries=ENTRIES))

    monkeypatch.setattr(Activation, "backward", lambda self, dy, need_input_grad=True: dy.copy())
    failed = {r.key for r in check_network(net, x, y, max_entries=ENTRIES) if not r.passed}
    assert failed == {"layers.0.W", "layers.0.b", "input"}


def test_kink_pattern_sees_relu_sign_flips_and_pool_ties():
    relu = Activation("relu")
    relu.build((4,), np.random.default_rng(0))
    pool = MaxPool2D(2)
    pool.build((1, 2, 2), np.random.default_rng(0))
    relu.forward(np.array([[1.0, -1.0, 0.5, -0.5]]))
    pool.forward(np.array([[[[1.0, 1.0], [0.0, 0.0]]]]))  # a tie between two entries of one window
    tied = kink_pattern([relu, pool])
    assert tied[0].tolist() == [[True, False, True, False]]
    assert tied[1].reshape(-1).tolist() == [True, True, False, False]

    pool.forward(np.array([[[[1.0 + 1e-5, 1.0], [0.0, 0.0]]]]))  # nudged: the tie breaks
    assert not same_pattern(tied, kink_pattern([relu, pool]))
    pool.forward(np.array([[[[1.0 + 1e-5, 1.0 + 1e-5], [0.0, 0.0]]]]))  # both moved: still tied
    assert same_pattern(tied, kink_pattern([relu, pool]))
    relu.forward(np.array([[1.0, 1e-5, 0.5, -0.5]]))  # a pre-activation crossed 0
    assert not same_pattern(tied, kink_pattern([relu, pool]))


def test_a_parameter_whose_every_sampled_entry_sits_at_a_kink_is_inconclusive_not_failed():
    # Input all zeros and zero biases: every first-layer pre-activation is exactly 0, so any
    # step on the first layer's weights or bias flips a relu.
    net = core.Network.from_spec({"input_shape": [3], "layers": [
        {"type": "Dense", "units": 4}, {"type": "Activation", "function": "relu"}, {"type": "Dense", "units": 2},
        {"type": "Activation", "function": "softmax"}], "loss": "cross_entropy", "seed": 0})
    weights = net.get_weights()
    weights["layers.0.b"][...] = 0
    net.set_weights(weights)
    results = by_key(check_network(net, np.zeros((2, 3)), np.array([0, 1]), max_entries=4))
    bias = results["layers.0.b"]
    assert bias.checked == 0 and bias.kinks == 4 and not bias.conclusive and bias.passed
    assert results["layers.2.W"].conclusive and results["layers.2.W"].passed
