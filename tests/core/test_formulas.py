"""core.explain: the formula behind any number of a traced step recomputes the engine's number.

For every layer type, every activation, every loss and every optimizer: ``value`` is
recomputed from the formula's own arithmetic and must equal the traced number bit for bit
where the formula says ``exact`` (and, in float64, everywhere the engine's BLAS order is
learnable), within ``tolerance`` otherwise; ``engine_value`` must be the number the pick
names. A pick outside the trace is a TrainingError with a sentence. Also
``finite_difference_check``: backprop against central differences, the network untouched.
"""

from __future__ import annotations

import copy
import time

import numpy as np
import pytest

import core
from core import (
    Network,
    Pick,
    TrainingError,
    available_quantities,
    explain,
    finite_difference_check,
    load_model,
    trace_step,
)
from core.resource_files import resource_file
from tests.core.test_trace_step import BODY, HEADS

OPTIMIZERS = {
    "sgd": {"type": "SGD", "learning_rate": 0.1},
    "momentum_wd": {"type": "SGD", "learning_rate": 0.1, "momentum": 0.9, "weight_decay": 0.01},
    "nesterov": {"type": "SGD", "learning_rate": 0.05, "momentum": 0.8, "nesterov": True},
    "adam_wd": {"type": "Adam", "learning_rate": 0.01, "weight_decay": 0.001},
}


def _body_net(head: str, dtype: str, optimizer: dict) -> Network:
    loss, tail = HEADS[head]
    return Network.from_spec({"input_shape": [1, 10, 10], "layers": BODY + tail, "loss": loss, "seed": 3,
                              "dtype": dtype, "optimizer": optimizer})


