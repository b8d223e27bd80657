"""A Qt list model over the document's layer stack (``document.spec.layers``).

One row per layer. The model only adapts: shapes, parameter counts, multiply-adds and
problems come from ``core.analyze``; structural edits (drag-and-drop moves, drops from the
layer palette) are built with ``core.spec.edit`` and pushed through ``document.change`` so
they are undoable. When the spec changes, the model works out what the edit did
(``core.spec.edit.diff_layers``) and reports it as a row insert, remove or move instead of
a reset, so views keep their selection and scroll position; then it emits
``layersEdited(LayerDiff)``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from PySide6.QtCore import (
    QAbstractListModel,
    QByteArray,
    QMimeData,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor

from core import NetworkSpec, Problem, analyze
from core.layers import format_shape
from core.registry import LAYER_TYPES
from core.spec.analysis import LayerInfo, SpecAnalysis
from core.spec.edit import default_layer, diff_layers, insert_layer, move_layer
from core.spec.model import LayerSpec
from nnstudio.state.document import Document

#: Drag payload of the layer palette: the layer type name (UTF-8).
LAYER_TYPE_MIME = "application/x-nnstudio-layer-type"
#: Drag payload of a row of the layer list: its 0-based row number (ASCII).
LAYER_ROW_MIME = "application/x-nnstudio-layer-row"

#: Tint of rows that make the stack invalid (also used by the editor's delegate).
PROBLEM_COLOR = QColor(200, 40, 40)

_ROLE = int(Qt.ItemDataRole.UserRole)


def caption(info: LayerInfo) -> str:
    """Type and key settings of a layer, e.g. "Dense 64", "Conv2D 8 3×3 same", "Activation relu"."""
    text = info.description
    first = text.split(" ", 1)[0]
    if first in (info.type, info.type.removesuffix("2D")):
        return text
    return f"{info.type} {text}"


def shape_text(shape: tuple[int, ...] | None) -> str:
    """``(8, 14, 14)``; ``?`` when an earlier problem leaves the shape unknown."""
    return "?" if shape is None else format_shape(shape)


class LayerListModel(QAbstractListModel):
    """Rows = ``document.spec.layers``. Custom roles give the analysis per row."""

    LayerTypeRole = _ROLE + 1
    CaptionRole = _ROLE + 2
    InputShapeRole = _ROLE + 3
    OutputShapeRole = _ROLE + 4  # tuple[int, ...] or None
    ParamCountRole = _ROLE + 5  # int
    MacsRole = _ROLE + 6  # int, multiply-adds per sample
    ProblemRole = _ROLE + 7  # the engine's sentence(s) for this row, "" when none
    FixRole = _ROLE + 8  # the engine's fix suggestion for this row's first problem, "" when none

    #: After every spec change, what happened to the rows (a ``core.spec.edit.LayerDiff``).
    layersEdited = Signal(object)

    def __init__(self, document: Document, parent: QObject | None = None):
        super().__init__(parent)
        self._document = document
        self._analysis: SpecAnalysis = analyze(document.spec)
        self._rows: list[_Row] = _rows(document.spec.layers, self._analysis)
        document.specChanged.connect(self._on_document_spec_changed)

    # -- read access ---------------------------------------------------------------------------
    @property
    def document(self) -> Document:
        return self._document

    @property
    def analysis(self) -> SpecAnalysis:
        """``core.analyze`` of the spec the rows show."""
        return self._analysis

    def layer(self, row: int) -> LayerSpec:
        return self._rows[row].layer

    def info(self, row: int) -> LayerInfo:
        return self._rows[row].info

    def problems(self, row: int) -> tuple[Problem, ...]:
        """Problems located at layer ``row`` (possibly several: a settings and a loss problem)."""
        return self._rows[row].problems

    # -- QAbstractItemModel ---------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def roleNames(self) -> dict[int, QByteArray]:
        names = dict(super().roleNames())
        for role, name in ((self.LayerTypeRole, b"layerType"), (self.CaptionRole, b"caption"),
                           (self.InputShapeRole, b"inputShape"), (self.OutputShapeRole, b"outputShape"),
                           (self.ParamCountRole, b"paramCount"), (self.MacsRole, b"macs"),
                           (self.ProblemRole, b"problem"), (self.FixRole, b"fix")):
            names[role] = QByteArray(name)
        return names

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.parent().isValid() or not 0 <= index.row() < len(self._rows):
            return None
        record = self._rows[index.row()]
        # The position shown is the one the record was made for: during a row insert/remove
        # the shifted rows keep their old text until the dataChanged that follows.
        row, info, problems = record.info.index, record.info, record.problems
        role = int(role)
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{row + 1}. {caption(info)} → {shape_text(info.output_shape)}, {info.param_count:,} params"
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [f"Layer {row + 1}: {caption(info)}",
                     f"{shape_text(info.input_shape)} → {shape_text(info.output_shape)}",
                     f"{info.param_count:,} parameters, {info.macs:,} multiply-adds per sample"]
            lines += [f"⚠ {p}" for p in problems]
            return "\n".join(lines)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            text = f"Layer {row + 1}, {caption(info)}, output {shape_text(info.output_shape)}"
            return text + (f", problem: {problems[0]}" if problems else "")
        if role == Qt.ItemDataRole.ForegroundRole:
            return PROBLEM_COLOR if problems else None
        if role == self.LayerTypeRole:
            return info.type
        if role == self.CaptionRole:
            return caption(info)
        if role == self.InputShapeRole:
            return info.input_shape
        if role == self.OutputShapeRole:
            return info.output_shape
        if role == self.ParamCountRole:
            return info.param_count
        if role == self.MacsRole:
            return info.macs
        if role == self.ProblemRole:
            return "\n".join(str(p) for p in problems)
        if role == self.FixRole:
            return (problems[0].fix or "") if problems else ""
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        # Training only switches drag and drop, which views ask for when a drag starts: no
        # dataChanged for it (the list would repaint every row twice as each run starts).
        editable = not self._document.training_active
        if not index.isValid():
            # Drops land between rows (on the root), never onto a layer.
            return Qt.ItemFlag.ItemIsDropEnabled if editable else Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
        if editable:
            flags |= Qt.ItemFlag.ItemIsDragEnabled
        return flags

    # -- drag and drop ----------------------------------------------------------------------------
    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction | Qt.DropAction.CopyAction

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def mimeTypes(self) -> list[str]:
        return [LAYER_ROW_MIME, LAYER_TYPE_MIME]

    def mimeData(self, indexes) -> QMimeData | None:
        rows = sorted({i.row() for i in indexes if i.isValid()})
        if len(rows) != 1:
            return None  # one layer at a time (the list is single-selection)
        mime = QMimeData()
        mime.setData(LAYER_ROW_MIME, QByteArray(str(rows[0]).encode("ascii")))
        # Plain text too: dropping a layer into a text editor gives its JSON.
        mime.setText(json.dumps(self._rows[rows[0]].layer.to_dict()))
        return mime

    def canDropMimeData(self, data: QMimeData, action: Qt.DropAction, row: int, column: int,
                        parent: QModelIndex | QPersistentModelIndex) -> bool:
        if self._document.training_active or data is None or parent.isValid():
            return False
        if data.hasFormat(LAYER_ROW_MIME):
            return self._dragged_row(data) is not None
        if data.hasFormat(LAYER_TYPE_MIME):
            return self._dropped_type(data) is not None
        return False

    def dropMimeData(self, data: QMimeData, action: Qt.DropAction, row: int, column: int,
                     parent: QModelIndex | QPersistentModelIndex) -> bool:
        """A row dragged inside the list moves that layer; a type from the palette adds a
        default layer of that type. ``row`` is the gap to drop into (-1: the end)."""
        if action == Qt.DropAction.IgnoreAction:
            return True
        if not self.canDropMimeData(data, action, row, column, parent):
            return False
        target = len(self._rows) if row < 0 else min(row, len(self._rows))
        if data.hasFormat(LAYER_ROW_MIME):
            return self.moveRows(QModelIndex(), self._dragged_row(data), 1, QModelIndex(), target)
        type_name = self._dropped_type(data)
        self._document.change(f"Add {type_name}", spec=insert_layer(self._document.spec, target,
                                                                     default_layer(type_name)))
        return True

    def _dragged_row(self, data: QMimeData) -> int | None:
        try:
            row = int(bytes(data.data(LAYER_ROW_MIME)).decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            return None
        return row if 0 <= row < len(self._rows) else None

    @staticmethod
    def _dropped_type(data: QMimeData) -> str | None:
        try:
            name = bytes(data.data(LAYER_TYPE_MIME)).decode("utf-8")
        except UnicodeDecodeError:
            return None
        return name if name in LAYER_TYPES else None

    def moveRows(self, sourceParent, sourceRow: int, count: int,
                 destinationParent, destinationChild: int) -> bool:
        """Move one layer so it lands before old row ``destinationChild`` (Qt's convention;
        ``rowCount()`` = to the end), as one undoable "Move layer n to position m"."""
        if (count != 1 or sourceParent.isValid() or destinationParent.isValid() or self._document.training_active
                or not 0 <= sourceRow < len(self._rows) or not 0 <= destinationChild <= len(self._rows)):
            return False
        # Qt counts the destination before removing the source; core counts the final position.
        to = destinationChild - 1 if destinationChild > sourceRow else destinationChild
        if to == sourceRow:
            return True  # dropped onto its own gap: nothing to do, but not a failure
        direction = "up" if to < sourceRow else "down"
        text = (f"Move layer {sourceRow + 1} {direction}" if abs(to - sourceRow) == 1
                else f"Move layer {sourceRow + 1} to position {to + 1}")
        self._document.change(text, spec=move_layer(self._document.spec, sourceRow, to))
        return True

    # -- following the document ---------------------------------------------------------------------
    def _on_document_spec_changed(self) -> None:
        spec: NetworkSpec = self._document.spec
        old_layers = tuple(r.layer for r in self._rows)
        diff = diff_layers(old_layers, spec.layers)
        analysis = analyze(spec)
        fresh = _rows(spec.layers, analysis)
        # Two phases, as views (and QAbstractItemModelTester) expect: first the structural
        # change, in which the rows that merely shift keep their old records; then every row
        # gets its new record (positions, and shapes downstream of the edit) by dataChanged.
        if diff.kind == "insert":
            self.beginInsertRows(QModelIndex(), diff.index, diff.index)
            self._rows.insert(diff.index, fresh[diff.index])
            self.endInsertRows()
        elif diff.kind == "remove":
            self.beginRemoveRows(QModelIndex(), diff.index, diff.index)
            del self._rows[diff.index]
            self.endRemoveRows()
        elif diff.kind == "move":
            destination = diff.to + 1 if diff.to > diff.index else diff.to
            self.beginMoveRows(QModelIndex(), diff.index, diff.index, QModelIndex(), destination)
            self._rows.insert(diff.to, self._rows.pop(diff.index))
            self.endMoveRows()
        elif diff.kind == "replace":
            self.beginResetModel()
            self._rows = list(fresh)
            self._analysis = analysis
            self.endResetModel()
        self._rows = fresh
        self._analysis = analysis
        if fresh:
            self.dataChanged.emit(self.index(0), self.index(len(fresh) - 1))
        self.layersEdited.emit(diff)


@dataclass(frozen=True)
class _Row:
    """What one row shows: the layer, its analysis and the problems located at it."""

    layer: LayerSpec
    info: LayerInfo
    problems: tuple[Problem, ...]


def _rows(layers: tuple[LayerSpec, ...], analysis: SpecAnalysis) -> list[_Row]:
    located: dict[int, tuple[Problem, ...]] = {}
    for problem in analysis.problems:
        if problem.layer_index is not None:
            located[problem.layer_index] = (*located.get(problem.layer_index, ()), problem)
    return [_Row(layer, info, located.get(i, ()))
            for i, (layer, info) in enumerate(zip(layers, analysis.layers, strict=False))]
