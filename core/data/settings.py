"""Checks of the settings a user gives a dataset (counts, noise, seed, split fractions):
a DataError naming the setting and its range."""

from __future__ import annotations

from typing import Any

import numpy as np

from core.data._files import count
from core.data.errors import DataError


def int_param(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise DataError(f"{name} must be a whole number from {count(low)} to {count(high)}, not {value!r}")
    return int(value)


def float_param(name: str, value: Any, low: float, high: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if isinstance(value, bool) or not (low <= number <= high):
        raise DataError(f"{name} must be a number from {low:g} to {high:g}, not {value!r}")
    return number


def check_fraction(name: str, value: float) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{name} must be a number between 0 and 1, not {value!r}") from None
    if not (0 <= value < 1):
        raise DataError(f"{name} must be at least 0 and below 1, not {value:g}")
    return value


def check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DataError(f"the seed must be a non-negative integer, not {seed!r}")
    return int(seed)
