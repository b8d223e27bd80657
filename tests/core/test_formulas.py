"""core.explain: the formula behind a number of a traced step recomputes the engine's number.

For every layer type and quantity: ``value`` is recomputed from the formula's own arithmetic
and must equal the traced number bit for bit where the formula says ``exact``, and lie within
``tolerance`` otherwise; a pick outside the trace is a TrainingError with a sentence.
"""

from __future__ import annotations

import numpy as np
import pytest

from core import Network, Pick, TrainingError, available_quantities, explain, trace_step


def _mlp(dtype: str = "float64", optimizer: dict | None = None) -> Network:
    return Network.from_spec({"input_shape": [20], "seed": 1, "dtype": dtype, "loss": "cross_entropy",
                              "optimizer": optimizer or {"type": "Adam", "learning_rate": 0.01},
                              "layers": [{"type": "Dense", "units": 7}, {"type": "Activation", "function": "tanh"},
                                         {"type": "Dense", "units": 4},
                                         {"type": "Activation", "function": "softmax"}]})


def _trace(net: Network, n: int = 5, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, *net.known_input_shape()))
    y = rng.integers(0, net.output_shape[0], size=n)
    return trace_step(net, x, y)


def _agrees(formula) -> bool:
    if formula.exact:
        return formula.value == formula.engine_value
    return abs(formula.value - formula.engine_value) <= formula.tolerance


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_dense_output_recomputes_the_engine(dtype):
    trace = _trace(_mlp(dtype))
    for sample in range(5):
        for unit in range(7):
            f = explain(trace, Pick(0, "output", (unit,), sample))
            assert f.engine_value == trace.layers[0].output[sample, unit]
            assert _agrees(f), f.lines
            assert len(f.terms) == 6 and f.rest is not None
            assert f.rest.text == "the other 14 terms"


def test_dense_output_lists_the_largest_terms_first():
    trace = _trace(_mlp())
    f = explain(trace, Pick(0, "output", (3,), 2), max_terms=3)
    x, w = trace.layers[0].input[2], trace.layers[0].params["W"][:, 3]
    products = np.sort(np.abs(x * w))[::-1]
    assert [abs(t.value) for t in f.terms] == pytest.approx(products[:3].tolist(), rel=0, abs=0)
    assert sum(t.value for t in f.terms) + f.rest.value == pytest.approx(float(x @ w), rel=1e-12)


def test_available_quantities_name_the_parameters():
    trace = _trace(_mlp())
    assert available_quantities(trace, 0) == ["output", "grad_output", "grad_input", "grad:W", "grad:b",
                                              "update:W", "update:b"]
    assert available_quantities(trace, 1) == ["output", "grad_output", "grad_input"]
    assert available_quantities(trace, -1) == ["output", "grad_output"]


@pytest.mark.parametrize("pick, words", [
    (Pick(9, "output", (0,)), "layers 0 to 3"),
    (Pick(0, "grad:Q", (0, 0)), "no quantity 'grad:Q'"),
    (Pick(0, "output", (7,)), "index 7 on axis 0"),
    (Pick(0, "output", (1, 2)), "give 1 indices"),
    (Pick(0, "output", (1,), sample=5), "samples 0 to 4"),
    (Pick(0, "grad:W", (20, 0)), "index 20 on axis 0"),
])
def test_a_pick_outside_the_trace_is_a_sentence(pick, words):
    trace = _trace(_mlp())
    with pytest.raises(TrainingError, match=words):
        explain(trace, pick)
