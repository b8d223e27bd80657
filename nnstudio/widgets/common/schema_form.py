"""``SchemaForm(schema)``: one input per ``core.params.Param``, the only form factory of the app.

The layer settings (``ParamForm``), the optimizer settings (``TrainingSettingsPanel``) and
the generated datasets' parameters (``DatasetPanel``) are all this form over a schema the
engine declares, so a value the engine would refuse cannot be entered and every label,
step and tooltip comes from the ``Param`` itself:

- ``int`` → QSpinBox (step ``param.step`` or 1; thousands separators once the range reaches
  10,000); ``float`` → a double spin box showing "0.9" rather than "0.9000" (step and
  decimals from the Param; else 2 decimals in steps of 0.05 for a range within 1, 3 decimals
  in steps of 0.1 otherwise; exclusive bounds moved in by one step, so a Dropout rate cannot
  reach 1.0); a ``log_scale`` float → ``LogSpinBox`` (1-2-5 steps; ``zero_means_off`` also
  allows 0, as weight decay does; the smallest positive value is the minimum, or
  10^-decimals when the minimum is 0 or exclusive);
- ``choice`` → QComboBox; ``bool`` → QCheckBox (its text is the title, no separate label);
- ``int_or_pair`` → a spin box, plus a second one behind a "non-square" check box;
- ``optional`` (e.g. MaxPool2D stride, "empty means the same as pool_size") → a check box
  "same as pool size" in front; the inner input shows the sibling's value while checked.

Labels are ``param.title``; tooltips ``param.help`` plus ``param.range_text()`` for numbers.
User edits emit ``valueEdited(name, value)`` with the value already normalised by
``param.check`` (ints as int, pairs as tuples, never out of range); ``editingFinished(name)``
when a field finishes an edit (Enter, focus loss), so hosts can start a new undo step.
``set_values(mapping)`` shows values without emitting. Spin boxes commit on Enter, focus
change and arrow steps, never per keystroke (typing "128" does not pass through 1 and 12).
The layout is a plain QFormLayout (``form``) with the style's policies; hosts set their own
(the layer form wraps long rows) and may ask for a ``label_suffix`` (":").

Object names (automation, tests): the main input of setting ``name`` is ``<prefix><name>``
(prefix ``param_`` unless given); a pair's second spin box ``<prefix><name>_width`` and its
toggle ``<prefix><name>_nonsquare``; an optional setting's check box ``<prefix><name>_auto``.
Each input's accessible name is the setting's title.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.errors import SpecError
from core.params import Param
from nnstudio.widgets.common.log_spin_box import LogSpinBox

_INT_LIMIT = 2_147_483_647  # QSpinBox holds a C int
_FLOAT_LIMIT = 1e9
#: Ints whose range reaches this show thousands separators ("100,000").
_GROUPED_FROM = 10_000
#: Finest value a log-scale field offers when its Param declares no decimals (epsilon).
_LOG_DECIMALS = 12


def _sentence_start(text: str) -> str:
    return text[:1].upper() + text[1:]


def tooltip(param: Param) -> str:
    """"Number of output neurons (between 1 and 100,000)"; the title when there is no help."""
    text = _sentence_start(param.help) if param.help else param.title
    range_text = param.range_text()
    return f"{text} ({range_text})" if range_text and param.kind in ("int", "float", "int_or_pair") else text


def value_text(value: Any) -> str:
    """How a setting's value reads in an undo text: 128, 3×5, 0.25, on/off."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (list, tuple)):
        return "×".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _canonical(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _int_bounds(param: Param) -> tuple[int, int]:
    lo = -_INT_LIMIT if param.minimum is None else int(param.minimum) + (1 if param.exclusive_minimum else 0)
    hi = _INT_LIMIT if param.maximum is None else int(param.maximum) - (1 if param.exclusive_maximum else 0)
    return max(lo, -_INT_LIMIT), min(hi, _INT_LIMIT)


def same_as(param: Param, schema: Iterable[Param]) -> str | None:
    """The sibling an optional setting defaults to ("empty means the same as pool_size")."""
    match = re.search(r"same as (\w+)", param.help)
    names = {p.name for p in schema}
    return match.group(1) if match and match.group(1) in names else None


class CompactDoubleSpinBox(QDoubleSpinBox):
    """A QDoubleSpinBox that shows "0.9" rather than "0.9000"."""

    def textFromValue(self, value: float) -> str:
        return f"{value:.{self.decimals()}f}".rstrip("0").rstrip(".") or "0"


# -- one input per setting ---------------------------------------------------------------------

class _Editor(QWidget):
    """Input for one setting: ``value()``, ``set_value(v)`` (silent), ``edited`` on user edits,
    ``finished`` when an edit is complete (Enter, focus loss)."""

    #: The setting's name, on a user edit / when the edit is complete.
    edited = Signal(str)
    finished = Signal(str)

    def __init__(self, param: Param, prefix: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.param = param
        self.prefix = prefix
        self.setToolTip(tooltip(param))
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)

    def _emit_edited(self, *_args: Any) -> None:
        self.edited.emit(self.param.name)

    def _emit_finished(self, *_args: Any) -> None:
        self.finished.emit(self.param.name)

    def value(self) -> Any:
        raise NotImplementedError

    def set_value(self, value: Any) -> None:
        raise NotImplementedError

    def focus_widget(self) -> QWidget:
        return self

    def _own(self, widget: QWidget, suffix: str = "") -> None:
        """Name ``widget`` for automation and give it the setting's tooltip and title."""
        widget.setObjectName(f"{self.prefix}{self.param.name}{suffix}")
        widget.setToolTip(tooltip(self.param))
        widget.setAccessibleName(self.param.title)


def _spin(param: Param) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(*_int_bounds(param))
    spin.setSingleStep(max(1, int(param.step or 1)))
    spin.setGroupSeparatorShown(spin.maximum() >= _GROUPED_FROM)
    spin.setKeyboardTracking(False)
    spin.setAccelerated(True)
    spin.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
    return spin


class _IntEditor(_Editor):
    def __init__(self, param: Param, prefix: str, parent: QWidget | None = None):
        super().__init__(param, prefix, parent)
        self.spin = _spin(param)
        self._own(self.spin)
        self.spin.valueChanged.connect(self._emit_edited)
        self.spin.editingFinished.connect(self._emit_finished)
        self._layout.addWidget(self.spin)

    def value(self) -> int:
        return self.spin.value()

    def set_value(self, value: Any) -> None:
        _silently(self.spin, lambda: self.spin.setValue(int(value)))

    def focus_widget(self) -> QWidget:
        return self.spin


def _float_format(param: Param) -> tuple[int, float]:
    """(decimals, step): the Param's, else today's choice for its range."""
    unit_range = param.minimum is not None and param.maximum is not None and param.maximum - param.minimum <= 1
    # Rates and fractions: two decimals in steps of 0.05; anything else three in steps of 0.1.
    decimals, step = (2, 0.05) if unit_range else (3, 0.1)
    return (param.decimals if param.decimals is not None else decimals,
            param.step if param.step is not None else step)


class _FloatEditor(_Editor):
    def __init__(self, param: Param, prefix: str, parent: QWidget | None = None):
        super().__init__(param, prefix, parent)
        spin = self.spin = CompactDoubleSpinBox()
        decimals, step = _float_format(param)
        spin.setDecimals(decimals)
        spin.setSingleStep(step)
        tick = 10.0 ** -decimals
        lo = -_FLOAT_LIMIT if param.minimum is None else param.minimum + (tick if param.exclusive_minimum else 0)
        hi = _FLOAT_LIMIT if param.maximum is None else param.maximum - (tick if param.exclusive_maximum else 0)
        spin.setRange(lo, hi)
        spin.setKeyboardTracking(False)
        self._own(spin)
        spin.valueChanged.connect(self._emit_edited)
        spin.editingFinished.connect(self._emit_finished)
        self._layout.addWidget(spin)

    def value(self) -> float:
        return round(self.spin.value(), self.spin.decimals())

    def set_value(self, value: Any) -> None:
        _silently(self.spin, lambda: self.spin.setValue(float(value)))

    def focus_widget(self) -> QWidget:
        return self.spin


def _log_minimum(param: Param) -> float:
    """Smallest positive value of a log-scale field (see the module docstring)."""
    if param.minimum is not None and param.minimum > 0 and not param.exclusive_minimum:
        return float(param.minimum)
    return 10.0 ** -(param.decimals if param.decimals is not None else _LOG_DECIMALS)


class _LogEditor(_Editor):
    """Values spanning decades (epsilon, weight decay): 1-2-5 steps, Page Up/Down ×10."""

    def __init__(self, param: Param, prefix: str, parent: QWidget | None = None):
        super().__init__(param, prefix, parent)
        maximum = float(param.maximum) if param.maximum is not None else _FLOAT_LIMIT
        start = param.default if isinstance(param.default, (int, float)) else _log_minimum(param)
        spin = self.spin = LogSpinBox(_log_minimum(param), maximum, float(start),
                                      allow_zero=param.zero_means_off)
        self._own(spin)
        spin.setKeyboardTracking(False)
        spin.valueChanged.connect(self._emit_edited)
        spin.editingFinished.connect(self._emit_finished)
        self._layout.addWidget(spin)

    def value(self) -> float:
        return float(self.spin.value())

    def set_value(self, value: Any) -> None:
        _silently(self.spin, lambda: self.spin.setValue(float(value)))

    def focus_widget(self) -> QWidget:
        return self.spin


class _ChoiceEditor(_Editor):
    def __init__(self, param: Param, prefix: str, parent: QWidget | None = None):
        super().__init__(param, prefix, parent)
        self.combo = QComboBox()
        for choice in param.choices:  # shown by its label, carrying its value
            self.combo.addItem(param.choice_label(choice), choice)
        self._own(self.combo)
        self.combo.currentIndexChanged.connect(self._emit_edited)
        self._layout.addWidget(self.combo)

    def value(self) -> str:
        return str(self.combo.currentData())

    def set_value(self, value: Any) -> None:
        _silently(self.combo, lambda: self.combo.setCurrentIndex(max(self.combo.findData(str(value)), 0)))

    def focus_widget(self) -> QWidget:
        return self.combo


class _BoolEditor(_Editor):
    def __init__(self, param: Param, prefix: str, parent: QWidget | None = None):
        super().__init__(param, prefix, parent)
        self.check = QCheckBox(param.title)
        self._own(self.check)
        self.check.toggled.connect(self._emit_edited)
        self._layout.addWidget(self.check)
        self._layout.addStretch(1)

    def value(self) -> bool:
        return self.check.isChecked()

    def set_value(self, value: Any) -> None:
        _silently(self.check, lambda: self.check.setChecked(bool(value)))

    def focus_widget(self) -> QWidget:
        return self.check


class _PairEditor(_Editor):
    """An int, or (height, width) when "non-square" is checked and the two differ."""

    def __init__(self, param: Param, prefix: str, parent: QWidget | None = None):
        super().__init__(param, prefix, parent)
        self.first = _spin(param)
        self._own(self.first)
        self.times = QLabel("×")
        self.second = _spin(param)
        self._own(self.second, "_width")
        self.first.setToolTip(tooltip(param) + "; when non-square, this is the height")
        self.second.setToolTip("Width (the first box is the height)")
        self.nonsquare = QCheckBox("non-square")
        self.nonsquare.setObjectName(f"{prefix}{param.name}_nonsquare")
        self.nonsquare.setToolTip("Use a different height and width")
        for w in (self.first, self.times, self.second, self.nonsquare):
            self._layout.addWidget(w)
        self._layout.addStretch(1)
        self.first.valueChanged.connect(self._on_first_value_changed)
        self.second.valueChanged.connect(self._emit_edited)
        self.first.editingFinished.connect(self._emit_finished)
        self.second.editingFinished.connect(self._emit_finished)
        self.nonsquare.toggled.connect(self._on_nonsquare_toggled)
        self._show_second(False)

    def _show_second(self, shown: bool) -> None:
        self.times.setVisible(shown)
        self.second.setVisible(shown)

    def _on_first_value_changed(self, value: int) -> None:
        if not self.nonsquare.isChecked():
            _silently(self.second, lambda: self.second.setValue(value))
        self._emit_edited()

    def _on_nonsquare_toggled(self, on: bool) -> None:
        self._show_second(on)
        if not on:
            _silently(self.second, lambda: self.second.setValue(self.first.value()))
        self._emit_edited()

    def value(self) -> int | tuple[int, int]:
        h, w = self.first.value(), self.second.value()
        return (h, w) if self.nonsquare.isChecked() and h != w else h

    def set_value(self, value: Any) -> None:
        h, w = (value[0], value[1]) if isinstance(value, (list, tuple)) else (value, value)
        for widget in (self.first, self.second, self.nonsquare):
            widget.blockSignals(True)
        self.first.setValue(int(h))
        self.second.setValue(int(w))
        # A square value keeps the toggle as the user left it (they may be about to change
        # the width); a non-square one always shows both boxes.
        if h != w:
            self.nonsquare.setChecked(True)
        self._show_second(self.nonsquare.isChecked())
        for widget in (self.first, self.second, self.nonsquare):
            widget.blockSignals(False)

    def focus_widget(self) -> QWidget:
        return self.first


class _OptionalEditor(_Editor):
    """``None`` while the check box ("same as pool size") is checked, else the inner value."""

    def __init__(self, param: Param, prefix: str, inner: _Editor, text: str, parent: QWidget | None = None):
        super().__init__(param, prefix, parent)
        self.inner = inner
        self.auto = QCheckBox(text)
        self.auto.setObjectName(f"{prefix}{param.name}_auto")
        self.auto.setToolTip(tooltip(param))
        column = QVBoxLayout()
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.auto, 0, Qt.AlignmentFlag.AlignLeft)  # a click beside its text is not on it
        column.addWidget(inner)
        self._layout.addLayout(column)
        self.auto.toggled.connect(self._on_auto_toggled)
        inner.edited.connect(self.edited)
        inner.finished.connect(self.finished)
        #: Value the inner editor shows while the box is checked and starts from when it is
        #: unchecked (e.g. the pool size).
        self.fallback: Any = None

    def _on_auto_toggled(self, on: bool) -> None:
        self.inner.setEnabled(not on)
        if not on and self.fallback is not None:
            self.inner.set_value(self.fallback)
        self._emit_edited()

    def value(self) -> Any:
        return None if self.auto.isChecked() else self.inner.value()

    def set_value(self, value: Any) -> None:
        _silently(self.auto, lambda: self.auto.setChecked(value is None))
        self.inner.setEnabled(value is not None)
        if value is not None:
            self.inner.set_value(value)
        elif self.fallback is not None:
            self.inner.set_value(self.fallback)

    def focus_widget(self) -> QWidget:
        return self.auto


