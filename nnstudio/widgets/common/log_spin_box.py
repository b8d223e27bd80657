"""A spin box for values that span decades (learning rate, epsilon, weight decay).

Arrow keys and the wheel move along the 1-2-5 series (…, 0.001, 0.002, 0.005, 0.01, …);
Page Up / Page Down multiply or divide by 10. Any number within the range may be typed,
in plain or scientific notation ("0.0003", "3e-4"). A number outside the range (or zero,
unless allowed) is not taken — the value stays — but never silently: ``rangeNote`` says so
in a sentence for a label under the field ("50 is more than the largest allowed value, 10;
kept 0.001"), and says what the range is while such a number is being typed; it sends ""
when there is nothing to say. Values are shown compactly ("0.001", "1e-06").
"""

from __future__ import annotations

import math

from PySide6.QtCore import Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QAbstractSpinBox, QDoubleSpinBox, QWidget

_SERIES = (1.0, 2.0, 5.0)
_REL_TOL = 1e-9


def _decade_neighbour(value: float, up: bool) -> float:
    """One page step: ten times larger or smaller."""
    return value * 10 if up else value / 10


def _series_neighbour(value: float, up: bool) -> float:
    """The next value of the 1-2-5 series strictly above (or below) ``value`` > 0."""
    decade = math.floor(math.log10(value))
    candidates = [m * 10.0 ** d for d in (decade - 1, decade, decade + 1) for m in _SERIES]
    if up:
        return min(c for c in candidates if c > value * (1 + _REL_TOL))
    return max(c for c in candidates if c < value * (1 - _REL_TOL))


def format_compact(value: float) -> str:
    """``0.001`` -> "0.001", ``1e-6`` -> "1e-06", ``0.0003`` -> "0.0003", ``2.5`` -> "2.5"."""
    return f"{value:.6g}"


class LogSpinBox(QDoubleSpinBox):
    """QDoubleSpinBox with multiplicative steps and free-form numeric entry.

    ``minimum`` must be > 0 (the smallest positive value); ``allow_zero`` additionally
    accepts 0 (stepping down from the minimum reaches 0, up from 0 reaches the minimum).
    """

    #: A sentence about an out-of-range entry ("" once there is nothing to say).
    rangeNote = Signal(str)

    def __init__(self, minimum: float = 1e-6, maximum: float = 10.0, value: float = 1e-3,
                 allow_zero: bool = False, parent: QWidget | None = None):
        super().__init__(parent)
        if not 0 < minimum < maximum:
            raise ValueError("LogSpinBox needs 0 < minimum < maximum")
        self._min_positive = float(minimum)
        self._allow_zero = allow_zero
        # Enough decimals that rounding never moves a value in range (Qt rounds to them).
        self.setDecimals(max(6, int(-math.floor(math.log10(minimum))) + 6))
        self.setRange(0.0 if allow_zero else minimum, maximum)
        self.setCorrectionMode(QAbstractSpinBox.CorrectionMode.CorrectToPreviousValue)
        self.setAccelerated(False)
        self.setValue(value)
        self._note = ""
        self._refused = False
        self.lineEdit().textEdited.connect(self._on_line_edit_text_edited)
        self.editingFinished.connect(self._on_editing_finished)

    # -- text ---------------------------------------------------------------------------------
    def textFromValue(self, value: float) -> str:
        return format_compact(value)

    def valueFromText(self, text: str) -> float:
        number = self._parse(text)
        return self.value() if number is None else number

    @staticmethod
    def _parse(text: str) -> float | None:
        try:
            number = float(text.strip().replace(",", "."))
        except ValueError:
            return None
        return number if math.isfinite(number) else None

    def _in_range(self, number: float) -> bool:
        if number == 0:
            return self._allow_zero
        return self._min_positive * (1 - _REL_TOL) <= number <= self.maximum() * (1 + _REL_TOL)

    def validate(self, text: str, pos: int):  # Qt's signature
        stripped = text.strip()
        number = self._parse(stripped)
        if number is not None and self._in_range(number):
            return QValidator.State.Acceptable, text, pos
        # Anything a number could still grow into ("", "1e", "0.0", "5e-") is intermediate;
        # letters and signs a positive number cannot contain are refused outright.
        if stripped == "" or (all(c in "0123456789.,eE+-" for c in stripped) and not stripped.startswith("-")):
            return QValidator.State.Intermediate, text, pos
        return QValidator.State.Invalid, text, pos

    def fixup(self, text: str) -> str:
        # Back to the value the field had; a number out of range says why (the note).
        kept = self.textFromValue(self.value())
        number = self._parse(text.strip())
        if number is not None and not self._in_range(number):
            nearest = self._nearest_allowed(number)
            which = "more than the largest" if number > nearest else "less than the smallest"
            self._set_note(f"{text.strip()} is {which} allowed value, {self.textFromValue(nearest)}; kept {kept}.")
            self._refused = True
        return kept

    def _nearest_allowed(self, number: float) -> float:
        if number > self.maximum():
            return self.maximum()
        return 0.0 if self._allow_zero and number <= 0 else self._min_positive

    def range_text(self) -> str:
        """The allowed values in words: "from 1e-06 to 10" (", or 0" when zero is allowed)."""
        text = f"from {self.textFromValue(self._min_positive)} to {self.textFromValue(self.maximum())}"
        return text + (", or 0" if self._allow_zero else "")

    @property
    def note(self) -> str:
        """The last ``rangeNote`` sent."""
        return self._note

    def _set_note(self, note: str) -> None:
        if note != self._note:
            self._note = note
            self.rangeNote.emit(note)

    def _on_line_edit_text_edited(self, text: str) -> None:
        number = self._parse(text.strip())
        if number is not None and not self._in_range(number):
            self._set_note(f"Allowed: {self.range_text()}.")
        else:
            self._set_note("")

    def _on_editing_finished(self) -> None:
        # A refusal by this edit keeps its note; any other finished edit clears it.
        if self._refused:
            self._refused = False
        else:
            self._set_note("")

    # -- steps --------------------------------------------------------------------------------
    def stepBy(self, steps: int) -> None:
        value = self.value()
        page = abs(steps) >= 10  # Page Up/Down step by 10 "single steps"
        for _ in range(abs(steps) // 10 if page else abs(steps)):
            value = self._step(value, steps > 0, page)
        self.setValue(value)
        self.selectAll()

    def _step(self, value: float, up: bool, page: bool) -> float:
        low, high = self._min_positive, self.maximum()
        if value <= 0:
            return low if up else 0.0
        nxt = _decade_neighbour(value, up) if page else _series_neighbour(value, up)
        if nxt < low * (1 - _REL_TOL):
            return 0.0 if self._allow_zero and value <= low * (1 + _REL_TOL) else low
        return min(nxt, high)

    def stepEnabled(self):
        flags = QAbstractSpinBox.StepEnabledFlag.StepNone
        value = self.value()
        if value < self.maximum() * (1 - _REL_TOL):
            flags |= QAbstractSpinBox.StepEnabledFlag.StepUpEnabled
        if value > (0.0 if self._allow_zero else self._min_positive * (1 + _REL_TOL)):
            flags |= QAbstractSpinBox.StepEnabledFlag.StepDownEnabled
        return flags
