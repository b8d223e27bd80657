"""One harness for every registered layer: shapes, config round trip, gradients, purity.

Gradient checks run in float64 with central differences on the scalar
L = sum(forward(x) * R) for a fixed random R, against ``backward(R)``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import core
from core import Network
from core.registry import ACTIVATION_REGISTRY, LAYER_TYPES, layer_class
from tests.core.layer_cases import LAYER_CASES

CASES = [(name, cfg, shape) for name, cases in LAYER_CASES.items() for cfg, shape in cases]
IDS = [f"{n}-{i}" for n, cases in LAYER_CASES.items() for i in range(len(cases))]


def test_every_registered_layer_has_cases():
    missing = sorted(set(LAYER_TYPES) - set(LAYER_CASES))
    assert not missing, f"layer types without conformance cases: {missing}"


def test_every_registered_activation_function_has_cases():
    # Each case runs the whole harness (gradient check included) on Activation(function).
    covered = {cfg["function"] for cfg, _ in LAYER_CASES["Activation"]}
    missing = sorted(set(ACTIVATION_REGISTRY.names()) - covered)
    assert not missing, f"activation functions without conformance cases: {missing}"


def make(name, cfg, shape, dtype=np.float64, seed=0):
    layer = layer_class(name)(**cfg)
    layer.build(shape, np.random.default_rng(seed), dtype)
    return layer


def random_input(shape, batch=3, seed=1, name=None):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, *shape))
    if name == "MaxPool2D":
        # Distinct values keep the max differentiable for finite differences.
        x = (rng.permutation(x.size).reshape(x.shape) / x.size - 0.5) * 4
    return x


@pytest.mark.parametrize("name,cfg,shape", CASES, ids=IDS)
def test_output_shape_agrees_with_forward(name, cfg, shape):
    layer = make(name, cfg, shape)
    x = random_input(shape, name=name)
    y = layer.forward(x, training=False)
    assert y.shape == (3, *layer.output_shape(shape))
    assert layer.param_count(shape) == sum(p.size for p in layer.params.values())
    for pname, p in layer.params.items():
        assert p.shape == layer.param_shapes(shape)[pname]
        assert layer.grads[pname].shape == p.shape


@pytest.mark.parametrize("name,cfg,shape", CASES, ids=IDS)
def test_config_round_trips_through_json(name, cfg, shape):
    layer = layer_class(name)(**cfg)
    config = json.loads(json.dumps(layer.get_config()))
    again = layer_class(name)(**config)
    assert again.get_config() == layer.get_config()
    # get_config holds exactly the constructor's arguments
    import inspect

    params = set(inspect.signature(layer_class(name).__init__).parameters) - {"self"}
    assert set(config) == params


def numeric_grad(f, arr, eps=1e-6):
    g = np.zeros_like(arr)
    flat, gflat = arr.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        plus = f()
        flat[i] = old - eps
        minus = f()
        flat[i] = old
        gflat[i] = (plus - minus) / (2 * eps)
    return g


def rel_err(a, b):
    """Norm-wise relative error ||a - b|| / (||a|| + ||b||): robust to tiny entries whose
    finite differences are dominated by rounding."""
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / denom) if denom > 0 else 0.0


@pytest.mark.parametrize("name,cfg,shape", CASES, ids=IDS)
def test_gradients_match_central_differences(name, cfg, shape):
    layer = make(name, cfg, shape)
    x = random_input(shape, name=name)
    y = layer.forward(x, training=False)
    r = np.random.default_rng(2).standard_normal(y.shape)

    def loss():
        return float(np.sum(layer.forward(x, training=False) * r))

    layer.forward(x, training=False)
    dx = layer.backward(r.copy())
    analytic = {k: g.copy() for k, g in layer.grads.items()}
    assert rel_err(dx, numeric_grad(loss, x)) < 1e-6
    for pname, p in layer.params.items():
        assert rel_err(analytic[pname], numeric_grad(loss, p)) < 1e-6, pname


@pytest.mark.parametrize("name,cfg,shape", CASES, ids=IDS)
def test_forward_and_backward_never_mutate_inputs(name, cfg, shape):
    layer = make(name, cfg, shape)
    x = random_input(shape, name=name)
    x_before = x.copy()
    y = layer.forward(x, training=True)
    y_before = y.copy()
    dy = np.random.default_rng(3).standard_normal(y.shape)
    dy_before = dy.copy()
    layer.backward(dy)
    layer.backward(dy)  # twice: caches intact
    assert np.array_equal(x, x_before)
    assert np.array_equal(dy, dy_before)
    assert np.array_equal(y, y_before)


@pytest.mark.parametrize("name,cfg,shape", CASES, ids=IDS)
def test_float32_stays_float32(name, cfg, shape):
    layer = make(name, cfg, shape, dtype=np.float32)
    x = random_input(shape, name=name).astype(np.float32)
    y = layer.forward(x, training=True)
    dx = layer.backward(np.ones_like(y))
    assert y.dtype == np.float32 and dx.dtype == np.float32
    assert all(g.dtype == np.float32 for g in layer.grads.values())


@pytest.mark.parametrize("name,cfg,shape", CASES, ids=IDS)
def test_save_load_equality(name, cfg, shape, tmp_path):
    """A network holding the layer predicts identically after a save/load round trip."""
    from core import saving

    layers = [layer_class(name)(**cfg)]
    if len(layers[0].output_shape(shape)) != 1:
        layers.append(core.Flatten())
    layers.append(core.Dense(2))
    net = Network(layers, input_shape=shape, seed=4, dtype="float64")
    net.build()
    x = random_input(shape, batch=5, name=name)
    path = tmp_path / "m.nnz"
    saving.save_model(net, path)
    loaded = saving.load_model(path)
    assert np.array_equal(loaded.predict(x), net.predict(x))
    for (k1, p1, _), (k2, p2, _) in zip(net.parameters(), loaded.parameters(), strict=True):
        assert k1 == k2 and np.array_equal(p1, p2)


def test_dropout_is_inverted_and_identity_at_inference():
    layer = make("Dropout", {"rate": 0.25}, (10_000,), dtype=np.float64)
    x = np.ones((4, 10_000))
    assert np.array_equal(layer.forward(x, training=False), x)
    y = layer.forward(x, training=True)
    kept = y != 0
    assert np.allclose(y[kept], 1 / 0.75)
    assert abs(kept.mean() - 0.75) < 0.01
    # backward uses the same mask
    assert np.array_equal(layer.backward(np.ones_like(x)) != 0, kept)


def test_softmax_normalises_each_sample_separately():
    layer = make("Activation", {"function": "softmax"}, (4,))
    x = np.array([[1.0, 2.0, 3.0, 4.0], [1000.0, 0.0, -1000.0, 5.0]])
    y = layer.forward(x)
    assert np.allclose(y.sum(axis=1), 1.0)
    assert np.all(np.isfinite(y))
    single = layer.forward(x[:1])
    assert np.allclose(single, y[:1])  # independent of the rest of the batch (seed 2's bug)


def test_sigmoid_is_stable_for_large_inputs():
    layer = make("Activation", {"function": "sigmoid"}, (3,))
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = layer.forward(np.array([[-1000.0, 0.0, 1000.0]]))
    assert np.allclose(y, [[0.0, 0.5, 1.0]])


def test_relu_derivative_is_taken_at_the_input_not_the_output():
    layer = make("Activation", {"function": "relu"}, (4,))
    x = np.array([[-2.0, -0.5, 0.5, 2.0]])
    layer.forward(x)
    assert np.array_equal(layer.backward(np.ones((1, 4))), [[0, 0, 1, 1]])
    assert np.array_equal(x, [[-2.0, -0.5, 0.5, 2.0]])  # seed 2's relu zeroed x in place


def test_bad_settings_are_refused_with_a_message():
    with pytest.raises(core.SpecError, match="units"):
        core.Dense(0)
    with pytest.raises(core.SpecError, match=r"rate.*\[|rate"):
        core.Dropout(1.0)
    with pytest.raises(core.SpecError, match="function"):
        core.Activation("swish")
    with pytest.raises(core.SpecError, match="no setting"):
        layer_class("Dense").from_config({"units": 3, "unit": 4})


# -- training mode and non-trainable state -------------------------------------------------------
def check_gradients_in_training_mode(name, cfg, shape):
    """Central differences against ``backward`` with ``forward(training=True)``. Each forward
    starts from the same generator state and the same layer state, so a layer with training
    randomness (Dropout's mask) or state updates (a running mean) is checked deterministically."""
    rng = np.random.default_rng(0)
    layer = layer_class(name)(**cfg)
    layer.build(shape, rng, np.float64)
    rng_state = rng.bit_generator.state
    state = {k: s.copy() for k, s in layer.state.items()}

    def forward(x):
        rng.bit_generator.state = rng_state
        for k, s in state.items():
            layer.state[k][...] = s
        return layer.forward(x, training=True)

    x = random_input(shape, name=name)
    r = np.random.default_rng(2).standard_normal(forward(x).shape)

    def loss():
        return float(np.sum(forward(x) * r))

    forward(x)
    dx = layer.backward(r.copy())
    analytic = {k: g.copy() for k, g in layer.grads.items()}
    assert rel_err(dx, numeric_grad(loss, x)) < 1e-6
    for pname, p in layer.params.items():
        assert rel_err(analytic[pname], numeric_grad(loss, p)) < 1e-6, pname


def check_state_round_trip(name, cfg, shape):
    """The layer's state lives apart from its parameters and travels alone: a network that
    trained a few steps (moving any state) -> state_dict -> a fresh network with the same
    parameters -> load_state_dict -> identical outputs."""
    layers = [layer_class(name)(**cfg)]
    if len(layers[0].output_shape(shape)) != 1:
        layers.append(core.Flatten())
    layers.append(core.Dense(2))
    net = Network(layers, input_shape=shape, seed=4, dtype="float64").build()
    layer = net.layers[0]
    assert {k: s.shape for k, s in layer.state.items()} == layer.state_shapes(shape)
    assert not set(layer.state) & set(layer.params)
    x = random_input(shape, batch=5, name=name)
    targets = np.random.default_rng(6).standard_normal((5, 2))
    for _ in range(3):
        net.train_step(x, targets)
    state = net.state_dict()
    assert set(state) == {f"layers.0.{k}" for k in layer.state}
    assert not set(state) & {key for key, _, _ in net.parameters()}  # never trainable
    fresh = Network.from_spec(net.to_spec())
    for (_, p, _), (_, q, _) in zip(net.parameters(), fresh.parameters(), strict=True):
        q[...] = p
    fresh.load_state_dict(state)
    assert np.array_equal(fresh.predict(x), net.predict(x))


@pytest.mark.parametrize("name,cfg,shape", CASES, ids=IDS)
def test_gradients_match_central_differences_in_training_mode(name, cfg, shape):
    check_gradients_in_training_mode(name, cfg, shape)


@pytest.mark.parametrize("name,cfg,shape", CASES, ids=IDS)
def test_state_round_trips_through_state_dict(name, cfg, shape):
    check_state_round_trip(name, cfg, shape)


@pytest.mark.parametrize("shape", [(5,), (2, 3, 3)])
def test_the_harness_checks_a_layer_with_state(shape):
    """The two checks above on a layer that has state and behaves differently in training
    (tests/core/stateful_layer.py, registered only here): its gradients in training mode and
    its state's round trip; and the round trip really depends on the state."""
    from tests.core.stateful_layer import registered

    with registered() as center:
        check_gradients_in_training_mode(center.type_name, {}, shape)
        check_state_round_trip(center.type_name, {}, shape)
        net = Network([center(), core.Flatten(), core.Dense(2)], input_shape=shape, seed=4, dtype="float64").build()
        x = random_input(shape, batch=5)
        net.train_step(x, np.zeros((5, 2)))
        fresh = Network.from_spec(net.to_spec())
        for (_, p, _), (_, q, _) in zip(net.parameters(), fresh.parameters(), strict=True):
            q[...] = p
        assert not np.array_equal(fresh.predict(x), net.predict(x))  # without load_state_dict
