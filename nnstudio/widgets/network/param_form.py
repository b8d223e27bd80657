"""The selected layer's settings: a ``SchemaForm`` over the layer class's ``schema``.

The title names the layer ("Layer 4 · Dense"), a muted line under it is the class's own
``summary``, and the inputs are ``nnstudio.widgets.common.schema_form.SchemaForm`` (ranges, labels,
steps and tooltips from each ``Param``; object names ``param_<name>``). A layer class
registered in core gets its form with no edit here.

Every committed edit is one ``document.change("Set Dense units to 128", spec=…,
merge_key="layer4.units")``, so repeated edits of one field are one undo step. When the
spec changes (undo, another widget) the form re-reads it without emitting edits back.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QLabel, QVBoxLayout, QWidget

from core import SpecError
from core.registry import LAYER_TYPES, layer_class
from core.spec.edit import set_layer_setting
from nnstudio.state.document import Document
from nnstudio.widgets.common.schema_form import SchemaForm, value_text

__all__ = ["ParamForm", "value_text"]


def _canonical(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


class ParamForm(QWidget):
    """Settings of layer ``index`` of ``document.spec``; ``set_layer(None)`` shows a hint."""

    def __init__(self, document: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("layerSettings")
        self._document = document
        self._index: int | None = None
        self._type: str | None = None
        self._fields: SchemaForm | None = None
        self._updating = False

        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
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
        self._layout.addWidget(self._title)
        self._layout.addWidget(self._blurb)

        document.specChanged.connect(self._on_document_spec_changed)
        document.trainingActiveChanged.connect(self._on_document_training_active_changed)
        self.setEnabled(not document.training_active)
        self._rebuild()

    # -- public ------------------------------------------------------------------------------------
    @property
    def index(self) -> int | None:
        """0-based layer shown, or None."""
        return self._index

    @property
    def fields(self) -> SchemaForm | None:
        """The inputs of the layer shown (None when no known layer is shown)."""
        return self._fields

    def set_layer(self, index: int | None) -> None:
        """Show layer ``index`` (None or out of range: nothing). Rebuilds the inputs only when
        the layer type changes, so a focused input survives edits of its own layer."""
        layers = self._document.spec.layers
        if index is not None and not 0 <= index < len(layers):
            index = None
        type_name = layers[index].type if index is not None else None
        if index != self._index or type_name != self._type:
            self._index = index
            if type_name != self._type or self._fields is None:
                self._type = type_name
                self._rebuild()
        self._refresh()

    def names(self) -> list[str]:
        """The settings shown as inputs."""
        return self._fields.names() if self._fields is not None else []

    def editor(self, name: str) -> QWidget | None:
        """The main input of setting ``name`` (spin box, combo box or check box)."""
        return self._fields.editor(name) if self._fields is not None else None

    # -- building ------------------------------------------------------------------------------------
    def _rebuild(self) -> None:
        if self._fields is not None:
            self._layout.removeWidget(self._fields)
            self._fields.setParent(None)  # gone at once (findChild, focus chain), not at the next event loop
            self._fields.deleteLater()
            self._fields = None
        if self._type is None or self._type not in LAYER_TYPES:
            return  # nothing, or an unknown type: the list shows the problem; nothing to edit
        cls = layer_class(self._type)
        self._fields = SchemaForm(cls.schema, owner=self._type, label_suffix=":")
        self._fields.setObjectName("layerSettingsFields")
        form = self._fields.form
        form.setContentsMargins(0, 2, 0, 0)
        # Narrow column: put inputs under their labels rather than squeezing them.
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self._fields.valueEdited.connect(self._on_fields_value_edited)
        self._layout.addWidget(self._fields)

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
            blurb = layer_class(layer.type).summary if layer.type in LAYER_TYPES else ""
            if not self.names():
                blurb = (blurb + " " if blurb else "") + f"{layer.type} has no settings."
            self._blurb.setText(blurb)
            if self._fields is not None:
                self._fields.set_values(layer.config)
        finally:
            self._updating = False

    # -- edits ----------------------------------------------------------------------------------------
    def _on_fields_value_edited(self, name: str, value: Any) -> None:
        if self._updating or self._index is None or self._document.training_active:
            return
        spec = self._document.spec
        if not 0 <= self._index < len(spec.layers):
            return
        layer = spec.layers[self._index]
        if _canonical(value) == _canonical(layer.config.get(name)):
            return
        try:
            new_spec = set_layer_setting(spec, self._index, name, value)
        except SpecError as exc:  # the ranges should prevent this; never lose the user's spec
            title = next((p.title for p in layer_class(layer.type).schema if p.name == name), name)
            self._document.notify(f"Could not change {title.lower()}: {exc}", "warning")
            self._refresh()
            return
        shown = value_text(value) if value is not None else (self._fields.option_text(name) if self._fields
                                                             else "") or "same as default"
        self._document.change(f"Set {layer.type} {name} to {shown}", spec=new_spec,
                              merge_key=f"layer{self._index}.{name}")

    # -- document ---------------------------------------------------------------------------------------
    def _on_document_spec_changed(self) -> None:
        self.set_layer(self._index)

    def _on_document_training_active_changed(self, active: bool) -> None:
        self.setEnabled(not active)
