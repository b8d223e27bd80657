"""core.trace_step: one traced training step.

Gradients against central differences (float64, every layer type, every activation, every
loss, fused and not); applying a trace against training the same batches with the engine,
bit for bit; an unapplied trace changes nothing; the shipped model traces quickly.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import core
from core import Network, TrainingError, load_model, trace_step
from core.resource_files import resource_file

#: Every layer type and every activation once, with stride-2 convolutions ("same" and
#: "valid"), both poolings and dropout; per-sample input (1, 10, 10).
BODY = [
    {"type": "Conv2D", "filters": 3, "kernel_size": 3, "stride": 2, "padding": "same"},   # (3, 5, 5)
    {"type": "Activation", "function": "tanh"},
    {"type": "MaxPool2D", "pool_size": 2, "stride": 1},                                 # (3, 4, 4)
    {"type": "Conv2D", "filters": 4, "kernel_size": 2, "stride": 2, "padding": "valid"},  # (4, 2, 2)
    {"type": "Activation", "function": "gelu"},
    {"type": "AvgPool2D", "pool_size": 2, "stride": 1},                                 # (4, 1, 1)
    {"type": "Flatten"},
    {"type": "Dense", "units": 6},
    {"type": "Activation", "function": "leaky_relu"},
    {"type": "Dropout", "rate": 0.3},
    {"type": "Dense", "units": 5},
    {"type": "Activation", "function": "relu"},
    {"type": "Dense", "units": 5},
    {"type": "Activation", "function": "sigmoid"},
    {"type": "Dense", "units": 4},
    {"type": "Activation", "function": "linear"},
]
CLASSES = 3

#: (loss, final layers, whether the final activation is folded into the loss)
HEADS = {
    "mse_softmax": ("mse", [{"type": "Dense", "units": CLASSES}, {"type": "Activation", "function": "softmax"}]),
    "cross_entropy_fused": ("cross_entropy", [{"type": "Dense", "units": CLASSES},
                                              {"type": "Activation", "function": "softmax"}]),
    "cross_entropy_logits": ("cross_entropy", [{"type": "Dense", "units": CLASSES}]),
    "binary_cross_entropy_fused": ("binary_cross_entropy", [{"type": "Dense", "units": 1},
                                                            {"type": "Activation", "function": "sigmoid"}]),
    "binary_cross_entropy_logits": ("binary_cross_entropy", [{"type": "Dense", "units": 1}]),
}


def _net(head: str, dtype: str = "float64", optimizer: dict | None = None) -> Network:
    loss, tail = HEADS[head]
    return Network.from_spec({"input_shape": [1, 10, 10], "layers": BODY + tail, "loss": loss, "seed": 3,
                              "dtype": dtype, "optimizer": optimizer or {"type": "SGD", "learning_rate": 0.1}})


def _batch(net: Network, n: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 1, 10, 10))
    units = net.output_shape[0]
    y = rng.integers(0, max(units, 2), size=n)
    return x, y


def _rel_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a), np.linalg.norm(b), 1e-30))


def _numeric(f, a: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Central differences of the scalar f at a (a is perturbed in place and restored)."""
    g = np.zeros_like(a)
    flat, gflat = a.reshape(-1), g.reshape(-1)
    for j in range(flat.size):
        keep = flat[j]
        flat[j] = keep + h
        up = f()
        flat[j] = keep - h
        down = f()
        flat[j] = keep
        gflat[j] = (up - down) / (2 * h)
    return g


class _Replay:
    """The training loss of ``net`` from layer ``i`` on, with the dropout masks of the traced
    step: the generator is set to the state it had when layer ``i`` ran during the trace."""

    def __init__(self, net: Network, x: np.ndarray, targets: np.ndarray):
        self.net, self.targets = net, targets
        self.split = net._fused_split()
        self.start_state = net.rng.bit_generator.state
        self.states, self.inputs = [], []
        out = x
        for layer in net.layers[:self.split]:
            self.states.append(net.rng.bit_generator.state)
            self.inputs.append(out.copy())
            out = layer.forward(out, True)
        self.logits = out.copy()
        net.rng.bit_generator.state = self.start_state

    def loss_from(self, i: int, a: np.ndarray) -> float:
        net = self.net
        net.rng.bit_generator.state = self.states[i]
        out = a
        for layer in net.layers[i:self.split]:
            out = layer.forward(out, True)
        net.rng.bit_generator.state = self.start_state
        return self.loss_of(out)

    def loss_of(self, scores: np.ndarray) -> float:
        loss = self.net.loss
        if loss.fused_activation is not None:
            return loss.value_from_logits(scores, self.targets)
        return loss.value(scores, self.targets)


