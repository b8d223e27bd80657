"""The selected layer's settings, as a form generated from the layer class's ``schema``.

Each ``core.params.Param`` becomes one input whose range is the schema's, so a value the
engine would refuse cannot be entered:

- ``int`` → QSpinBox; ``float`` → QDoubleSpinBox (exclusive bounds moved in by one step,
  so a Dropout rate cannot reach 1.0); ``choice`` → QComboBox; ``bool`` → QCheckBox;
- ``int_or_pair`` → a spin box, plus a second one behind a "non-square" check box;
- ``optional`` (e.g. MaxPool2D stride) → a check box "same as pool size" in front.

Every committed edit is one ``document.change("Set Dense units to 128", spec=…,
merge_key="layer4.units")``, so repeated edits of one field are one undo step. When the
spec changes (undo, another widget) the form re-reads it without emitting edits back.
Spin boxes commit on Enter, focus change and arrow steps (no keyboard tracking): typing
"128" does not push networks with 1 and 12 units on the way.

Object names (automation): the main input of setting ``name`` is ``param_<name>``; a pair's
second spin box ``param_<name>_width`` and its toggle ``param_<name>_nonsquare``; an optional
setting's check box ``param_<name>_auto``.
"""

from __future__ import annotations

import re
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

from core import SpecError
from core.params import Param
from core.registry import LAYER_TYPES, layer_class
from core.spec_edit import set_layer_setting

from ..document import Document

#: One line about what each layer type does (form header, palette tooltips).
LAYER_BLURBS = {
    "Dense": "Fully connected: every output is a weighted sum of all inputs plus a bias.",
    "Conv2D": "Slides small learned filters over the image; each filter makes one feature map.",
    "MaxPool2D": "Keeps the largest value in each window: halves the image size with pool size 2.",
    "Flatten": "Joins channels, rows and columns into one long vector for Dense layers.",
    "Dropout": "While training, zeroes a random fraction of values so the network cannot rely on any one.",
    "Activation": "Applies a non-linearity to every value (softmax turns scores into probabilities).",
}

_INT_LIMIT = 2_147_483_647  # QSpinBox holds a C int
_FLOAT_LIMIT = 1e9


def setting_label(name: str) -> str:
    """``kernel_size`` -> ``Kernel size``."""
    return name.replace("_", " ").capitalize()


