"""``summary SPEC.json`` on any JSON a careless or hostile user can write: random types,
sizes, nesting and very deep nesting.

Whatever the file holds, the command line answers within a bounded time with either a
summary (exit 0) or exactly one error line (exit 2) — never "unexpected ... please report
it" (exit 1) and never a traceback.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import time

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core.cli import main
from core.registry import LAYER_TYPES
from core.spec.model import LOSSES

#: Seconds one ``summary`` may take on a hostile spec (it builds nothing; a real one takes ms).
TIME_LIMIT = 3.0

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=10,
)
#: Sizes around every boundary a setting has: 0, negatives, the limits, overflow-sized ints,
#: fractions, NaN, text, lists ...
sizes = st.one_of(
    st.integers(-3, 70), st.integers(99_990, 10**7), st.sampled_from([2**31, 2**63, 10**30, 10**300]),
    st.floats(allow_nan=True, allow_infinity=True), json_values,
)
setting_names = st.one_of(
    st.sampled_from(["units", "function", "rate", "filters", "kernel_size", "stride", "padding",
                     "kernel_initializer", "use_bias", "pool_size", "type"]),
    st.text(max_size=8),
)
layer_types = st.one_of(st.sampled_from(sorted(LAYER_TYPES)), json_values)
layers = st.builds(lambda kind, options: {**options, "type": kind}, layer_types,
                   st.dictionaries(setting_names, sizes, max_size=4))
optimizers = st.one_of(
    st.builds(lambda kind, options: {**options, "type": kind}, st.one_of(st.sampled_from(["SGD", "Adam"]), json_values),
              st.dictionaries(st.one_of(st.sampled_from(["learning_rate", "momentum", "beta1", "beta2", "eps"]),
                                        st.text(max_size=8)), sizes, max_size=3)),
    json_values,
)
specs = st.fixed_dictionaries({}, optional={
    "input_shape": st.one_of(st.lists(sizes, max_size=4), json_values),
    "layers": st.one_of(st.lists(st.one_of(layers, json_values), max_size=8), json_values),
    "loss": st.one_of(st.sampled_from(sorted(LOSSES)), json_values),
    "optimizer": optimizers,
    "seed": sizes,
    "dtype": st.one_of(st.sampled_from(["float32", "float64"]), json_values),
    "extra": json_values,
})


def nested(depth: int, core: str, opener: str) -> str:
    """``core`` wrapped ``depth`` times in lists (``[``) or objects (``{"a":``)."""
    close = "]" if opener == "[" else "}"
    return opener * depth + core + close * depth


deep_texts = st.builds(
    nested, st.integers(1, 200_000), st.builds(json.dumps, specs),
    st.sampled_from(["[", '{"a":']),
) | st.builds(  # deep nesting inside one layer setting of an otherwise sound spec
    lambda depth: '{"input_shape": [4], "layers": [{"type": "Dense", "units": ' + nested(depth, "2", "[") + "}]}",
    st.integers(1, 200_000),
)
documents = st.one_of(st.builds(json.dumps, specs), st.builds(json.dumps, json_values), deep_texts)


def run_summary(text: str) -> tuple[int, str, str, float]:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "spec.json")
        with open(path, "w", encoding="utf-8", errors="surrogatepass") as f:
            f.write(text)
        out, err = io.StringIO(), io.StringIO()
        start = time.perf_counter()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["summary", path])
        return code, out.getvalue(), err.getvalue(), time.perf_counter() - start


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(documents)
# The reproductions of issue 14 (each once printed "unexpected ... please report it"):
@example("[" * 100_000 + "]" * 100_000)  # RecursionError in the JSON parser
@example('{"input_shape": [2], "layers": [{"type": "Dense", "units": 2}], "loss": ["mse"]}')
@example('{"input_shape": [2], "layers": [{"type": "Dense", "units": 2}], "optimizer": {"type": "SGD", "foo": 1}}')
@example('{"input_shape": [2], "layers": [{"type": "Dense", "units": ' + "9" * 5000 + "}]}")
def test_summary_of_any_json_is_a_summary_or_one_clear_line(text):
    code, out, err, seconds = run_summary(text)
    assert "error: unexpected" not in err and "please report" not in err, err
    assert "Traceback" not in err
    assert seconds < TIME_LIMIT, f"summary took {seconds:.1f} s"
    if code == 0:
        assert "Total params" in out and err == ""
    else:
        assert code == 2, (code, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and ": error: " in lines[0], err
        assert "spec.json" in lines[0]  # names the file the problem is in