def _traced(net: Network, n: int = 4, seed: int = 0, steps_before: int = 1):
    """The trace of a batch after ``steps_before`` applied steps (so momentum and Adam slots,
    and Adam's t, are not at their starting values)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, *net.known_input_shape()))
    y = rng.integers(0, max(net.output_shape[0], 2), size=n)
    for _ in range(steps_before):
        trace_step(net, x, y).apply()
    return trace_step(net, x, y)


def _engine_number(trace, pick: Pick) -> float:
    """The number ``pick`` names, read straight from the trace."""
    if pick.layer == -1:
        return trace.loss if pick.quantity == "output" else float(trace.layers[-1].grad_output[(pick.sample,
                                                                                               *pick.index)])
    record = trace.layers[pick.layer]
    kind, _, name = pick.quantity.partition(":")
    if kind == "grad":
        return float(record.grads[name][pick.index])
    if kind == "update":
        return float(record.update[name][pick.index])
    at = (pick.sample, *pick.index)
    return float(getattr(record, kind)[at])


def _picks(trace, rng: np.random.Generator, per_quantity: int):
    batch = trace.layers[0].input.shape[0]
    for layer in range(-1, len(trace.layers)):
        for quantity in available_quantities(trace, layer):
            for _ in range(per_quantity):
                if layer == -1:
                    shape = () if quantity == "output" else trace.layers[-1].output.shape[1:]
                else:
                    record = trace.layers[layer]
                    kind, _, name = quantity.partition(":")
                    shape = record.params[name].shape if name else getattr(record, kind).shape[1:]
                index = tuple(int(rng.integers(n)) for n in shape)
                yield Pick(layer, quantity, index, int(rng.integers(batch)))


def _matrix_vector(trace, pick: Pick) -> bool:
    """A Dense number whose engine product has a result of one row or one column (a 1-unit
    layer, a one-sample batch): NumPy/OpenBLAS compute it as a matrix-vector product, whose
    interleaved accumulators the calibration does not model (measured with OpenBLAS 0.3.31,
    SkylakeX kernels); the formula then shows the exactly rounded sum with its bound."""
    if pick.layer < 0 or trace.layers[pick.layer].type != "Dense":
        return False
    (batch, n_in), units = trace.layers[pick.layer].input.shape, trace.layers[pick.layer].output.shape[1]
    rows, columns = {"output": (batch, units), "grad_input": (batch, n_in), "grad:W": (n_in, units)}.get(
        pick.quantity, (2, 2))
    return rows == 1 or columns == 1


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("head", list(HEADS))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_every_number_of_every_layer_recomputes_the_engine(dtype, head, optimizer):
    trace = _traced(_body_net(head, dtype, OPTIMIZERS[optimizer]))
    rng = np.random.default_rng(hash((dtype, head, optimizer)) % 2**32)
    seen = set()
    for pick in _picks(trace, rng, per_quantity=2):
        f = explain(trace, pick)
        where = f"{pick}: {f.title}\n" + "\n".join(f.lines)
        assert f.engine_value == _engine_number(trace, pick), where
        seen.add((trace.layers[pick.layer].type if pick.layer >= 0 else "loss", pick.quantity.split(":")[0]))
        if f.exact:
            assert f.value == f.engine_value and f.tolerance == 0.0, where
        else:
            assert f.tolerance > 0.0 and abs(f.value - f.engine_value) <= f.tolerance, where
        if not _matrix_vector(trace, pick):
            assert f.exact, where
        assert f.lines and f.equation and f.title
    expected = {(t, q) for t in ("Conv2D", "Dense") for q in ("output", "grad_output", "grad_input", "grad", "update")}
    expected |= {(t, q) for t in ("Activation", "MaxPool2D", "AvgPool2D", "Flatten", "Dropout")
                 for q in ("output", "grad_output", "grad_input")}
    expected |= {("loss", "output"), ("loss", "grad_output")}
    assert seen == expected


@pytest.mark.parametrize("function", ["relu", "leaky_relu", "sigmoid", "tanh", "linear", "gelu", "softmax"])
def test_every_registered_activation_is_explained_exactly(function):
    assert {f.name for f in core.layers.activations.ACTIVATION_FUNCTIONS} == {
        "relu", "leaky_relu", "sigmoid", "tanh", "linear", "gelu", "softmax"}
    net = Network.from_spec({"input_shape": [6], "dtype": "float32", "loss": "mse", "seed": 2,
                             "layers": [{"type": "Dense", "units": 5}, {"type": "Activation", "function": function},
                                        {"type": "Dense", "units": 3}]})
    trace = _traced(net, n=6)
    for sample in range(6):
        for unit in range(5):
            for quantity in ("output", "grad_input"):
                f = explain(trace, Pick(1, quantity, (unit,), sample))
                assert f.exact and f.value == f.engine_value, "\n".join(f.lines)


def _mlp(dtype: str = "float64", optimizer: dict | None = None, n_in: int = 20) -> Network:
    return Network.from_spec({"input_shape": [n_in], "seed": 1, "dtype": dtype, "loss": "cross_entropy",
                              "optimizer": optimizer or {"type": "Adam", "learning_rate": 0.01},
                              "layers": [{"type": "Dense", "units": 7}, {"type": "Activation", "function": "tanh"},
                                         {"type": "Dense", "units": 4},
                                         {"type": "Activation", "function": "softmax"}]})


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_acceptance_a_dense_unit_its_weight_gradient_and_its_adam_update_to_the_last_bit(dtype):
    """Issue 18: the formula of a clicked Dense unit, weight gradient and Adam update recomputes
    the engine's value to the last bit (float64) or within float32 rounding — on an MNIST-sized
    first layer (784 inputs: the BLAS sums them in blocks), two steps into Adam."""
    net = _mlp(dtype, {"type": "Adam", "learning_rate": 0.003, "weight_decay": 0.0005}, n_in=784)
    trace = _traced(net, n=16, steps_before=2)
    record = trace.layers[0]
    rng = np.random.default_rng(1)
    for _ in range(6):
        i, j, s = int(rng.integers(784)), int(rng.integers(7)), int(rng.integers(16))
        unit = explain(trace, Pick(0, "output", (j,), s))
        grad = explain(trace, Pick(0, "grad:W", (i, j)))
        update = explain(trace, Pick(0, "update:W", (i, j)))
        assert unit.engine_value == record.output[s, j]
        assert grad.engine_value == record.grads["W"][i, j]
        assert update.engine_value == record.update["W"][i, j]
        for f in (unit, grad, update):
            assert f.exact and f.value == f.engine_value, "\n".join(f.lines)
        assert unit.rest is not None and unit.rest.text == "the other 778 terms"
        assert len(grad.terms) == 6 and grad.rest.text == "the other 10 terms"
        text = "\n".join(update.lines)
        for word in ("t = 3", "m ←", "v ←", "m̂", "v̂", "1 − β₁ᵗ", "1 − β₂ᵗ", "weight_decay", "1e-08"):
            assert word in text, text
        after = float(record.params_after["W"][i, j])
        assert f"after = W − step = {repr(after).replace('-', '−')}" in text


def test_the_largest_terms_come_first_and_the_rest_is_summed():
    trace = _traced(_mlp())
    f = explain(trace, Pick(0, "output", (3,), 2), max_terms=3)
    x, w = trace.layers[0].input[2], trace.layers[0].params["W"][:, 3]
    products = x * w
    order = np.argsort(-np.abs(products))
    assert [t.value for t in f.terms] == products[order[:3]].tolist()
    assert f.rest.text == "the other 17 terms"
    assert f.rest.value == pytest.approx(products[order[3:]].sum(), rel=1e-12)
    assert f.terms[0].text.startswith(f"x{core.analysis.formulas.sub(int(order[0]))}·W")
    assert f.equation == "z₃ = Σᵢ xᵢ·Wᵢ,₃ + b₃"
    everything = explain(trace, Pick(0, "output", (3,), 2), max_terms=50)
    assert len(everything.terms) == 20 and everything.rest is None


#: One case per formulation of Conv2D's fast path (``Conv2D.arithmetic``): input shape, layer
#: settings, batch, the layout the layer must use, and whether the batch spans several blocks.
CONV_FAST_PATHS = {
    "per_sample": ([1, 8, 8], {"filters": 4, "kernel_size": 3, "padding": "same"}, 5, "per-sample", False),
    "offset_major": ([1, 8, 8], {"filters": 16, "kernel_size": 3, "padding": "same"}, 5, "offset-major", False),
    "pixel_major": ([8, 9, 9], {"filters": 5, "kernel_size": 3, "stride": 2}, 5, "pixel-major", False),
    "blocks": ([8, 20, 20], {"filters": 6, "kernel_size": 3, "padding": "same"}, 10, "pixel-major", True),
}


@pytest.mark.parametrize("jit", ["compiled", "numpy"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", list(CONV_FAST_PATHS))
def test_conv_formulas_follow_each_fast_path_to_the_last_bit(case, dtype, jit, monkeypatch):
    """Every Conv2D number (output, weight and bias gradient, input gradient) recomputes the
    engine's number bit for bit on each formulation of the fast path: patches ordered by
    kernel offset then channel, the bias folded in, block by block; the input gradient both
    gathered by the compiled kernel (stride 1) and summed offset by offset with NumPy."""
    monkeypatch.setenv("NNSTUDIO_JIT", "1" if jit == "compiled" else "0")
    # Winograd's path (3×3 layers on 8+ channels in float64) is explained in test_winograd.py.
    monkeypatch.setattr(core.layers._winograd, "WINOGRAD_FROM_CHANNELS", {4: 1 << 30, 8: 1 << 30})
    shape, settings, batch, layout, several_blocks = CONV_FAST_PATHS[case]
    net = Network.from_spec({"input_shape": shape, "dtype": dtype, "loss": "mse", "seed": 6,
                             "optimizer": {"type": "SGD", "learning_rate": 0.1},
                             "layers": [{"type": "Conv2D", **settings}, {"type": "Activation", "function": "tanh"},
                                        {"type": "Flatten"}, {"type": "Dense", "units": 3}]})
    arithmetic = net.layers[0].arithmetic(batch)
    assert arithmetic.layout == layout
    assert (len(arithmetic.blocks()) > 1) == several_blocks
    assert arithmetic.gathered_input_grad == (jit == "compiled" and settings.get("stride", 1) == 1)
    trace = _traced(net, n=batch)
    record = trace.layers[0]
    rng = np.random.default_rng(7)
    shapes = {"output": record.output.shape[1:], "grad_input": record.input.shape[1:],
              "grad:W": record.grads["W"].shape, "grad:b": record.grads["b"].shape}
    for quantity, shape_q in shapes.items():
        for _ in range(5):
            index = tuple(int(rng.integers(d)) for d in shape_q)
            sample = None if quantity.startswith("grad:") else int(rng.integers(batch))
            f = explain(trace, Pick(0, quantity, index, sample))
            assert f.engine_value == _engine_number(trace, Pick(0, quantity, index, sample))
            assert f.exact and f.value == f.engine_value, "\n".join(f.lines)


def test_conv_window_respects_padding_and_stride():
    net = Network.from_spec({"input_shape": [2, 7, 7], "dtype": "float64", "loss": "mse", "seed": 4,
                             "layers": [{"type": "Conv2D", "filters": 3, "kernel_size": 3, "stride": 2,
                                         "padding": "same"}, {"type": "Flatten"}, {"type": "Dense", "units": 2}]})
    trace = _traced(net, n=3)
    record = trace.layers[0]
    padded = np.pad(record.input, ((0, 0), (0, 0), (1, 1), (1, 1)))  # same, stride 2 on 7: 1 row/column each side
    for f_, r, c in [(0, 0, 0), (2, 3, 3), (1, 0, 2)]:
        formula = explain(trace, Pick(0, "output", (f_, r, c), 1))
        window = padded[1, :, 2 * r:2 * r + 3, 2 * c:2 * c + 3]
        np.testing.assert_array_equal(formula.window["input"], window)
        np.testing.assert_array_equal(formula.window["kernel"], record.params["W"][f_])
        np.testing.assert_array_equal(formula.window["origin"], [2 * r - 1, 2 * c - 1])
        expected = (window * record.params["W"][f_]).sum() + record.params["b"][f_]
        assert formula.value == pytest.approx(expected, rel=1e-13)
        assert formula.exact and formula.value == record.output[1, f_, r, c]
    assert "zero padding" in "\n".join(explain(trace, Pick(0, "output", (0, 0, 0), 1)).lines)


def test_max_pooling_names_the_winner_and_breaks_ties_as_the_engine():
    net = Network.from_spec({"input_shape": [1, 4, 4], "dtype": "float64", "loss": "mse", "seed": 0,
                             "layers": [{"type": "MaxPool2D", "pool_size": 2}, {"type": "Flatten"},
                                        {"type": "Dense", "units": 1}]})
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, :2, :2] = [[1.0, 5.0], [5.0, 2.0]]  # a tie: (0, 1) comes first row by row
    trace = trace_step(net, x, np.array([[1.0]]))
    f = explain(trace, Pick(0, "output", (0, 0, 0)))
    assert f.value == 5.0 and f.exact
    np.testing.assert_array_equal(f.window["winner"], [0, 1])
    assert "winner: input (0, 0, 1) = 5.0 (first of 2 equal maxima" in "\n".join(f.lines)
    winner = explain(trace, Pick(0, "grad_input", (0, 0, 1)))
    loser = explain(trace, Pick(0, "grad_input", (0, 1, 0)))
    assert winner.value == trace.layers[0].grad_output[0, 0, 0, 0] != 0 and winner.exact
    assert loser.value == 0 and loser.exact and "lost" in "\n".join(loser.lines)


def test_softmax_shows_the_shifted_exponentials_and_their_sum():
    trace = _traced(_mlp())
    f = explain(trace, Pick(3, "output", (2,), 1))
    z = trace.layers[3].input[1]
    exps = np.exp(z - z.max())
    assert sorted(t.value for t in f.terms) == sorted(exps.tolist())
    text = "\n".join(f.lines)
    assert f"max z = {repr(float(z.max())).replace('-', '−')}" in text and "Σⱼ exp(zⱼ − max z)" in text
    assert f.exact
    fused = explain(trace, Pick(3, "grad_input", (2,), 1))  # cross-entropy: folded into the loss
    p, t = trace.layers[3].output[1, 2], trace.targets[1, 2]
    assert fused.value == pytest.approx((p - t) / 4, rel=1e-15) and fused.exact  # a batch of 4
    assert "(p₂ − y₂) / n" in fused.equation


def test_dropout_shows_its_mask():
    net = Network.from_spec({"input_shape": [8], "dtype": "float64", "loss": "mse", "seed": 5,
                             "layers": [{"type": "Dense", "units": 6}, {"type": "Dropout", "rate": 0.5},
                                        {"type": "Dense", "units": 2}]})
    trace = _traced(net, n=4)
    mask = trace.layers[1].mask
    assert {0.0, 2.0} == set(np.unique(mask).tolist())
    for s, unit in np.ndindex(4, 6):
        f = explain(trace, Pick(1, "output", (unit,), s))
        assert f.exact and f.value == trace.layers[1].input[s, unit] * mask[s, unit]
        assert ("dropped this step" if mask[s, unit] == 0 else "kept") in "\n".join(f.lines)


@pytest.mark.parametrize("head", list(HEADS))
def test_the_loss_formula_lists_each_samples_share(head):
    trace = _traced(_body_net(head, "float64", OPTIMIZERS["sgd"]), n=5)
    f = explain(trace, Pick(-1, "output", ()), max_terms=3)
    assert f.exact and f.value == trace.loss
    assert len(f.terms) == 3 and f.rest.text == "the other 2 samples"
    assert sum(t.value for t in f.terms) + f.rest.value == pytest.approx(trace.loss, rel=1e-12)


def test_available_quantities_name_the_parameters():
    trace = _traced(_mlp())
    assert available_quantities(trace, 0) == ["output", "grad_output", "grad_input", "grad:W", "grad:b",
                                              "update:W", "update:b"]
    assert available_quantities(trace, 1) == ["output", "grad_output", "grad_input"]
    assert available_quantities(trace, -1) == ["output", "grad_output"]


@pytest.mark.parametrize("pick, words", [
    (Pick(9, "output", (0,)), "layers 0 to 3"),
    (Pick(-2, "output", (0,)), "layers 0 to 3"),
    (Pick(0, "grad:Q", (0, 0)), "no quantity 'grad:Q'"),
    (Pick(1, "update:W", (0, 0)), "no quantity 'update:W'"),
    (Pick(0, "output", (7,)), "index 7 on axis 0"),
    (Pick(0, "output", (-1,)), "index -1 on axis 0"),
    (Pick(0, "output", (1, 2)), "give 1 indices"),
    (Pick(0, "output", ("a",)), "tuple of whole numbers"),
    (Pick(0, "output", (1,), sample=5), "samples 0 to 4"),
    (Pick(0, "grad:W", (20, 0)), "index 20 on axis 0"),
    (Pick(-1, "output", (0,)), "give 0 indices"),
    (Pick(-1, "grad_output", (4,)), "index 4 on axis 0"),
])
def test_a_pick_outside_the_trace_is_a_sentence(pick, words):
    trace = _traced(_mlp(), n=5)
    with pytest.raises(TrainingError, match=words):
        explain(trace, pick)


def test_max_terms_must_be_positive():
    trace = _traced(_mlp())
    with pytest.raises(TrainingError, match="at least 1"):
        explain(trace, Pick(0, "output", (0,)), max_terms=0)


def test_the_formulas_are_public():
    for name in ("explain", "Pick", "Formula", "Term", "available_quantities", "finite_difference_check",
                 "FiniteDifference"):
        assert name in core.__all__ and hasattr(core, name)


# -- finite differences ---------------------------------------------------------------------------------


def _training_state(net: Network):
    return (copy.deepcopy(net.get_weights()), copy.deepcopy(net.optimizer.state_dict()),
            copy.deepcopy(net.rng.bit_generator.state))


@pytest.mark.parametrize("head", ["cross_entropy_fused", "mse_softmax", "binary_cross_entropy_logits"])
def test_finite_differences_agree_with_backprop_on_every_layer_and_touch_nothing(head):
    net = _body_net(head, "float32", OPTIMIZERS["adam_wd"])
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 1, 10, 10))
    y = rng.integers(0, max(net.output_shape[0], 2), size=3)
    trace_step(net, x, y).apply()  # optimizer slots to keep intact
    before = _training_state(net)
    for layer in range(len(net.layers)):
        results = finite_difference_check(net, x, y, layer, entries=4)
        assert 1 <= len(results) <= 4
        smooth = [r for r in results if not r.at_kink]
        assert smooth, f"layer {layer}: every entry sat at a kink"
        for r in smooth:
            assert r.relative_error < 1e-6, (layer, r)
            assert r.agrees
        names = {r.what.split("[")[0] for r in results}
        assert names <= (set(net.layers[layer].params) or {"input"})
        sizes = [abs(r.backprop) for r in results]
        assert sizes == sorted(sizes, reverse=True)
    after = _training_state(net)
    for a, b in zip(before[0].values(), after[0].values(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert before[1]["iterations"] == after[1]["iterations"]
    for key in before[1]["slots"]:
        np.testing.assert_array_equal(before[1]["slots"][key], after[1]["slots"][key])
    assert before[2] == after[2]


def test_a_wrong_gradient_shows_as_a_large_error():
    """The check can fail: a layer whose backward scales its weight gradient is caught."""
    net = _mlp("float64")
    x = np.random.default_rng(0).normal(size=(4, 20))
    y = np.array([0, 1, 2, 3])
    dense = core.Dense

    original = dense.backward

    def scaled(self, dy, need_input_grad=True):
        result = original(self, dy, need_input_grad)
        self.grads["W"] *= 1.001
        return result

    dense.backward = scaled
    try:
        results = finite_difference_check(net, x, y, 0)
    finally:
        dense.backward = original
    assert all(r.relative_error > 1e-4 for r in results if r.what.startswith("W"))


def test_finite_differences_refuse_a_layer_the_network_does_not_have():
    net = _mlp()
    with pytest.raises(TrainingError, match="layers 0 to 3"):
        finite_difference_check(net, np.zeros((1, 20)), np.array([0]), 4)


def test_finite_differences_on_the_shipped_cnn_take_under_a_second_per_layer(capsys):
    """Timed in this thread's CPU time: the check runs on one BLAS thread, in the calling
    thread, so the CPU time is its cost whatever else the shared machine is running."""
    with resource_file("models/mnist_cnn.nnz") as path:
        net = load_model(path)
    rng = np.random.default_rng(0)
    x = rng.random((32, *net.known_input_shape())).astype(np.float32)
    y = rng.integers(0, 10, size=32)
    timings = []
    for layer in (0, 3, 8):  # both convolutions (the first re-runs the whole network) and the big Dense
        start = time.thread_time()
        results = finite_difference_check(net, x, y, layer)
        timings.append(time.thread_time() - start)
        assert all(r.relative_error < 1e-6 for r in results if not r.at_kink)
    with capsys.disabled():
        print(f"\nfinite_difference_check on the shipped MNIST CNN, batch of 32, layers 0/3/8: "
              f"{', '.join(f'{t * 1000:.0f} ms' for t in timings)} of CPU time")
    assert max(timings) < 1.0


def test_the_shipped_cnns_first_layer_gradients_are_explained_to_the_last_bit():
    """The shipped model's first Conv2D (1 channel, 32 filters, float32) sums each weight
    gradient over a block of 33 samples' pixels in one product (25,872 terms): reproduced
    term by term, not only within the rounding bound."""
    with resource_file("models/mnist_cnn.nnz") as path:
        net = load_model(path)
    rng = np.random.default_rng(3)
    x = rng.random((64, *net.known_input_shape())).astype(np.float32)
    trace = trace_step(net, x, rng.integers(0, 10, size=64))
    assert len(net.layers[0].arithmetic(64).blocks()) == 2
    for pick in (Pick(0, "grad:W", (5, 0, 1, 2)), Pick(0, "grad:b", (17,)), Pick(0, "output", (3, 10, 0), 40),
                 Pick(0, "grad_input", (0, 27, 13), 63)):
        f = explain(trace, pick)
        assert f.exact and f.value == f.engine_value == _engine_number(trace, pick), "\n".join(f.lines)


def test_a_step_traced_under_a_blas_thread_limit_is_explained_under_it():
    """OpenBLAS cuts a 784-long sum differently with one thread than with two; the order is
    learned per thread count, so both a one-thread trace (the app's training worker) and a
    default one are explained to the last bit when explain runs under the same limit."""
    from threadpoolctl import threadpool_limits

    net = _mlp("float64", n_in=784)
    x = np.random.default_rng(2).normal(size=(32, 784))
    y = np.arange(32) % 4
    with threadpool_limits(limits=1, user_api="blas"):
        single = trace_step(net, x, y)
        single_formulas = [explain(single, Pick(0, "output", (j,), 5)) for j in range(7)]
    default = trace_step(net, x, y)
    default_formulas = [explain(default, Pick(0, "output", (j,), 5)) for j in range(7)]
    for f in single_formulas + default_formulas:
        assert f.exact and f.value == f.engine_value, "\n".join(f.lines)
