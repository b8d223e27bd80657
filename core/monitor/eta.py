"""Throughput, time-left estimates, progress text and refresh pacing for a run (stdlib only).

``ThroughputMeter`` turns (samples done, time) observations into samples per second over a
sliding window of recent seconds, so the rate follows speed changes (a batch-size change,
another program taking the CPU) without jumping at every batch. Pauses must not count as
slow training: call ``restart()`` when a run resumes.
"""

from __future__ import annotations

import math
from collections import deque

__all__ = ["ThroughputMeter", "eta_seconds", "format_duration", "next_refresh_ms", "progress_text", "run_fraction"]


class ThroughputMeter:
    """Samples per second over the last ``window`` seconds of observations.

    ``update(samples_done, now)`` records that ``samples_done`` samples (cumulative, any
    origin) were done at time ``now`` (seconds, any monotonic clock). ``rate`` is None until
    observations span at least ``min_span`` seconds.
    """

    def __init__(self, window: float = 5.0, min_span: float = 0.2):
        self.window = float(window)
        self.min_span = float(min_span)
        self._points: deque[tuple[float, float]] = deque()

    def restart(self) -> None:
        """Forget all observations (after a pause, a step, or at a new run)."""
        self._points.clear()

    def update(self, samples_done: float, now: float) -> float | None:
        points = self._points
        if points and now < points[-1][0]:
            points.clear()  # the clock went backwards: start over rather than divide by it
        points.append((float(now), float(samples_done)))
        # Keep the newest point older than the window start, so the span covers the window.
        while len(points) > 2 and points[1][0] <= now - self.window:
            points.popleft()
        return self.rate

    @property
    def rate(self) -> float | None:
        points = self._points
        if len(points) < 2:
            return None
        (t0, s0), (t1, s1) = points[0], points[-1]
        span = t1 - t0
        if span < self.min_span or s1 < s0:
            return None
        return (s1 - s0) / span


def eta_seconds(remaining_samples: float, rate: float | None) -> float | None:
    """Seconds left at ``rate`` samples/s; None when unknown (no rate yet, or zero rate)."""
    if rate is None or not rate > 0 or not math.isfinite(rate) or remaining_samples < 0:
        return None
    return remaining_samples / rate


def format_duration(seconds: float | None) -> str:
    """"42 s", "3:07", "1:02:03"; "" for None or non-finite."""
    if seconds is None or not math.isfinite(seconds):
        return ""
    total = max(round(float(seconds)), 0)
    if total < 60:
        return f"{total} s"
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def run_fraction(progress: float, start_epoch: float, epochs: float) -> float:
    """How much of a run is done, in [0, 1]: ``progress`` (epochs, as in BatchReport) within
    a run that started at ``start_epoch`` and trains ``epochs`` epochs."""
    if epochs <= 0:
        return 1.0
    return min(max((progress - start_epoch) / epochs, 0.0), 1.0)


def progress_text(epoch: int, end_epoch: int, batch: int | None = None, batches: int | None = None,
                  seconds_left: float | None = None) -> str:
    """"Epoch 3 of 10 · batch 120 of 422 · 0:42 left" (epoch and batch 1-based)."""
    parts = [f"Epoch {epoch:,} of {end_epoch:,}"]
    if batch is not None and batches:
        parts.append(f"batch {batch:,} of {batches:,}")
    left = format_duration(seconds_left)
    if left:
        parts.append(f"{left} left")
    return " · ".join(parts)


def next_refresh_ms(current_ms: float, busy_fraction: float, target: float = 0.08, lo_ms: float = 50.0,
                    hi_ms: float = 250.0) -> float:
    """Next period of a live-plot refresh timer that keeps the GUI thread's busy fraction
    near ``target``.

    ``busy_fraction``: CPU time the GUI thread used over the last period divided by that
    period. Busier than the target: the period grows in proportion; idler: it shrinks back
    toward ``lo_ms`` (never below: ≤ 1000/lo_ms refreshes per second). Half-steps keep it
    from oscillating. In Python, GUI time is time the training thread may wait for the GIL.
    """
    if not (busy_fraction >= 0.0) or not math.isfinite(busy_fraction) or target <= 0:
        return float(min(max(current_ms, lo_ms), hi_ms))
    wanted = current_ms * busy_fraction / target
    return float(min(max(0.5 * current_ms + 0.5 * wanted, lo_ms), hi_ms))
