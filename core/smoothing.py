"""Exponential moving averages for noisy training curves (NumPy only).

The per-batch loss of mini-batch training is noisy; the dashboard draws it faintly and a
smoothed line on top. The smoother is *debiased* (as TensorBoard's): a plain EMA started at
0 creeps up from zero over its first ``span`` points, which would draw a fake "loss rises at
the start" artefact. Dividing by ``1 - weight**count`` removes that bias, so the first
smoothed value equals the first raw value.

The smoother is incremental (``EmaSmoother.add`` continues where the last call stopped), so
a live plot smooths only the points that just arrived, and the result is identical to
smoothing the whole series at once (``ema``).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["EmaSmoother", "ema", "smoothing_span", "weight_for_span"]


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
    """

    def __init__(self, weight: float):
        weight = float(weight)
        if not 0.0 <= weight < 1.0:
            raise ValueError(f"EMA weight must be in [0, 1), not {weight}")
        self.weight = weight
        self._acc = 0.0
        self._decay = 1.0  # weight ** (number of finite points seen)

    def add(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        out = np.empty_like(values)
        w, acc, decay = self.weight, self._acc, self._decay
        # A Python loop over floats: exact, and cheap at the few hundred points a plot tick
        # brings (a vectorised closed form loses precision for small weights).
        for i, v in enumerate(values.tolist()):
            if v != v or v in (math.inf, -math.inf):
                out[i] = math.nan
                continue
            acc = w * acc + (1.0 - w) * v
            decay *= w
            out[i] = acc / (1.0 - decay) if decay < 1.0 else v
        self._acc, self._decay = acc, decay
        return out

    def reset(self) -> None:
        self._acc = 0.0
        self._decay = 1.0


def ema(values: np.ndarray, weight: float) -> np.ndarray:
    """Debiased EMA of a whole 1-D series ``(n,) -> (n,)``; see ``EmaSmoother``."""
    return EmaSmoother(weight).add(values)
