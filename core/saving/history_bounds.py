"""A training History bounded in size, for model files: long runs are stored decimated.

A batch-size-1 run over MNIST records 60,000 batch points per epoch; stored in full, a
model file's history would grow without bound. ``bounded_history`` keeps every per-epoch
record (up to ``limits.HISTORY_EPOCHS``) and turns the per-batch records into at most
``limits.HISTORY_BATCH_POINTS`` points, each the *mean* of a bucket of consecutive batches:

- ``loss`` and ``accuracy``: means weighted by batch size, i.e. the exact sample means over
  the bucket, so the smoothed curve of a reopened run follows the live one (a mean-of-bucket
  point is what a larger batch would have shown);
- ``progress``: the bucket's last batch (where the curve reached after it);
- ``learning_rate`` / ``batch_size``: constant within a bucket, because buckets never
  straddle a hyperparameter change or a re-run epoch (progress going back).

Runs within the bound are returned unchanged (a copy), so ordinary files keep every batch.
"""

from __future__ import annotations

import math

import numpy as np

from core import limits
from core.history import History

__all__ = ["bounded_history", "decimate_batches", "thin_evenly"]


def bounded_history(history: History, max_batches: int | None = None, max_epochs: int | None = None,
                    max_events: int | None = None) -> History:
    """A copy of ``history`` within the bounds (the input is not changed). Bounds left at
    None are read from core.limits when called."""
    out = History()
    out.batches = decimate_batches(history.batches, limits.HISTORY_BATCH_POINTS if max_batches is None else max_batches)
    out.epochs = thin_evenly(list(history.epochs), limits.HISTORY_EPOCHS if max_epochs is None else max_epochs)
    out.events = thin_evenly(list(history.events), limits.HISTORY_EVENTS if max_events is None else max_events)
    return out


def thin_evenly(items: list, limit: int) -> list:
    """``items`` when it has at most ``limit`` entries, else ``limit`` of them evenly spaced,
    always including the first and the last."""
    if len(items) <= limit:
        return list(items)
    if limit <= 1:
        return items[-limit:] if limit else []
    keep = np.unique(np.linspace(0, len(items) - 1, limit).round().astype(np.int64))
    return [items[i] for i in keep]


def decimate_batches(batches: dict[str, list[float]], max_points: int) -> dict[str, list[float]]:
    """Per-batch columns (progress, loss, accuracy, learning_rate, batch_size; all of one
    length n) -> the same columns with at most ``max_points`` entries (see module docs)."""
    n = min(len(v) for v in batches.values()) if batches else 0
    if n <= max_points:
        return {k: list(v[:n]) for k, v in batches.items()}
    progress = np.asarray(batches["progress"][:n], dtype=np.float64)
    loss = np.asarray(batches["loss"][:n], dtype=np.float64)
    accuracy = np.asarray(batches["accuracy"][:n], dtype=np.float64)
    rate = np.asarray(batches["learning_rate"][:n], dtype=np.float64)
    size = np.asarray(batches["batch_size"][:n], dtype=np.int64)

    # Segments of constant settings and increasing progress; buckets never cross them.
    breaks = np.flatnonzero((np.diff(progress) < 0) | (np.diff(rate) != 0) | (np.diff(size) != 0)) + 1
    if len(breaks) + 1 > max_points // 2:  # pathological: too many changes to respect them all
        breaks = np.zeros(0, dtype=np.int64)
    seg_starts = np.concatenate(([0], breaks))
    seg_ends = np.concatenate((breaks, [n]))
    # With bucket size k, a segment of length L gives ceil(L / k) <= L / k + 1 buckets, so
    # the total is at most n / k + segments <= max_points.
    k = math.ceil(n / (max_points - len(seg_starts)))
    starts = np.concatenate([np.arange(s, e, k) for s, e in zip(seg_starts, seg_ends, strict=True)])
    lasts = np.append(starts[1:], n) - 1

    weight = np.maximum(size, 1).astype(np.float64)
    total_weight = np.add.reduceat(weight, starts)
    return {
        "progress": progress[lasts].tolist(),
        "loss": (np.add.reduceat(loss * weight, starts) / total_weight).tolist(),
        "accuracy": (np.add.reduceat(accuracy * weight, starts) / total_weight).tolist(),
        "learning_rate": rate[lasts].tolist(),
        "batch_size": size[lasts].tolist(),
    }