def _silently(widget: QWidget, setter) -> None:
    widget.blockSignals(True)
    try:
        setter()
    finally:
        widget.blockSignals(False)


def _editor_class(param: Param) -> type[_Editor] | None:
    if param.kind == "float" and (param.log_scale or param.zero_means_off):
        return _LogEditor
    return {"int": _IntEditor, "float": _FloatEditor, "choice": _ChoiceEditor, "bool": _BoolEditor,
            "int_or_pair": _PairEditor}.get(param.kind)


# -- the form ------------------------------------------------------------------------------------

class SchemaForm(QWidget):
    """A form over ``schema`` (a sequence of ``Param``). See the module docstring."""

    #: The user changed setting ``name`` to ``value`` (normalised, within the schema's range).
    valueEdited = Signal(str, object)
    #: The user finished an edit of setting ``name`` (Enter, focus loss): a new undo step.
    editingFinished = Signal(str)

    def __init__(self, schema: Iterable[Param], parent: QWidget | None = None, *, object_prefix: str = "param_",
                 owner: str = "setting", label_suffix: str = ""):
        super().__init__(parent)
        self.schema: tuple[Param, ...] = tuple(schema)
        self._owner = owner
        self._editors: dict[str, _Editor] = {}
        self._labels: dict[str, QLabel] = {}
        self._shown: dict[str, Any] = {}
        #: The form's layout (the style's policies; hosts may set their own).
        self.form = QFormLayout(self)
        self.form.setContentsMargins(0, 0, 0, 0)
        for param in self.schema:
            editor = self._make_editor(param, object_prefix)
            if editor is None:
                continue  # a kind this form does not know: no field rather than a wrong one
            self._editors[param.name] = editor
            editor.edited.connect(self._on_editor_edited)
            editor.finished.connect(self.editingFinished)
            if isinstance(editor, _BoolEditor):
                self.form.addRow(editor)
            else:
                label = QLabel(param.title + label_suffix)
                label.setToolTip(tooltip(param))
                label.setBuddy(editor.focus_widget())
                self._labels[param.name] = label
                self.form.addRow(label, editor)

    def _make_editor(self, param: Param, prefix: str) -> _Editor | None:
        cls = _editor_class(param)
        if cls is None:
            return None
        if not param.optional:
            return cls(param, prefix)
        sibling = next((p for p in self.schema if p.name == same_as(param, self.schema)), None)
        text = f"same as {sibling.title.lower()}" if sibling is not None else "default"
        return _OptionalEditor(param, prefix, cls(param, prefix), text)

    # -- public ------------------------------------------------------------------------------------
    def names(self) -> list[str]:
        """The settings that have an input, in schema order."""
        return list(self._editors)

    def editor(self, name: str) -> QWidget | None:
        """The main input of setting ``name`` (spin box, combo box or check box), or None."""
        e = self._editors.get(name)
        return e.focus_widget() if e is not None else None

    def label(self, name: str) -> QLabel | None:
        """The label beside setting ``name`` (None for check boxes, which carry their text)."""
        return self._labels.get(name)

    def labels(self) -> list[QLabel]:
        return list(self._labels.values())

    def value(self, name: str) -> Any:
        """The value the input of ``name`` shows (None: an optional setting's "same as …")."""
        return self._editors[name].value()

    def values(self) -> dict[str, Any]:
        return {name: editor.value() for name, editor in self._editors.items()}

    def option_text(self, name: str) -> str:
        """The text of an optional setting's check box ("same as pool size"), else ""."""
        editor = self._editors.get(name)
        return editor.auto.text() if isinstance(editor, _OptionalEditor) else ""

    def set_values(self, values: Mapping[str, Any]) -> None:
        """Show ``values`` (missing names keep theirs) without emitting ``valueEdited``.
        An optional setting's input shows its sibling's value while "same as …" is checked."""
        for name, editor in self._editors.items():
            if isinstance(editor, _OptionalEditor):
                sibling = same_as(editor.param, self.schema)
                if sibling is not None and sibling in values:
                    editor.fallback = values[sibling]
            if name in values:
                editor.set_value(values[name])
                self._shown[name] = _canonical(values[name])

    def set_field_enabled(self, name: str, enabled: bool, note: str = "") -> None:
        """Enable or disable one field (and its label); ``note`` is added to its tooltip
        while it is disabled (why it cannot be used now)."""
        editor = self._editors[name]
        editor.setEnabled(enabled)
        text = tooltip(editor.param) + (f" {note}" if note and not enabled else "")
        editor.focus_widget().setToolTip(text)
        label = self._labels.get(name)
        if label is not None:
            label.setEnabled(enabled)

    # -- edits ---------------------------------------------------------------------------------------
    def _on_editor_edited(self, name: str) -> None:
        editor = self._editors[name]
        try:
            value = editor.param.check(editor.value(), self._owner)
        except SpecError:
            # The ranges should make this impossible; show the last good value, emit nothing.
            if name in self._shown:
                editor.set_value(self._shown[name])
            return
        if isinstance(value, float) and not math.isfinite(value):
            return
        self._shown[name] = _canonical(value)
        self.valueEdited.emit(name, value)
