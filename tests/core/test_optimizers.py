"""Optimizer steps against updates computed by hand (PyTorch's conventions)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core import SGD, Adam, SpecError, optimizers
from core.optimizers import optimizer_from_config
from core.registry import OPTIMIZER_REGISTRY


def run(opt, grads, p0=1.0):
    p = np.array([p0])
    for g in grads:
        opt.step([("w", p, np.array([g]))])
    return float(p[0])


def test_plain_sgd():
    assert run(SGD(0.1), [2.0, -1.0]) == pytest.approx(1.0 - 0.1 * 2 + 0.1 * 1)


def test_momentum():
    # v1 = 2; p1 = 1 - .1*2 = .8 ; v2 = .9*2 + 1 = 2.8; p2 = .8 - .28 = .52
    assert run(SGD(0.1, momentum=0.9), [2.0, 1.0]) == pytest.approx(0.52)


def test_nesterov():
    # v1 = 2; p1 = 1 - .1*(2 + .9*2) = .62 ; v2 = 2.8; p2 = .62 - .1*(1 + .9*2.8) = .268
    assert run(SGD(0.1, momentum=0.9, nesterov=True), [2.0, 1.0]) == pytest.approx(0.268)


def test_adam_with_bias_correction():
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    p, m, v = 1.0, 0.0, 0.0
    for t, g in enumerate([0.5, -0.2, 0.3], start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p -= lr * (m / (1 - b1 ** t)) / (math.sqrt(v / (1 - b2 ** t)) + eps)
    assert run(Adam(lr), [0.5, -0.2, 0.3]) == pytest.approx(p, rel=1e-12)


def test_first_adam_step_is_lr_times_sign():
    assert run(Adam(0.01), [123.0]) == pytest.approx(1.0 - 0.01, rel=1e-6)


def test_weight_decay_adds_l2_gradient():
    assert run(SGD(0.1, weight_decay=0.5), [0.0]) == pytest.approx(1.0 - 0.1 * 0.5 * 1.0)


def test_state_round_trip_continues_identically():
    grads = [0.5, -0.2, 0.3, 0.1, -0.4]
    a = Adam(0.01)
    pa = np.array([1.0])
    for g in grads:
        a.step([("w", pa, np.array([g]))])
    b = Adam(0.01)
    pb = np.array([1.0])
    for g in grads[:2]:
        b.step([("w", pb, np.array([g]))])
    c = Adam(0.01)
    c.load_state_dict(b.state_dict())
    for g in grads[2:]:
        c.step([("w", pb, np.array([g]))])
    assert pa[0] == pb[0]


def test_float32_params_stay_float32():
    p = np.ones(3, dtype=np.float32)
    Adam(0.1).step([("w", p, np.full(3, 0.5, dtype=np.float32))])
    SGD(0.1, momentum=0.9).step([("w", p, np.full(3, 0.5, dtype=np.float32))])
    assert p.dtype == np.float32


@pytest.mark.parametrize("config,fragment", [
    ({"type": "RMSprop"}, "unknown optimizer"),
    ({"type": "SGD", "learning_rate": -1}, "learning_rate"),
    ({"type": "SGD", "learning_rate": 0.1, "nesterov": True}, "nesterov"),
    ({"type": "Adam", "beta1": 1.0}, "beta1"),
    ({"learning_rate": 0.1}, "'type'"),
])
def test_bad_optimizer_settings(config, fragment):
    with pytest.raises(SpecError, match=fragment):
        optimizer_from_config(config)


# -- every registered optimizer (the registry finds a new one; its update rule still needs a
#    hand-computed test above) ---------------------------------------------------------------

@pytest.mark.parametrize("name", OPTIMIZER_REGISTRY.names())
def test_every_registered_optimizer_round_trips_its_config_and_state(name):
    cls = OPTIMIZER_REGISTRY.get(name)
    assert cls.type_name == name and any(p.name == "learning_rate" for p in cls.schema)
    opt = optimizer_from_config({"type": name})  # every setting has a default
    assert optimizer_from_config(opt.to_dict()).to_dict() == opt.to_dict()
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(4) for _ in range(5)]
    pa, pb = np.ones(4), np.ones(4)
    a = optimizer_from_config({"type": name})
    for g in grads:
        a.step([("w", pa, g)])
    b = optimizer_from_config({"type": name})
    for g in grads[:2]:
        b.step([("w", pb, g)])
    c = optimizer_from_config({"type": name})
    c.load_state_dict(b.state_dict())
    for g in grads[2:]:
        c.step([("w", pb, g)])
    assert np.array_equal(pa, pb) and not np.array_equal(pa, np.ones(4))


@pytest.mark.parametrize("name", OPTIMIZER_REGISTRY.names())
def test_every_registered_optimizer_keeps_float32(name):
    p = np.ones(3, dtype=np.float32)
    optimizer_from_config({"type": name}).step([("w", p, np.full(3, 0.5, dtype=np.float32))])
    assert p.dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_adam_step_is_the_numpy_step_bit_for_bit(dtype, monkeypatch):
    monkeypatch.setattr(optimizers, "COMPILED_ADAM_FROM", 1)  # these small arrays take the compiled pass too
    """Adam's one-pass compiled update (numba) does the NumPy path's operations in its order,
    so training gives the same bits with or without numba (weight decay and a
    non-contiguous parameter, which takes the NumPy path, included)."""
    runs = {}
    for jit in ("1", "0"):
        monkeypatch.setenv("NNSTUDIO_JIT", jit)
        rng = np.random.default_rng(3)
        params = [rng.standard_normal((40, 7)).astype(dtype), rng.standard_normal((7, 40)).astype(dtype).T]
        opt = Adam(learning_rate=0.01, weight_decay=0.001)
        grads = np.random.default_rng(4)
        for _ in range(5):
            opt.step([(f"p{i}", p, grads.standard_normal(p.shape).astype(dtype)) for i, p in enumerate(params)])
        runs[jit] = [p.copy() for p in params] + [opt.state["p0"]["m"].copy(), opt.state["p0"]["v"].copy()]
    for compiled, plain in zip(runs["1"], runs["0"], strict=True):
        np.testing.assert_array_equal(compiled, plain)
