"""Declared settings of layers and optimizers.

One small schema per setting drives both validation (here) and the GUI's generated forms
(spin boxes with these ranges, combo boxes with these choices), so that a value the engine
would refuse cannot be entered in the first place.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.errors import SpecError

_NO_DEFAULT = object()


@dataclass(frozen=True)
class Param:
    """Schema of one setting.

    kind: ``"int"``, ``"float"``, ``"choice"``, ``"bool"`` or ``"int_or_pair"`` (an int, or
    a list of two ints such as a non-square kernel). ``minimum``/``maximum`` are inclusive
    unless ``exclusive_minimum``/``exclusive_maximum`` is set. ``optional`` allows ``None``
    (meaning "same as another setting", e.g. pooling stride).
    """

    name: str
    kind: str
    default: Any = _NO_DEFAULT
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    choices: tuple[str, ...] = ()
    #: What a form shows for each of ``choices`` (same order; empty: the values themselves).
    choice_labels: tuple[str, ...] = ()
    optional: bool = False
    log_scale: bool = False
    help: str = ""
    #: What a form shows beside the field ("Kernel size", "β₁ (beta1)"); empty: from ``name``.
    label: str = ""
    #: Spin-box step and decimals for numeric settings (None: the form chooses).
    step: float | None = None
    decimals: int | None = None
    #: For ``log_scale`` floats whose 0 means "off" (weight decay): the form allows 0.
    zero_means_off: bool = False

    def __post_init__(self) -> None:
        if self.choice_labels and len(self.choice_labels) != len(self.choices):
            raise ValueError(f"Param {self.name!r}: one label per choice ({len(self.choices)}), "
                             f"not {len(self.choice_labels)}")

    def choice_label(self, value: str) -> str:
        """What a form shows for the choice ``value`` (the value itself without labels)."""
        if self.choice_labels and value in self.choices:
            return self.choice_labels[self.choices.index(value)]
        return value

    @property
    def title(self) -> str:
        """The label a form shows: ``label``, else ``kernel_size`` -> ``Kernel size``."""
        return self.label or self.name.replace("_", " ").capitalize()

    @property
    def required(self) -> bool:
        return self.default is _NO_DEFAULT

    def range_text(self) -> str:
        """E.g. "between 1 and 100,000", "in [0, 1)", "> 0"."""
        lo, hi = self.minimum, self.maximum
        if lo is not None and hi is not None:
            if not self.exclusive_minimum and not self.exclusive_maximum:
                return f"between {_num(lo)} and {_num(hi)}"
            opening = "(" if self.exclusive_minimum else "["
            closing = ")" if self.exclusive_maximum else "]"
            return f"in {opening}{_num(lo)}, {_num(hi)}{closing}"
        if lo is not None:
            return ("> " if self.exclusive_minimum else "≥ ") + _num(lo)
        if hi is not None:
            return ("< " if self.exclusive_maximum else "≤ ") + _num(hi)
        return ""

    def check(self, value: Any, owner: str) -> Any:
        """Return the value normalised (ints as int, pairs as tuple) or raise SpecError."""
        where = f"{owner}: '{self.name}'"
        if value is None and self.optional:
            return None
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise SpecError(f"{where} must be true or false, not {value!r}")
            return value
        if self.kind == "choice":
            if not isinstance(value, str) or value not in self.choices:
                raise SpecError(f"{where} must be one of {', '.join(self.choices)}, not {value!r}")
            return value
        if self.kind == "int_or_pair":
            if isinstance(value, (list, tuple)):
                if len(value) != 2:
                    raise SpecError(f"{where} must be an integer or a pair of integers, not {value!r}")
                return tuple(self._check_number(v, where, integer=True) for v in value)
            return self._check_number(value, where, integer=True)
        if self.kind in ("int", "float"):
            return self._check_number(value, where, integer=self.kind == "int")
        raise AssertionError(f"unknown parameter kind {self.kind}")

    def _check_number(self, value: Any, where: str, integer: bool) -> int | float:
        if isinstance(value, bool) or (not isinstance(value, (int, float)) and not hasattr(value, "__index__")
                                       and not _is_numpy_number(value)):
            raise SpecError(f"{where} must be a number, not {value!r}")
        number: int | float
        if integer:
            if (isinstance(value, float) or _is_numpy_float(value)) and not float(value).is_integer():
                raise SpecError(f"{where} must be a whole number, not {value!r}")
            number = int(value)
        else:
            try:
                number = float(value)
            except OverflowError:  # an integer with hundreds of digits
                number = math.inf
            if not math.isfinite(number):
                raise SpecError(f"{where} must be a finite number, not {value!r}")
        value = number
        text = self.range_text()
        if self.minimum is not None and (value <= self.minimum if self.exclusive_minimum else value < self.minimum):
            raise SpecError(f"{where} must be {text}, not {value!r}")
        if self.maximum is not None and (value >= self.maximum if self.exclusive_maximum else value > self.maximum):
            raise SpecError(f"{where} must be {text}, not {value!r}")
        return number


def _num(value: float) -> str:
    """1000 -> "1,000", 0.5 -> "0.5"."""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def _is_numpy_number(value: Any) -> bool:
    import numpy as np

    return isinstance(value, (np.integer, np.floating))


def _is_numpy_float(value: Any) -> bool:
    import numpy as np

    return isinstance(value, np.floating)


def validate_config(owner: str, schema: tuple[Param, ...], config: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``config`` against ``schema``; return the full config with defaults filled in.

    Unknown keys and missing required keys are refused with a message naming them.
    """
    known = {p.name for p in schema}
    unknown = [k for k in config if k not in known]
    if unknown:
        allowed = ", ".join(sorted(known)) or "no settings"
        raise SpecError(f"{owner} has no setting {', '.join(repr(k) for k in unknown)} (it takes {allowed})")
    result: dict[str, Any] = {}
    for p in schema:
        if p.name in config:
            result[p.name] = p.check(config[p.name], owner)
        elif p.required:
            raise SpecError(f"{owner} needs the setting '{p.name}'" + (f" ({p.help})" if p.help else ""))
        else:
            result[p.name] = p.default
    return result
