"""Debiased EMA: exact recurrence, incremental = whole-series, non-finite values skipped."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.monitor.smoothing import EmaSmoother, ema, smoothing_span, weight_for_span


def reference(values, w):
    """The textbook debiased EMA, written out."""
    acc, out = 0.0, []
    for k, v in enumerate(values, start=1):
        acc = w * acc + (1 - w) * v
        out.append(acc / (1 - w ** k))
    return out


def test_first_value_is_unbiased_and_constant_series_stays_constant():
    s = ema(np.full(50, 3.5), 0.9)
    assert s[0] == pytest.approx(3.5) and np.allclose(s, 3.5)


def test_matches_textbook_recurrence():
    values = [2.0, 1.0, 4.0, 0.5, 0.25]
    assert np.allclose(ema(np.array(values), 0.8), reference(values, 0.8))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=80), st.floats(0.0, 0.99),
       st.integers(0, 80))
def test_chunked_equals_whole(values, w, cut):
    whole = ema(np.array(values), w)
    smoother = EmaSmoother(w)
    cut = min(cut, len(values))
    parts = np.concatenate([smoother.add(np.array(values[:cut])), smoother.add(np.array(values[cut:]))])
    assert np.array_equal(whole, parts)


def test_non_finite_values_give_nan_and_do_not_poison_the_average():
    s = ema(np.array([1.0, math.nan, math.inf, 1.0]), 0.5)
    assert s[0] == 1.0 and math.isnan(s[1]) and math.isnan(s[2]) and s[3] == pytest.approx(1.0)


def test_weight_zero_is_identity_and_bad_weight_is_refused():
    x = np.array([3.0, -1.0, 7.0])
    assert np.array_equal(ema(x, 0.0), x)
    with pytest.raises(ValueError, match="weight"):
        EmaSmoother(1.0)


def test_span_and_weight():
    assert weight_for_span(1) == 0.0 and weight_for_span(19) == pytest.approx(0.9)
    assert smoothing_span(1) == 5 and smoothing_span(400) == 100 and smoothing_span(10 ** 6) == 200


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=120), st.floats(5.0, 300.0), st.integers(0, 120))
def test_growing_smoother_chunked_equals_whole(values, span, cut):
    whole = EmaSmoother.growing(span).add(np.array(values))
    smoother = EmaSmoother.growing(span)
    cut = min(cut, len(values))
    parts = np.concatenate([smoother.add(np.array(values[:cut])), smoother.add(np.array(values[cut:]))])
    assert np.array_equal(whole, parts)


def test_growing_smoother_follows_a_steep_start_and_still_smooths_the_flat_end():
    """A loss that falls from 2.6 to 0.3 within ~60 batches, with batch noise (an MNIST
    epoch: 422 batches, span 106). A fixed span lags far above the data at the start; the
    growing one tracks it there and reduces the noise as much where the curve is flat."""
    rng = np.random.default_rng(0)
    t = np.arange(422)
    truth = 0.3 + 2.3 * np.exp(-t / 20.0)
    noisy = truth + rng.normal(0.0, 0.1, t.size)
    span = smoothing_span(422)
    fixed = ema(noisy, weight_for_span(span))
    grown = EmaSmoother.growing(span).add(noisy)
    early = slice(30, 100)
    assert np.mean(np.abs(fixed[early] - truth[early])) > 0.3  # the old line: far above the data
    assert np.mean(np.abs(grown[early] - truth[early])) < 0.06  # within the noise of a few batches
    late = slice(300, 422)
    assert np.std(grown[late] - truth[late]) < 0.3 * np.std(noisy[late] - truth[late])
    # Once the span reached its largest value the two weigh new points alike.
    long = np.concatenate([noisy, np.full(4000, 0.3)])
    assert abs(EmaSmoother.growing(span).add(long)[-1] - 0.3) < 1e-6


def test_growing_smoother_starts_at_the_first_value_and_keeps_constants():
    s = EmaSmoother.growing(100).add(np.full(300, 1.25))
    assert s[0] == 1.25 and np.allclose(s, 1.25)