@pytest.mark.parametrize("head", list(HEADS))
def test_every_traced_gradient_matches_central_differences(head):
    net = _net(head)
    x, y = _batch(net)
    trace = trace_step(net, x, y)
    assert trace.finite
    replay = _Replay(net, x, net.targets(y))
    split = replay.split
    assert [r.type for r in trace.layers] == [layer.type_name for layer in net.layers]
    assert [r.index for r in trace.layers] == list(range(len(net.layers)))
    for i, record in enumerate(trace.layers[:split]):
        # The records are the values of the traced forward pass ...
        np.testing.assert_array_equal(record.input, replay.inputs[i])
        assert record.grad_output.shape == record.output.shape
        assert record.grad_input.shape == record.input.shape
        # ... dL/d input of every layer against differences of the loss from that layer on
        inp = replay.inputs[i].copy()
        numeric = _numeric(lambda i=i, inp=inp: replay.loss_from(i, inp), inp)
        assert _rel_error(record.grad_input, numeric) < 1e-6, (i, record.type)
        if i + 1 < len(trace.layers):
            np.testing.assert_array_equal(record.grad_output, trace.layers[i + 1].grad_input)
        # ... and every parameter gradient against differences of the loss in that parameter
        layer = net.layers[i]
        for name, p in layer.params.items():
            numeric = _numeric(lambda: replay.loss_from(0, x), p)
            assert _rel_error(record.grads[name], numeric) < 1e-6, (i, name)
    last = trace.layers[-1]
    loss = net.loss
    t = net.targets(y)
    if split < len(net.layers):
        # Fused: dL/dp at the activation's output, (p - y) / n at its input.
        assert last.fused and last.input is not None
        probabilities = last.output.copy()
        numeric = _numeric(lambda: loss.value(probabilities, t), probabilities)
        assert _rel_error(last.grad_output, numeric) < 1e-6
        logits = replay.logits.copy()
        numeric = _numeric(lambda: loss.value_from_logits(logits, t), logits)
        assert _rel_error(last.grad_input, numeric) < 1e-6
        divisor = t.shape[0] if loss.name == "cross_entropy" else t.size
        np.testing.assert_allclose(last.grad_input, (last.output - t) / divisor, rtol=1e-12, atol=1e-15)
    else:
        out = last.output.copy()
        numeric = _numeric(lambda: replay.loss_of(out), out)
        assert _rel_error(last.grad_output, numeric) < 1e-6
    assert trace.loss == pytest.approx(replay.loss_from(0, x), rel=0, abs=0)


def test_fused_records_show_the_probabilities_and_the_loss_on_them():
    net = _net("cross_entropy_fused")
    x, y = _batch(net)
    trace = trace_step(net, x, y)
    last = trace.layers[-1]
    assert last.fused and last.type == "Activation"
    np.testing.assert_allclose(last.output.sum(axis=1), 1.0)
    np.testing.assert_array_equal(trace.outputs, last.output)
    np.testing.assert_array_equal(trace.scores, last.input)
    # dL/dp = -t / p / n for cross-entropy: nonzero only at each sample's label
    t = net.targets(y)
    np.testing.assert_allclose(last.grad_output, -t / last.output / len(y))
    assert trace.loss == pytest.approx(-np.log(last.output[np.arange(len(y)), y]).mean(), rel=1e-12)
    with pytest.raises(ValueError, match="read-only"):  # apply() steps with these very gradients
        trace.layers[0].grads["W"][...] = 0


