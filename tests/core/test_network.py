"""Network: specs and JSON, shape analysis and its messages, API, determinism, fused loss."""

from __future__ import annotations

import json

import numpy as np
import pytest

import core
from core import Activation, Dense, Network, NetworkSpec, SpecError, analyze
from tests.core.test_layer_conformance import numeric_grad, rel_err

ISSUE_SPEC = {"input_shape": [1, 28, 28], "layers": [
    {"type": "Conv2D", "filters": 8, "kernel_size": 3, "stride": 1, "padding": "same"},
    {"type": "Activation", "function": "relu"},
    {"type": "MaxPool2D", "pool_size": 2},
    {"type": "Flatten"},
    {"type": "Dense", "units": 10},
    {"type": "Activation", "function": "softmax"}],
    "loss": "cross_entropy", "optimizer": {"type": "Adam", "learning_rate": 0.001}, "seed": 0}


def mlp_spec(**changes):
    spec = {"input_shape": [4],
            "layers": [{"type": "Dense", "units": 5}, {"type": "Activation", "function": "tanh"},
                       {"type": "Dense", "units": 3}, {"type": "Activation", "function": "softmax"}],
            "loss": "cross_entropy", "optimizer": {"type": "SGD", "learning_rate": 0.1}, "seed": 3}
    spec.update(changes)
    return spec


def test_issue_spec_builds_and_round_trips_through_json():
    net = Network.from_spec(json.dumps(ISSUE_SPEC))
    again = NetworkSpec.from_json(net.to_spec().to_json())
    assert again == net.to_spec()
    d = again.to_dict()
    # every layer key is a constructor argument; the given ones are kept verbatim
    for given, saved in zip(ISSUE_SPEC["layers"], d["layers"], strict=True):
        assert {k: saved[k] for k in given} == given
    assert net.output_shape == (10,)
    assert [i.output_shape for i in net.analyze().layers] == [(8, 28, 28), (8, 28, 28), (8, 14, 14), (1568,),
                                                              (10,), (10,)]
    assert net.analyze().total_params == 8 * 9 + 8 + 1568 * 10 + 10


def test_shape_analysis_allocates_nothing_and_counts_macs():
    spec = NetworkSpec.from_dict(ISSUE_SPEC)
    analysis = analyze(spec)
    assert analysis.ok
    assert analysis.layers[0].macs == 28 * 28 * 8 * 9
    assert analysis.layers[4].macs == 1568 * 10
    assert analysis.total_macs == 28 * 28 * 8 * 9 + 1568 * 10


def test_dense_after_conv_names_the_layer_and_the_fix():
    layers = [layer for layer in ISSUE_SPEC["layers"] if layer["type"] != "Flatten"]
    layers[0] = {"type": "Conv2D", "filters": 8, "kernel_size": 3}
    spec = dict(ISSUE_SPEC, layers=layers)
    with pytest.raises(SpecError) as err:
        Network.from_spec(spec)
    assert str(err.value) == "layer 4 (Dense) needs a flat input but receives (8, 13, 13): insert Flatten before it"
    problem = err.value.problems[0]
    assert problem.layer_index == 3 and problem.fix == "insert Flatten before it"


