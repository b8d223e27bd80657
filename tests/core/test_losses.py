"""Losses: values against hand formulas, gradients against central differences, fused paths."""

from __future__ import annotations

import numpy as np
import pytest

from core.layers.activations import sigmoid, softmax
from core.losses import BinaryCrossEntropy, CrossEntropy, MeanSquaredError, get_loss, targets_for
from core.registry import LOSS_REGISTRY
from tests.core.test_layer_conformance import numeric_grad, rel_err

rng = np.random.default_rng(0)


def onehot(labels, k):
    return np.eye(k)[labels]


def test_mse_is_the_mean_over_every_element():
    out = np.array([[1.0, 2.0], [3.0, 5.0]])
    t = np.array([[0.0, 2.0], [3.0, 3.0]])
    assert MeanSquaredError().value(out, t) == pytest.approx((1 + 0 + 0 + 4) / 4)


#: Registered loss name -> (outputs, targets) makers for its gradient check. A registered
#: loss without an entry fails test_every_registered_loss_has_a_gradient_case.
LOSS_CASES = {
    "mse": (lambda: rng.standard_normal((4, 3)), lambda: rng.standard_normal((4, 3))),
    "cross_entropy": (lambda: softmax(rng.standard_normal((5, 4))), lambda: onehot(rng.integers(0, 4, 5), 4)),
    "binary_cross_entropy": (lambda: sigmoid(rng.standard_normal((6, 2))),
                             lambda: rng.integers(0, 2, (6, 2)).astype(float)),
}


def test_every_registered_loss_has_a_gradient_case():
    missing = sorted(set(LOSS_REGISTRY.names()) - set(LOSS_CASES))
    assert not missing, f"losses without a gradient case in LOSS_CASES: {missing}"


def test_the_loss_classes_are_the_registered_ones():
    assert [LOSS_REGISTRY.get(n) for n in ("mse", "cross_entropy", "binary_cross_entropy")] == [
        MeanSquaredError, CrossEntropy, BinaryCrossEntropy]


@pytest.mark.parametrize("name", sorted(LOSS_CASES))
def test_loss_gradient_matches_central_differences(name):
    loss = get_loss(name)
    make_out, make_t = LOSS_CASES[name]
    out, t = make_out(), make_t()
    analytic = loss.gradient(out, t)
    numeric = numeric_grad(lambda: loss.value(out, t), out)
    assert rel_err(analytic, numeric) < 1e-6


@pytest.mark.parametrize("loss,act,k", [(CrossEntropy(), softmax, 4), (BinaryCrossEntropy(), sigmoid, 3)],
                         ids=["softmax+ce", "sigmoid+bce"])
def test_fused_path_equals_the_plain_path_and_its_gradient(loss, act, k):
    z = rng.standard_normal((5, k)) * 3
    t = onehot(rng.integers(0, k, 5), k) if k == 4 else rng.integers(0, 2, (5, k)).astype(float)
    assert loss.value_from_logits(z, t) == pytest.approx(loss.value(act(z), t), rel=1e-9)
    numeric = numeric_grad(lambda: loss.value_from_logits(z, t), z)
    assert rel_err(loss.gradient_from_logits(z, t), numeric) < 1e-6
    assert np.allclose(loss.gradient_from_logits(z, t), (act(z) - t) / (z.shape[0] if k == 4 else z.size))


def test_fused_cross_entropy_is_finite_for_extreme_logits():
    z = np.array([[1000.0, -1000.0, 0.0], [-5000.0, 5000.0, 1.0]])
    t = onehot(np.array([1, 0]), 3)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value = CrossEntropy().value_from_logits(z, t)
        grad = CrossEntropy().gradient_from_logits(z, t)
    assert np.isfinite(value) and value == pytest.approx((2000 + 10000) / 2)
    assert np.all(np.isfinite(grad))
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert np.isfinite(BinaryCrossEntropy().value_from_logits(np.array([[800.0, -800.0]]), np.array([[0.0, 1.0]])))


def test_targets_from_labels():
    assert np.array_equal(targets_for(np.array([2, 0]), 3, np.float32), [[0, 0, 1], [1, 0, 0]])
    assert targets_for(np.array([1, 0]), 1, np.float32).shape == (2, 1)
    with pytest.raises(ValueError, match="units to at least 6"):
        targets_for(np.array([5]), 3, np.float32)


def test_unknown_loss_names_the_known_ones():
    with pytest.raises(ValueError, match="mse"):
        get_loss("hinge")