def value_text(value: Any) -> str:
    """How a setting's value reads in an undo text: 128, 3×5, 0.25, on/off, same."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (list, tuple)):
        return "×".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _canonical(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _tooltip(param: Param) -> str:
    text = param.help[:1].upper() + param.help[1:] if param.help else setting_label(param.name)
    range_text = param.range_text()
    return f"{text} ({range_text})" if range_text and param.kind in ("int", "float", "int_or_pair") else text


def _int_bounds(param: Param) -> tuple[int, int]:
    lo = -_INT_LIMIT if param.minimum is None else int(param.minimum) + (1 if param.exclusive_minimum else 0)
    hi = _INT_LIMIT if param.maximum is None else int(param.maximum) - (1 if param.exclusive_maximum else 0)
    return lo, hi


# -- one input per setting ---------------------------------------------------------------------

class _Editor(QWidget):
    """Input for one setting: ``value()``, ``set_value(v)`` (silent), ``edited`` on user edits."""

    edited = Signal()

    def __init__(self, param: Param, parent: QWidget | None = None):
        super().__init__(parent)
        self.param = param
        self.setToolTip(_tooltip(param))
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)

    def value(self) -> Any:
        raise NotImplementedError

    def set_value(self, value: Any) -> None:
        raise NotImplementedError

    def focus_widget(self) -> QWidget:
        return self


def _spin(param: Param, name: str) -> QSpinBox:
    spin = QSpinBox()
    spin.setObjectName(name)
    spin.setRange(*_int_bounds(param))
    spin.setKeyboardTracking(False)
    spin.setAccelerated(True)
    spin.setToolTip(_tooltip(param))
    spin.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
    return spin


class _IntEditor(_Editor):
    def __init__(self, param: Param, parent=None):
        super().__init__(param, parent)
        self.spin = _spin(param, f"param_{param.name}")
        self.spin.valueChanged.connect(self.edited)
        self._layout.addWidget(self.spin)

    def value(self) -> int:
        return self.spin.value()

    def set_value(self, value: Any) -> None:
        self.spin.blockSignals(True)
        self.spin.setValue(int(value))
        self.spin.blockSignals(False)

    def focus_widget(self) -> QWidget:
        return self.spin


class _FloatEditor(_Editor):
    def __init__(self, param: Param, parent=None):
        super().__init__(param, parent)
        spin = self.spin = QDoubleSpinBox()
        spin.setObjectName(f"param_{param.name}")
        unit_range = param.minimum is not None and param.maximum is not None and param.maximum - param.minimum <= 1
        # Rates and fractions: two decimals in steps of 0.05; anything else in steps of 0.1.
        decimals, step = (2, 0.05) if unit_range else (3, 0.1)
        spin.setDecimals(decimals)
        spin.setSingleStep(step)
        tick = 10.0 ** -decimals
        lo = -_FLOAT_LIMIT if param.minimum is None else param.minimum + (tick if param.exclusive_minimum else 0)
        hi = _FLOAT_LIMIT if param.maximum is None else param.maximum - (tick if param.exclusive_maximum else 0)
        spin.setRange(lo, hi)
        spin.setKeyboardTracking(False)
        spin.setToolTip(_tooltip(param))
        spin.valueChanged.connect(self.edited)
        self._layout.addWidget(spin)

    def value(self) -> float:
        return round(self.spin.value(), self.spin.decimals())

    def set_value(self, value: Any) -> None:
        self.spin.blockSignals(True)
        self.spin.setValue(float(value))
        self.spin.blockSignals(False)

    def focus_widget(self) -> QWidget:
        return self.spin


class _ChoiceEditor(_Editor):
    def __init__(self, param: Param, parent=None):
        super().__init__(param, parent)
        self.combo = QComboBox()
        self.combo.setObjectName(f"param_{param.name}")
        self.combo.addItems(list(param.choices))
        self.combo.setToolTip(_tooltip(param))
        self.combo.currentIndexChanged.connect(self.edited)
        self._layout.addWidget(self.combo)

    def value(self) -> str:
        return self.combo.currentText()

    def set_value(self, value: Any) -> None:
        self.combo.blockSignals(True)
        self.combo.setCurrentIndex(max(self.combo.findText(str(value)), 0))
        self.combo.blockSignals(False)

    def focus_widget(self) -> QWidget:
        return self.combo


class _BoolEditor(_Editor):
    def __init__(self, param: Param, parent=None):
        super().__init__(param, parent)
        self.check = QCheckBox()
        self.check.setObjectName(f"param_{param.name}")
        self.check.setToolTip(_tooltip(param))
        self.check.toggled.connect(self.edited)
        self._layout.addWidget(self.check)
        self._layout.addStretch(1)

    def value(self) -> bool:
        return self.check.isChecked()

    def set_value(self, value: Any) -> None:
        self.check.blockSignals(True)
        self.check.setChecked(bool(value))
        self.check.blockSignals(False)

    def focus_widget(self) -> QWidget:
        return self.check


class _PairEditor(_Editor):
    """An int, or (height, width) when "non-square" is checked and the two differ."""

    def __init__(self, param: Param, parent=None):
        super().__init__(param, parent)
        self.first = _spin(param, f"param_{param.name}")
        self.times = QLabel("×")
        self.second = _spin(param, f"param_{param.name}_width")
        self.first.setToolTip(_tooltip(param) + "; when non-square, this is the height")
        self.second.setToolTip("Width (the first box is the height)")
        self.nonsquare = QCheckBox("non-square")
        self.nonsquare.setObjectName(f"param_{param.name}_nonsquare")
        self.nonsquare.setToolTip("Use a different height and width")
        for w in (self.first, self.times, self.second, self.nonsquare):
            self._layout.addWidget(w)
        self._layout.addStretch(1)
        self.first.valueChanged.connect(self._on_first_value_changed)
        self.second.valueChanged.connect(self.edited)
        self.nonsquare.toggled.connect(self._on_nonsquare_toggled)
        self._show_second(False)

    def _show_second(self, shown: bool) -> None:
        self.times.setVisible(shown)
        self.second.setVisible(shown)

    def _on_first_value_changed(self, value: int) -> None:
        if not self.nonsquare.isChecked():
            self.second.blockSignals(True)
            self.second.setValue(value)
            self.second.blockSignals(False)
        self.edited.emit()

    def _on_nonsquare_toggled(self, on: bool) -> None:
        self._show_second(on)
        if not on:
            self.second.blockSignals(True)
            self.second.setValue(self.first.value())
            self.second.blockSignals(False)
        self.edited.emit()

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

    def __init__(self, param: Param, inner: _Editor, text: str, parent=None):
        super().__init__(param, parent)
        self.inner = inner
        self.auto = QCheckBox(text)
        self.auto.setObjectName(f"param_{param.name}_auto")
        self.auto.setToolTip(_tooltip(param))
        column = QVBoxLayout()
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.auto)
        column.addWidget(inner)
        self._layout.addLayout(column)
        self.auto.toggled.connect(self._on_auto_toggled)
        inner.edited.connect(self.edited)
        #: Value the inner editor starts from when the box is unchecked (e.g. the pool size).
        self.fallback: Any = None

    def _on_auto_toggled(self, on: bool) -> None:
        self.inner.setEnabled(not on)
        if not on and self.fallback is not None:
            self.inner.set_value(self.fallback)
        self.edited.emit()

    def value(self) -> Any:
        return None if self.auto.isChecked() else self.inner.value()

    def set_value(self, value: Any) -> None:
        self.auto.blockSignals(True)
        self.auto.setChecked(value is None)
        self.auto.blockSignals(False)
        self.inner.setEnabled(value is not None)
        if value is not None:
            self.inner.set_value(value)
        elif self.fallback is not None:
            self.inner.set_value(self.fallback)

    def focus_widget(self) -> QWidget:
        return self.auto


_EDITORS = {"int": _IntEditor, "float": _FloatEditor, "choice": _ChoiceEditor, "bool": _BoolEditor,
            "int_or_pair": _PairEditor}


def _same_as(param: Param, schema: tuple[Param, ...]) -> str | None:
    """The sibling setting an optional one defaults to ("empty means the same as pool_size")."""
    match = re.search(r"same as (\w+)", param.help)
    names = {p.name for p in schema}
    return match.group(1) if match and match.group(1) in names else None


# -- the form ------------------------------------------------------------------------------------

class ParamForm(QWidget):
    """Settings of layer ``index`` of ``document.spec``; ``set_layer(None)`` shows a hint."""

    def __init__(self, document: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("layerSettings")
        self._document = document
        self._index: int | None = None
        self._type: str | None = None
        self._editors: dict[str, _Editor] = {}
        self._updating = False

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self._title = QLabel()
        self._title.setObjectName("layerSettingsTitle")
        self._title.setTextFormat(Qt.TextFormat.PlainText)
        font = self._title.font()
        font.setBold(True)
        self._title.setFont(font)
        self._blurb = QLabel()
        self._blurb.setObjectName("layerSettingsHint")
        self._blurb.setWordWrap(True)
        self._blurb.setStyleSheet("color: palette(placeholder-text);")  # muted; follows a theme switch
        self._fields = QWidget()
        self._form = QFormLayout(self._fields)
        self._form.setContentsMargins(0, 2, 0, 0)
        # Narrow column: put inputs under their labels rather than squeezing them.
        self._form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self._form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        layout.addWidget(self._title)
        layout.addWidget(self._blurb)
        layout.addWidget(self._fields)

        document.specChanged.connect(self._on_document_spec_changed)
        document.trainingActiveChanged.connect(self._on_document_training_active_changed)
        self.setEnabled(not document.training_active)
        self._rebuild()

    # -- public ------------------------------------------------------------------------------------
    @property
    def index(self) -> int | None:
        """0-based layer shown, or None."""
        return self._index

    def set_layer(self, index: int | None) -> None:
        """Show layer ``index`` (None or out of range: nothing). Rebuilds the inputs only when
        the layer type changes, so a focused input survives edits of its own layer."""
        layers = self._document.spec.layers
        if index is not None and not 0 <= index < len(layers):
            index = None
        type_name = layers[index].type if index is not None else None
        if index != self._index or type_name != self._type:
            self._index = index
            if type_name != self._type or not self._editors:
                self._type = type_name
                self._rebuild()
        self._refresh()

    def editor(self, name: str) -> QWidget | None:
        """The main input of setting ``name`` (spin box, combo box or check box)."""
        e = self._editors.get(name)
        return e.focus_widget() if e is not None else None

    # -- building ------------------------------------------------------------------------------------
    def _rebuild(self) -> None:
        while self._form.rowCount():
            self._form.removeRow(0)
        self._editors = {}
        if self._type is None:
            return
        if self._type not in LAYER_TYPES:
            return  # unknown type: the list shows the problem; nothing to edit
        schema = layer_class(self._type).schema
        for param in schema:
            editor = self._make_editor(param, schema)
            if editor is None:
                continue
            self._editors[param.name] = editor
            editor.edited.connect(lambda name=param.name: self._commit(name))
            if param.kind == "bool":
                editor.check.setText(setting_label(param.name))
                self._form.addRow(editor)
            else:
                label = QLabel(setting_label(param.name) + ":")
                label.setToolTip(_tooltip(param))
                label.setBuddy(editor.focus_widget())
                self._form.addRow(label, editor)

    @staticmethod
    def _make_editor(param: Param, schema: tuple[Param, ...]) -> _Editor | None:
        cls = _EDITORS.get(param.kind)
        if cls is None:
            return None
        if not param.optional:
            return cls(param)
        sibling = _same_as(param, schema)
        text = f"same as {setting_label(sibling).lower()}" if sibling else "default"
        return _OptionalEditor(param, cls(param), text)

    def _refresh(self) -> None:
        """Show the spec's values (silently: no edits are emitted)."""
        self._updating = True
        try:
            layers = self._document.spec.layers
            if self._index is None:
                self._title.setText("No layer selected")
                self._blurb.setText("Select a layer in the list to edit its settings.")
                return
            layer = layers[self._index]
            self._title.setText(f"Layer {self._index + 1} · {layer.type}")
            blurb = LAYER_BLURBS.get(layer.type, "")
            if not self._editors:
                blurb = (blurb + " " if blurb else "") + f"{layer.type} has no settings."
            self._blurb.setText(blurb)
            for name, editor in self._editors.items():
                if isinstance(editor, _OptionalEditor):
                    sibling = _same_as(editor.param, layer_class(layer.type).schema)
                    editor.fallback = layer.config.get(sibling) if sibling else None
                if name in layer.config:
                    editor.set_value(layer.config[name])
        finally:
            self._updating = False

    # -- edits ----------------------------------------------------------------------------------------
    def _commit(self, name: str) -> None:
        if self._updating or self._index is None or self._document.training_active:
            return
        spec = self._document.spec
        if not 0 <= self._index < len(spec.layers):
            return
        layer = spec.layers[self._index]
        value = self._editors[name].value()
        if _canonical(value) == _canonical(layer.config.get(name)):
            return
        try:
            new_spec = set_layer_setting(spec, self._index, name, value)
        except SpecError as exc:  # the ranges should prevent this; never lose the user's spec
            self._document.notify(f"Could not change {setting_label(name).lower()}: {exc}", "warning")
            self._refresh()
            return
        shown = "same as default" if value is None else value_text(value)
        if value is None and isinstance(self._editors[name], _OptionalEditor):
            shown = self._editors[name].auto.text()
        self._document.change(f"Set {layer.type} {name} to {shown}", spec=new_spec,
                              merge_key=f"layer{self._index}.{name}")

    # -- document ---------------------------------------------------------------------------------------
    def _on_document_spec_changed(self) -> None:
        self.set_layer(self._index)

    def _on_document_training_active_changed(self, active: bool) -> None:
        self.setEnabled(not active)