@pytest.mark.parametrize("layer,fragment", [
    ({"type": "Dense", "units": 0}, "layer 1 (Dense): 'units' must be"),
    ({"type": "Dropout", "rate": 1.0}, "layer 1 (Dropout): 'rate'"),
    ({"type": "Dense2", "units": 3}, "unknown layer type 'Dense2'"),
    ({"type": "Dense", "units": 3, "activation": "relu"}, "has no setting 'activation'"),
    ({"type": "Conv2D", "filters": 2, "kernel_size": 9}, "layer 1 (Conv2D)"),
])
def test_bad_layers_are_refused_with_position(layer, fragment):
    spec = {"input_shape": [1, 5, 5] if layer["type"] == "Conv2D" else [4], "layers": [layer], "loss": "mse"}
    with pytest.raises(SpecError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        Network.from_spec(spec)


def test_analysis_reports_every_problem_and_keeps_going():
    spec = NetworkSpec.from_dict({"input_shape": [4], "layers": [
        {"type": "Dense", "units": 0}, {"type": "Activation", "function": "relu"}, {"type": "Dropout", "rate": 2}]})
    analysis = analyze(spec)
    assert [p.layer_index for p in analysis.problems] == [0, 2]


@pytest.mark.parametrize("data,fragment", [
    ({"layers": []}, "input_shape"),
    ({"input_shape": [0]}, "input_shape"),
    ({"input_shape": [4], "loss": "hinge"}, "unknown loss"),
    ({"input_shape": [4], "seed": -1}, "seed"),
    ({"input_shape": [4], "layer": []}, "unknown key"),
    ({"input_shape": [4], "optimizer": {"type": "Adam", "learning_rate": 0}}, "learning_rate"),
])
def test_bad_specs(data, fragment):
    with pytest.raises(SpecError, match=fragment):
        NetworkSpec.from_dict(data)


def test_keras_style_building_equals_spec_building():
    a = Network(input_shape=(4,), loss="cross_entropy", optimizer={"type": "SGD", "learning_rate": 0.1}, seed=3)
    for layer in (Dense(5), Activation("tanh"), Dense(3), Activation("softmax")):
        a.add(layer)
    b = Network.from_spec(mlp_spec())
    a.build()
    assert a.to_spec() == b.to_spec()
    for (ka, pa, _), (kb, pb, _) in zip(a.parameters(), b.parameters(), strict=True):
        assert ka == kb and np.array_equal(pa, pb)
    assert [k for k, _, _ in a.parameters()] == ["layers.0.W", "layers.0.b", "layers.2.W", "layers.2.b"]
    assert a.parameters()[0][1].shape == (4, 5)


def test_get_and_set_weights():
    net = Network.from_spec(mlp_spec())
    w = net.get_weights()
    w["layers.0.W"][:] = 0
    assert not np.all(net.parameters()[0][1] == 0)  # get_weights returns copies
    net.set_weights(w)
    assert np.all(net.parameters()[0][1] == 0)
    with pytest.raises(SpecError, match=r"missing layers\.2\.b"):
        net.set_weights({k: v for k, v in w.items() if k != "layers.2.b"})
    with pytest.raises(SpecError, match="shape"):
        net.set_weights({**w, "layers.0.W": np.zeros((5, 4))})


def test_network_backward_goes_through_the_true_softmax_jacobian():
    net = Network.from_spec(mlp_spec(), build=True)
    net = core.analysis.gradcheck.float64_copy(net)
    x = np.random.default_rng(0).standard_normal((3, 4))
    r = np.random.default_rng(1).standard_normal((3, 3))
    out = net.forward(x)
    assert np.allclose(out.sum(axis=1), 1)
    dx = net.backward(r)
    assert rel_err(dx, numeric_grad(lambda: float(np.sum(net.forward(x) * r)), x)) < 1e-6
    w = net.parameters()[0][1]
    net.forward(x)
    net.backward(r)
    analytic = net.parameters()[0][2].copy()
    assert rel_err(analytic, numeric_grad(lambda: float(np.sum(net.forward(x) * r)), w)) < 1e-6


def test_softmax_with_cross_entropy_trains_through_the_fused_path():
    net = Network.from_spec(mlp_spec())
    assert net._fused_split() == 3
    x = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    y = np.array([0, 1, 2, 0, 1, 2])
    results = core.check_network(net, x, y)
    assert all(r.passed for r in results), results
    # fused gradient equals plain CE through the softmax Jacobian
    net64 = core.analysis.gradcheck.float64_copy(net)
    t = net64.targets(y)
    net64.compute_gradients(x.astype(np.float64), t, training=False)
    fused = net64.parameters()[0][2].copy()
    probs = net64.forward(x.astype(np.float64))
    net64.backward(core.get_loss("cross_entropy").gradient(probs, t))
    assert np.allclose(fused, net64.parameters()[0][2], rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("loss,last", [("mse", "sigmoid"), ("binary_cross_entropy", "sigmoid"),
                                       ("cross_entropy", "linear"), ("mse", "softmax")])
def test_gradient_check_for_each_loss(loss, last):
    units = 1 if loss == "binary_cross_entropy" else 3
    spec = mlp_spec(loss=loss)
    spec["layers"] = [*spec["layers"][:2], {"type": "Dense", "units": units}, {"type": "Activation", "function": last}]
    net = Network.from_spec(spec)
    x = np.random.default_rng(0).standard_normal((5, 4))
    y = np.array([0, 1, 1, 0, 1]) if units == 1 else np.array([0, 1, 2, 2, 1])
    assert all(r.passed for r in core.check_network(net, x, y))


def test_gradient_check_catches_a_broken_layer(monkeypatch):
    net = Network.from_spec(mlp_spec())
    dense = net.layers[2]
    original = type(dense).backward

    def broken(self, dy, need_input_grad=True):
        dx = original(self, dy, need_input_grad)
        self.grads["W"] *= 1.01
        return dx

    monkeypatch.setattr(type(dense), "backward", broken)
    results = {r.key: r.passed for r in core.check_network(net, np.ones((2, 4)), np.array([0, 1]))}
    assert results["layers.2.W"] is False and results["layers.0.b"] is True


def make_data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1)
    return x, y


def trained_weights(seed, **fit_kwargs):
    spec = mlp_spec(seed=seed, optimizer={"type": "Adam", "learning_rate": 0.01})
    spec["layers"].insert(2, {"type": "Dropout", "rate": 0.2})
    net = Network.from_spec(spec)
    x, y = make_data()
    net.fit(x, y, epochs=3, batch_size=16, **fit_kwargs)
    return net.get_weights(), net.history


def test_same_seed_gives_bit_identical_weights_and_curves():
    w1, h1 = trained_weights(7, validation_split=0.2)
    w2, h2 = trained_weights(7, validation_split=0.2)
    assert all(np.array_equal(w1[k], w2[k]) for k in w1)
    assert h1.batches["loss"] == h2.batches["loss"] and h1.history == h2.history
    w3, _ = trained_weights(8, validation_split=0.2)
    assert not all(np.array_equal(w1[k], w3[k]) for k in w1)


def test_float64_mode():
    net = Network.from_spec(mlp_spec(dtype="float64"))
    x, y = make_data()
    net.fit(x, y, epochs=1)
    assert all(p.dtype == np.float64 for _, p, _ in net.parameters())
    assert net.predict(x).dtype == np.float64


def test_predict_evaluate_and_classes():
    net = Network.from_spec(mlp_spec(optimizer={"type": "Adam", "learning_rate": 0.05}))
    x, y = make_data(300)
    net.fit(x, y, epochs=20, batch_size=32)
    probs = net.predict(x, batch_size=7)
    assert probs.shape == (300, 3) and np.allclose(probs.sum(1), 1, atol=1e-5)
    assert np.array_equal(net.predict_classes(x), probs.argmax(1))
    result = net.evaluate(x, y)
    assert result["accuracy"] == pytest.approx(np.mean(net.predict_classes(x) == y))
    assert result["accuracy"] > 0.9


def test_wrong_input_shape_is_explained():
    net = Network.from_spec(mlp_spec())
    with pytest.raises(core.TrainingError, match=r"input has shape \(2, 5\)"):
        net.predict(np.zeros((2, 5)))


def test_summary_lists_layers_and_totals():
    text = Network.from_spec(ISSUE_SPEC).summary()
    assert "(8, 14, 14)" in text and "Total params: 15,770" in text




# -- non-trainable state (tests/core/stateful_layer.py: a test-only layer with a running mean) --
def stateful_net(seed=3):
    from tests.core.stateful_layer import Center

    return Network([core.Dense(4), Center(), core.Activation("tanh"), core.Dense(2)], input_shape=(3,),
                   loss="mse", optimizer={"type": "SGD", "learning_rate": 0.1}, seed=seed).build()


def train_a_little(net, steps=3):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((8, 3)) + 2.0  # a mean far from the initial running mean (0)
    for _ in range(steps):
        net.train_step(x.astype(net.dtype), net.targets(rng.standard_normal((8, 2))))
    return x


def test_state_is_kept_apart_from_parameters_and_never_touched_by_the_optimizer():
    from tests.core.stateful_layer import registered

    with registered():
        net = stateful_net()
        keys = [k for k, _, _ in net.parameters()]
        assert "layers.1.b" in keys and not any("running_mean" in k for k in keys)
        assert list(net.state_dict()) == ["layers.1.running_mean"]
        assert np.array_equal(net.state_dict()["layers.1.running_mean"], np.zeros(4))
        net.optimizer.step(net.parameters())  # grads are zero: nothing but the state could move
        before = net.state_dict()
        train_a_little(net)
        after = net.state_dict()["layers.1.running_mean"]
        assert not np.array_equal(after, before["layers.1.running_mean"])  # training forward updated it
        # the optimizer never sees it: its slots are for parameters only
        assert all(not slot.startswith("layers.1.running_mean") for slot in net.optimizer.state_dict()["slots"])
        # inference leaves it alone
        net.predict(np.ones((5, 3)))
        assert np.array_equal(net.state_dict()["layers.1.running_mean"], after)


def test_state_dict_copies_and_load_state_dict_is_strict():
    from tests.core.stateful_layer import registered

    with registered():
        net = stateful_net()
        x = train_a_little(net)
        state = net.state_dict()
        state["layers.1.running_mean"][:] = 99  # a copy: the network is unchanged
        assert not np.any(net.state_dict()["layers.1.running_mean"] == 99)
        fresh = stateful_net()
        fresh.set_weights({k: p for k, p, _ in net.parameters()} | net.state_dict())
        assert np.array_equal(fresh.predict(x), net.predict(x))
        other = stateful_net()
        other.load_state_dict(net.state_dict())
        assert np.array_equal(other.state_dict()["layers.1.running_mean"], net.state_dict()["layers.1.running_mean"])
        kept = other.state_dict()
        with pytest.raises(SpecError, match=r"state does not match the network: missing layers\.1\.running_mean"):
            other.load_state_dict({})
        with pytest.raises(SpecError, match=r"unexpected layers\.0\.running_mean"):
            other.load_state_dict({**kept, "layers.0.running_mean": np.zeros(4)})
        with pytest.raises(SpecError, match=r"layers\.1\.running_mean has shape \(3,\) but the network needs \(4,\)"):
            other.load_state_dict({"layers.1.running_mean": np.zeros(3)})
        assert np.array_equal(other.state_dict()["layers.1.running_mean"], kept["layers.1.running_mean"])
        # a network without stateful layers has an empty state
        assert Network.from_spec(mlp_spec()).state_dict() == {}


def test_get_and_set_weights_and_the_inference_copy_carry_the_state():
    from tests.core.stateful_layer import registered

    with registered():
        net = stateful_net()
        x = train_a_little(net)
        weights = net.get_weights()
        assert "layers.1.running_mean" in weights and "layers.1.b" in weights
        fresh = stateful_net()
        assert not np.array_equal(fresh.predict(x), net.predict(x))  # same weights at build, other state
        fresh.set_weights(weights)
        assert np.array_equal(fresh.predict(x), net.predict(x))
        with pytest.raises(SpecError, match=r"missing layers\.1\.running_mean"):
            fresh.set_weights({k: v for k, v in weights.items() if k != "layers.1.running_mean"})
        copy = net.inference_copy()
        assert np.array_equal(copy.predict(x), net.predict(x))
        assert np.array_equal(copy.state_dict()["layers.1.running_mean"], net.state_dict()["layers.1.running_mean"])
        train_a_little(net)  # the copy is independent: training the original moves only its state
        assert not np.array_equal(copy.state_dict()["layers.1.running_mean"],
                                  net.state_dict()["layers.1.running_mean"])


def test_rebuilding_resets_the_state():
    from tests.core.stateful_layer import registered

    with registered():
        net = stateful_net()
        train_a_little(net)
        net.build()
        assert np.array_equal(net.state_dict()["layers.1.running_mean"], np.zeros(4))