OPTIMIZERS = {
    "sgd": {"type": "SGD", "learning_rate": 0.05, "weight_decay": 0.01},
    "momentum": {"type": "SGD", "learning_rate": 0.05, "momentum": 0.9, "weight_decay": 0.01},
    "nesterov": {"type": "SGD", "learning_rate": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
    "adam": {"type": "Adam", "learning_rate": 0.01, "weight_decay": 0.01},
}


def _assert_same_training_state(a: Network, b: Network) -> None:
    wa, wb = a.get_weights(), b.get_weights()
    assert wa.keys() == wb.keys()
    for key in wa:
        assert np.array_equal(wa[key], wb[key], equal_nan=True), key
    sa, sb = a.optimizer.state_dict(), b.optimizer.state_dict()
    assert sa["iterations"] == sb["iterations"]
    assert sa["slots"].keys() == sb["slots"].keys()
    for key in sa["slots"]:
        assert np.array_equal(sa["slots"][key], sb["slots"][key]), key
    assert a.rng.bit_generator.state == b.rng.bit_generator.state


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_applying_three_traces_is_bit_identical_to_fit(optimizer):
    """One epoch of 3 shuffled batches with fit against: the same shuffle, then trace and
    apply each batch (float32, the default dtype; dropout on, weight decay on)."""
    config = OPTIMIZERS[optimizer]
    fitted, traced = (_net("cross_entropy_fused", "float32", config) for _ in range(2))
    x, y = _batch(fitted, n=12, seed=1)
    fitted.fit(x, y, epochs=1, batch_size=4)
    if config["type"] == "Adam" or config.get("momentum"):
        assert fitted.optimizer.state, "the optimizer keeps slots"
    order = traced.rng.permutation(12)  # what run_training draws at the start of the epoch
    losses = []
    for b in range(3):
        idx = order[4 * b: 4 * b + 4]
        trace = trace_step(traced, x[idx], y[idx])
        before = {key: p.copy() for key, p, _ in traced.parameters()}
        trace.apply()
        losses.append(trace.loss)
        for key, i, name in ((k, int(k.split(".")[1]), k.split(".")[2]) for k in before):
            # the recorded update is what the step changed, and the after values are exact
            np.testing.assert_array_equal(traced.layers[i].params[name], trace.layers[i].params_after[name])
            np.testing.assert_array_equal(trace.layers[i].update[name], traced.layers[i].params[name] - before[key])
    _assert_same_training_state(fitted, traced)
    assert losses == fitted.history.batches["loss"]


def test_optimizer_state_records_adam_slots_and_bias_corrections():
    net = _net("cross_entropy_fused", "float64", OPTIMIZERS["adam"])
    x, y = _batch(net)
    first = trace_step(net, x, y)
    state = first.layers[0].optimizer_state
    assert (state.iterations_before, state.iterations_after) == (0, 1)
    assert state.before["W"].keys() == {"m", "v"}
    assert not state.before["W"]["m"].any()
    assert state.bias_corrections == {"1 - beta1^t": pytest.approx(0.1), "1 - beta2^t": pytest.approx(0.001)}
    first.apply()
    second = trace_step(net, *_batch(net, seed=5))
    s2 = second.layers[0].optimizer_state
    np.testing.assert_array_equal(s2.before["W"]["m"], state.after["W"]["m"])
    # m = β₁ m + (1 − β₁)(g + wd·W): the recorded gradient is the layer's, before weight decay
    np.testing.assert_allclose(s2.after["W"]["m"], net.optimizer.state["layers.0.W"]["m"] * 0.9
                               + 0.1 * (second.layers[0].grads["W"] + 0.01 * net.layers[0].params["W"]),
                               rtol=1e-12, atol=1e-18)
    assert s2.iterations_after == 2
    # Adam's update from the recorded state, m̂ / (sqrt(v̂) + eps) — the formula the view shows
    m_hat = s2.after["W"]["m"] / s2.bias_corrections["1 - beta1^t"]
    v_hat = s2.after["W"]["v"] / s2.bias_corrections["1 - beta2^t"]
    np.testing.assert_allclose(second.layers[0].update["W"], -0.01 * m_hat / (np.sqrt(v_hat) + 1e-8), rtol=1e-9)


def _everything(net: Network) -> tuple:
    return (net.get_weights(), net.optimizer.state_dict(), net.rng.bit_generator.state,
            {key: g.copy() for key, _, g in net.parameters()})


def _assert_snapshots_equal(a: tuple, b: tuple) -> None:
    (wa, oa, ra, ga), (wb, ob, rb, gb) = a, b
    assert all(np.array_equal(wa[k], wb[k]) for k in wa) and wa.keys() == wb.keys()
    assert oa["iterations"] == ob["iterations"] and oa["slots"].keys() == ob["slots"].keys()
    assert all(np.array_equal(oa["slots"][k], ob["slots"][k]) for k in oa["slots"])
    assert ra == rb
    assert all(np.array_equal(ga[k], gb[k]) for k in ga)


def test_an_unapplied_trace_changes_nothing_and_training_goes_on_as_if_never_traced():
    config = OPTIMIZERS["adam"]
    net, twin = (_net("cross_entropy_fused", "float32", config) for _ in range(2))
    x, y = _batch(net, n=8, seed=2)
    net.fit(x, y, epochs=1, batch_size=4)  # slots and iterations that a trace could disturb
    twin.fit(x, y, epochs=1, batch_size=4)
    before = _everything(net)
    trace = trace_step(net, x[:4], y[:4])
    dropout = next(r for r in trace.layers if r.type == "Dropout")
    assert dropout.mask is not None and all(r.mask is None for r in trace.layers if r is not dropout)
    keep = np.float32(1 / 0.7)
    assert set(np.unique(dropout.mask)) == {0, keep}
    np.testing.assert_array_equal(dropout.output, dropout.input * dropout.mask)
    np.testing.assert_array_equal(dropout.grad_input, dropout.grad_output * dropout.mask)
    _assert_snapshots_equal(before, _everything(net))
    net.fit(x, y, epochs=1, batch_size=4)
    twin.fit(x, y, epochs=1, batch_size=4)
    _assert_same_training_state(net, twin)


def test_a_stale_or_repeated_apply_is_refused_and_changes_nothing():
    net = _net("cross_entropy_fused", "float32", OPTIMIZERS["momentum"])
    x, y = _batch(net, n=4)
    trace = trace_step(net, x, y)
    trace.apply()
    snapshot = _everything(net)
    with pytest.raises(TrainingError, match="applied already"):
        trace.apply()
    stale = trace_step(net, x, y)
    net.fit(x, y, epochs=1, batch_size=4)  # the network trains on after the trace
    snapshot = _everything(net)
    with pytest.raises(TrainingError, match="changed since this step was traced"):
        stale.apply()
    _assert_snapshots_equal(snapshot, _everything(net))
    changed_lr = trace_step(net, x, y)
    net.optimizer.learning_rate = 0.5
    with pytest.raises(TrainingError, match="trace the batch again"):
        changed_lr.apply()


def test_bad_batches_get_a_sentence():
    net = _net("cross_entropy_fused", "float32")
    x, y = _batch(net, n=4)
    with pytest.raises(TrainingError, match="input has shape"):
        trace_step(net, x.reshape(4, -1), y)
    with pytest.raises(TrainingError, match="4 inputs but 3 labels"):
        trace_step(net, x, y[:3])
    with pytest.raises(TrainingError, match="empty"):
        trace_step(net, x[:0], y[:0])


def test_a_non_finite_step_is_refused_on_apply_as_training_refuses_it():
    net = _net("mse_softmax", "float32")
    x, y = _batch(net, n=4)
    net.layers[-2].params["W"][0, 0] = np.nan
    reference = _net("mse_softmax", "float32")
    reference.layers[-2].params["W"][0, 0] = np.nan
    trace = trace_step(net, x, y)
    assert not trace.finite
    with pytest.raises(TrainingError) as applied:
        trace.apply()
    with pytest.raises(TrainingError) as trained:
        reference.train_step(reference._check_input(x), reference.targets(y))
    assert str(applied.value) == str(trained.value)
    _assert_same_training_state(net, reference)


def test_the_shipped_model_traces_a_batch_of_eight_quickly_and_applies_like_fit(capsys):
    with resource_file("models/mnist_cnn.nnz") as path:
        net = load_model(path)
    with resource_file("models/mnist_cnn.nnz") as path:
        twin = load_model(path)
    x = np.random.default_rng(0).random((8, *net.known_input_shape())).astype(np.float32)
    y = np.arange(8)
    trace_step(net, x, y)  # warm-up
    start = time.perf_counter()
    trace = trace_step(net, x, y)
    ms = (time.perf_counter() - start) * 1000
    with capsys.disabled():
        print(f"\ntrace_step on the shipped MNIST CNN, batch of 8: {ms:.1f} ms")
    assert ms < 2000
    assert len(trace.layers) == len(net.layers) and np.isfinite(trace.loss)
    trace.apply()
    twin.fit(x, y, epochs=1, batch_size=8, shuffle=False)
    _assert_same_training_state(net, twin)


def test_trace_step_is_public():
    assert core.trace_step is trace_step and "trace_step" in core.__all__


def test_a_network_never_built_is_built_first_as_fit_builds_it_and_labels_may_be_a_list():
    loss, tail = HEADS["cross_entropy_fused"]
    spec = {"input_shape": [1, 10, 10], "layers": BODY + tail, "loss": loss, "seed": 4,
            "optimizer": OPTIMIZERS["nesterov"]}
    fresh, fitted = Network.from_spec(spec, build=False), Network.from_spec(spec, build=False)
    x, y = _batch(fitted, n=5, seed=7)
    trace = trace_step(fresh, x, [int(v) for v in y])
    trace.apply()
    fitted.fit(x, y, epochs=1, batch_size=5, shuffle=False)
    _assert_same_training_state(fresh, fitted)
