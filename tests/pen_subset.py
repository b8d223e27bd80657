"""Test helper: the pen-digit catalogue built from a few digits per writer (the same code
path as the bundled 7,494, rendered in a fraction of the time)."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from core.data import datasets, pen


def use_few_pen_digits(monkeypatch: pytest.MonkeyPatch, per_writer: int,
                       digits: Iterable[pen.PenDigit] | None = None) -> list[pen.PenDigit]:
    """Make ``pen.load_pen_digits`` return the first ``per_writer`` digits of every writer of
    ``digits`` (default: the bundled file) and forget any rendered catalogue; returns them.
    Call ``datasets._pen_rendered.cache_clear()`` again when the test ends."""
    counts: dict[int, int] = {}
    subset = []
    for digit in pen.load_pen_digits() if digits is None else digits:
        if counts.get(digit.writer, 0) < per_writer:
            counts[digit.writer] = counts.get(digit.writer, 0) + 1
            subset.append(digit)
    monkeypatch.setattr(pen, "load_pen_digits", lambda: tuple(subset))
    datasets._pen_rendered.cache_clear()
    return subset
