"""Growable (x, y) series for live plots, nearest-point lookup, steady axis ranges (NumPy only).

A live plot receives points in small chunks for hours. Concatenating arrays at every chunk
costs O(n) per tick (O(n²) overall); ``GrowableSeries`` keeps preallocated buffers that
double when full, so appending is amortised O(chunk) and ``x`` / ``y`` are views (no copy)
ready to hand to a plot. Views stay valid: existing points are never modified and a grow
copies into a new buffer, leaving older views intact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Bounds", "GrowableSeries", "finite_bounds", "nearest_index", "stable_range"]


class GrowableSeries:
    """Append-only (x, y) float64 series in doubling buffers.

    ``x`` and ``y`` are views ``(n,)`` of the points so far.
    """

    def __init__(self, capacity: int = 256):
        capacity = max(int(capacity), 1)
        self._x = np.empty(capacity, dtype=np.float64)
        self._y = np.empty(capacity, dtype=np.float64)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    @property
    def capacity(self) -> int:
        return self._x.shape[0]

    @property
    def x(self) -> np.ndarray:
        return self._x[:self._n]

    @property
    def y(self) -> np.ndarray:
        return self._y[:self._n]

    def append(self, x: np.ndarray | float, y: np.ndarray | float) -> None:
        """Append points: ``x`` and ``y`` scalars or 1-D arrays of equal length ``(k,)``."""
        xs = np.atleast_1d(np.asarray(x, dtype=np.float64)).reshape(-1)
        ys = np.atleast_1d(np.asarray(y, dtype=np.float64)).reshape(-1)
        if xs.shape != ys.shape:
            raise ValueError(f"x has {xs.size} points but y has {ys.size}")
        k = xs.size
        if k == 0:
            return
        needed = self._n + k
        if needed > self.capacity:
            capacity = self.capacity
            while capacity < needed:
                capacity *= 2
            # New buffers (not ndarray.resize): views handed out earlier keep their data.
            for name in ("_x", "_y"):
                old = getattr(self, name)
                new = np.empty(capacity, dtype=np.float64)
                new[:self._n] = old[:self._n]
                setattr(self, name, new)
        self._x[self._n:needed] = xs
        self._y[self._n:needed] = ys
        self._n = needed

    def copy(self) -> GrowableSeries:
        """An independent series with the same points (capacity trimmed to fit)."""
        out = GrowableSeries(max(self._n, 1))
        out.append(self.x, self.y)
        return out


def nearest_index(xs: np.ndarray, x: float) -> int | None:
    """Index of the point of ``xs`` (sorted ascending, ``(n,)``) nearest to ``x``; None if
    ``xs`` is empty or ``x`` is not finite. Ties go to the earlier point."""
    xs = np.asarray(xs)
    n = xs.shape[0]
    if n == 0 or not np.isfinite(x):
        return None
    i = int(np.searchsorted(xs, x))
    if i <= 0:
        return 0
    if i >= n:
        return n - 1
    return i - 1 if x - xs[i - 1] <= xs[i] - x else i


@dataclass(frozen=True)
class Bounds:
    """Finite extent of some values: ``lo`` / ``hi``, and ``lo_positive`` the smallest value
    above 0 (``math.inf`` when none; a log axis can only show those)."""

    lo: float
    hi: float
    lo_positive: float = math.inf

    def merge(self, other: Bounds | None) -> Bounds:
        if other is None:
            return self
        return Bounds(min(self.lo, other.lo), max(self.hi, other.hi), min(self.lo_positive, other.lo_positive))


def finite_bounds(values: np.ndarray) -> Bounds | None:
    """Bounds of the finite values of ``values`` (any shape); None when there are none."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return None
    positive = v[v > 0]
    return Bounds(float(v.min()), float(v.max()), float(positive.min()) if positive.size else math.inf)


def stable_range(current: tuple[float, float] | None, bounds: Bounds | None, log: bool = False,
                 headroom: float = 0.15, shrink: float = 0.2) -> tuple[float, float] | None:
    """An axis range for live data that changes rarely; None when ``current`` can stay.

    Autoscaling to the exact data moves the axis at every refresh (new tick labels, a new
    axis drawing each time). Instead: keep ``current`` while it holds the data; when data
    leave it, grow by ``headroom`` of the span beyond them (so the next few points fit);
    refit when the data fill less than ``shrink`` of it. Linear: non-negative data start at
    0 (a loss). ``log``: the range is in log10 units over the positive values, as pyqtgraph
    expects for a log axis.
    """
    if bounds is None:
        return None
    if log:
        if not math.isfinite(bounds.lo_positive):
            return None
        lo, hi = math.log10(bounds.lo_positive), math.log10(max(bounds.hi, bounds.lo_positive))
        min_span = 0.5  # decades
    else:
        lo, hi = (0.0 if bounds.lo >= 0 else bounds.lo), bounds.hi
        min_span = abs(hi) * 1e-3 or 1e-3
    span = max(hi - lo, min_span)
    if current is not None:
        a, b = current
        inside = a <= lo and hi <= b
        if inside and span >= shrink * (b - a):
            return None
    grow = headroom * span
    new_lo = lo if (not log and lo == 0.0) else lo - grow
    new_hi = hi + grow
    if new_hi - new_lo < min_span:
        mid = (new_hi + new_lo) / 2
        new_lo, new_hi = mid - min_span / 2, mid + min_span / 2
    return (new_lo, new_hi)
