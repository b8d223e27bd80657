"""Network.from_spec on arbitrary spec JSON: it builds a network or raises SpecError with a
sentence, never another exception, within bounded time and memory (issue 14, item 8).
Times are CPU times, so a busy machine does not make the tests flaky."""

from __future__ import annotations

import json
import math
import time
import tracemalloc
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import LAYER_TYPES, LOSSES, OPTIMIZERS, Network, SpecError, limits

# Any JSON value, with the awkward corners: huge integers, NaN, deep-ish nesting.
json_scalars = (st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30)
                | st.sampled_from([0, 1, -1, 2**63, 10**400]) | st.floats(allow_nan=True, allow_infinity=True)
                | st.text(max_size=12))
json_values = st.recursive(json_scalars, lambda children: st.lists(children, max_size=4)
                           | st.dictionaries(st.text(max_size=8), children, max_size=4), max_leaves=12)

SETTING_NAMES = sorted({p.name for cls in LAYER_TYPES.values() for p in cls.schema}
                       | {p.name for cls in OPTIMIZERS.values() for p in cls.schema})
sizes = st.one_of(st.integers(min_value=-2, max_value=70), st.integers(min_value=-(10**12), max_value=10**12),
                  st.sampled_from([0, 1, 1000, 4096, 10**6, 2**31, 10**400]))
setting_values = st.one_of(sizes, st.floats(allow_nan=True), st.sampled_from(["same", "valid", "relu", "softmax",
                                                                              "glorot_uniform", "he_normal"]),
                           st.lists(sizes, max_size=3), json_values)
keys = st.one_of(st.sampled_from(SETTING_NAMES), st.text(max_size=6))

layer = st.one_of(
    st.builds(lambda t, cfg: {"type": t, **cfg}, st.sampled_from(sorted(LAYER_TYPES)) | st.text(max_size=8),
              st.dictionaries(keys, setting_values, max_size=4)),
    json_values,
)
optimizer = st.one_of(
    st.builds(lambda t, cfg: {"type": t, **cfg}, st.sampled_from(sorted(OPTIMIZERS)) | json_scalars,
              st.dictionaries(keys, setting_values, max_size=3)),
    st.sampled_from(["Adam", "SGD"]), json_values,
)
# Each part is well-formed about half of the time, so that checks deep inside (the loss,
# the optimizer, each layer's settings) are reached with the other parts hostile.
valid_shape = st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=3)
valid_layers = st.lists(st.sampled_from([{"type": "Dense", "units": 3}, {"type": "Activation", "function": "relu"},
                                         {"type": "Flatten"}, {"type": "Dropout", "rate": 0.5}]),
                        min_size=1, max_size=3)
valid_optimizer = st.sampled_from([{"type": "Adam", "learning_rate": 0.01}, {"type": "SGD", "momentum": 0.9}])
spec_dicts = st.fixed_dictionaries({
    "input_shape": valid_shape | st.lists(sizes, max_size=4) | json_values,
    "layers": valid_layers | st.lists(layer, max_size=6) | st.builds(lambda a, b: a + b, valid_layers,
                                                                       st.lists(layer, max_size=3)) | json_values,
}, optional={
    "loss": st.sampled_from(sorted(LOSSES)) | st.lists(st.sampled_from(sorted(LOSSES)), max_size=2) | json_values,
    "optimizer": valid_optimizer | optimizer,
    "seed": sizes | json_values,
    "dtype": st.sampled_from(["float32", "float64", "float16"]) | json_values,
    "extra": json_values,
})
specs = st.one_of(spec_dicts, spec_dicts.map(json.dumps), json_values, st.text(max_size=30))

#: Lowered so that every network the strategy can make valid is cheap to allocate; the real
#: limits are covered by tests/core/test_model_limits.py.
FUZZ_MAX_PARAMETERS = 1_000_000


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs)
def test_from_spec_builds_or_raises_only_spec_error_in_bounded_time_and_memory(spec):
    with mock.patch.object(limits, "MAX_PARAMETERS", FUZZ_MAX_PARAMETERS):
        tracemalloc.start()
        start = time.process_time()
        try:
            net = Network.from_spec(spec)
        except SpecError as exc:
            net = None
            message = str(exc)
            assert message and "Traceback" not in message
        finally:
            seconds = time.process_time() - start
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    if net is None:
        assert seconds < 0.5 and peak < 20_000_000, (seconds, peak)
    else:
        # Parameters, their gradients and initialisation temporaries: a few copies at most.
        params = sum(p.size for _, p, _ in net.parameters())
        assert params <= FUZZ_MAX_PARAMETERS
        assert peak < 5 * params * net.dtype.itemsize + 20_000_000, (peak, params)
        assert seconds < 2.0


@pytest.mark.parametrize("spec, fragment", [
    ({"input_shape": [4], "layers": [{"type": "Dense", "units": 2}], "optimizer": {"type": "SGD", "foo": 1}},
     "SGD has no setting 'foo'"),
    ({"input_shape": [4], "layers": [{"type": "Dense", "units": 2}], "optimizer": {"type": "Adam", 3: 1}},
     "Adam has no setting 3"),
    ({"input_shape": [4], "layers": [{"type": "Dense", "units": 2}], "loss": ["mse"]}, "unknown loss ['mse']"),
    ({"input_shape": [4], "layers": [{"type": "Dense", "units": 2}], "optimizer": "Adam"},
     "'optimizer' must be an object"),
    ({"input_shape": [4], "layers": [{"type": "Dense", "units": 2}], "optimizer": {"type": ["SGD"]}},
     "unknown optimizer ['SGD']"),
    ({"input_shape": [100000], "layers": [{"type": "Dense", "units": 1300}]},
     "130,001,300 parameters, more than the 50,000,000 a network may have (limit MAX_PARAMETERS)"),
    ({"input_shape": [4], "layers": [{"type": "Flatten"}] * 1_000_000}, "(limit MAX_LAYERS)"),
    ({"input_shape": [1000, 1000, 100], "layers": [{"type": "Flatten"}]}, "(limit MAX_VALUES_PER_SAMPLE)"),
    ({"input_shape": [4], "layers": [{"type": "Dense", "units": 2, "use_bias": [[[[]]]]}]}, "use_bias"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
])
def test_issue_cases_are_spec_errors_with_a_sentence(spec, fragment):
    start = time.process_time()
    with pytest.raises(SpecError) as info:
        Network.from_spec(spec)
    assert fragment in str(info.value)
    assert time.process_time() - start < 1.0


def test_the_limit_problems_show_in_the_analysis_the_editor_uses():
    from core import NetworkSpec, analyze

    spec = NetworkSpec.from_dict({"input_shape": [100000], "layers": [{"type": "Dense", "units": 1300}]})
    problems = [str(p) for p in analyze(spec).problems]
    assert any("MAX_PARAMETERS" in p and "use fewer units or filters" in p for p in problems)
    assert math.prod(spec.input_shape) <= limits.MAX_VALUES_PER_SAMPLE
