"""Exponential moving averages for noisy training curves (NumPy only).

The per-batch loss of mini-batch training is noisy; the dashboard draws it faintly and a
smoothed line on top. The smoother is *debiased* (as TensorBoard's): a plain EMA started at
0 creeps up from zero over its first ``span`` points, which would draw a fake "loss rises at
the start" artefact. Dividing by ``1 - weight**count`` removes that bias, so the first
smoothed value equals the first raw value.

The smoother is incremental (``EmaSmoother.add`` continues where the last call stopped), so
a live plot smooths only the points that just arrived, and the result is identical to
smoothing the whole series at once (``ema``).

A causal average lags about half its span behind the data. Early in a run the loss falls
steeply, and a fixed quarter-epoch span (106 batches) drew the "smoothed" MNIST loss at
0.87 after 50 batches while the raw losses around it were near 0.45.
``EmaSmoother.growing`` lets the span grow with the points seen (``RAMP`` × count, at least
``MIN_SPAN``) up to the run's span: the line follows the steep start and smooths more as
the curve flattens.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["MIN_SPAN", "RAMP", "EmaSmoother", "ema", "smoothing_span", "weight_for_span"]

#: Smallest span of a growing smoother (points).
MIN_SPAN = 5.0
#: A growing smoother's span as a share of the points seen so far (it lags ~RAMP/2 of them).
RAMP = 0.1


def weight_for_span(span: float) -> float:
    """Decay weight of an EMA whose centre of mass spans ``span`` points (pandas' ``span``):
    ``1 - 2 / (span + 1)``. span ≤ 1 gives 0 (no smoothing)."""
    span = float(span)
    if not math.isfinite(span) or span <= 1.0:
        return 0.0
    return 1.0 - 2.0 / (span + 1.0)


def smoothing_span(batches_per_epoch: int, fraction: float = 0.25, lo: int = 5, hi: int = 200) -> int:
    """A smoothing span suited to a run: about a quarter of an epoch's batches, kept within
    [lo, hi] so one-batch epochs still smooth a little and huge epochs stay responsive."""
    n = max(int(batches_per_epoch), 1)
    return int(min(max(round(n * fraction), lo), hi))


class EmaSmoother:
    """Debiased exponential moving average, fed in chunks.

    ``add(values)`` takes a 1-D array ``(k,)`` and returns the smoothed values ``(k,)``
    (float64). Non-finite values are passed through as NaN and do not disturb the average.
    ``weight``: the decay of each step (0: no smoothing). See ``growing`` for a span that
    grows with the points seen.
    """

    def __init__(self, weight: float, *, max_span: float | None = None, ramp: float = 0.0,
                 min_span: float = MIN_SPAN):
        weight = float(weight)
        if not 0.0 <= weight < 1.0:
            raise ValueError(f"EMA weight must be in [0, 1), not {weight}")
        self.weight = weight
        self._max_span = max_span
        self._ramp = float(ramp)
        self._min_span = float(min_span)
        self._acc = 0.0
        self._norm = 0.0  # the weights' sum so far: 1 - weight ** count for a fixed weight
        self._count = 0

    @classmethod
    def growing(cls, span: float, ramp: float = RAMP, min_span: float = MIN_SPAN) -> EmaSmoother:
        """A smoother whose span is ``ramp`` × (points seen), at least ``min_span`` and at
        most ``span``."""
        return cls(weight_for_span(span), max_span=float(span), ramp=ramp, min_span=min_span)

    def add(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        out = np.empty_like(values)
        acc, norm, count = self._acc, self._norm, self._count
        fixed_w, ramp = self.weight, self._ramp
        # Growing: the span reaches its largest value (weight ``self.weight``) at this count.
        max_span = self._max_span
        ramp_end = max_span / ramp if max_span is not None and ramp > 0.0 else 0.0
        min_span = min(self._min_span, max_span) if max_span is not None and ramp_end else 0.0
        # A Python loop over floats: exact, and cheap at the few hundred points a plot tick
        # brings (a vectorised closed form loses precision for small weights).
        for i, v in enumerate(values.tolist()):
            if v != v or v in (math.inf, -math.inf):
                out[i] = math.nan
                continue
            count += 1
            w = fixed_w
            if count < ramp_end:
                span = ramp * count
                w = 1.0 - 2.0 / ((span if span > min_span else min_span) + 1.0)  # weight_for_span
            acc = w * acc + (1.0 - w) * v
            norm = w * norm + (1.0 - w)
            out[i] = acc / norm if norm > 0.0 else v
        self._acc, self._norm, self._count = acc, norm, count
        return out

    def reset(self) -> None:
        self._acc = 0.0
        self._norm = 0.0
        self._count = 0


def ema(values: np.ndarray, weight: float) -> np.ndarray:
    """Debiased EMA of a whole 1-D series ``(n,) -> (n,)``; see ``EmaSmoother``."""
    return EmaSmoother(weight).add(values)
