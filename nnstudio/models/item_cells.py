"""Fill a ``QStandardItemModel`` through indexes only, never through Python item objects.

Why: a ``QStandardItem`` / ``QTableWidgetItem`` / ``QListWidgetItem`` made in Python is
handed to its C++ model, which deletes it on ``clear()`` or when a cell is replaced, without
PySide hearing of it; the stale Python wrapper stays registered under that address and the
next C++ object allocated there can come back from PySide with the wrong wrapper. This was
seen in the tests (``selectionModel()`` returning a ``QStandardItem``), alongside random
crashes while painting item views. Writing roles with ``model.setData(index, ...)`` lets
the C++ model create and delete its items itself, with no Python wrappers involved.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QStandardItemModel

Role = Qt.ItemDataRole


def set_cell(model: QStandardItemModel, row: int, column: int, text: str | None = None,
             **roles: Any) -> None:
    """Write a cell: ``text`` (DisplayRole) and any roles by keyword: ``tooltip``,
    ``background``, ``foreground``, ``font``, ``alignment``, ``decoration``, ``accessible``,
    ``user`` (UserRole), ``user1`` (UserRole + 1). The cell must exist (set row/column
    counts first)."""
    index = model.index(row, column)
    if text is not None:
        model.setData(index, text, Role.DisplayRole)
    names = {"tooltip": Role.ToolTipRole, "background": Role.BackgroundRole, "foreground": Role.ForegroundRole,
             "font": Role.FontRole, "decoration": Role.DecorationRole, "accessible": Role.AccessibleTextRole,
             "user": Role.UserRole}
    for name, value in roles.items():
        if name == "alignment":
            model.setData(index, int(value), Role.TextAlignmentRole)
        elif name == "user1":
            model.setData(index, value, Role.UserRole + 1)
        else:
            model.setData(index, value, names[name])


def reset_table(model: QStandardItemModel, rows: int, columns: int) -> None:
    """Empty the model (C++ deletes its own items) and size it to rows × columns."""
    model.setRowCount(0)
    model.setRowCount(rows)
    model.setColumnCount(columns)


def set_headers(model: QStandardItemModel, orientation: Qt.Orientation, labels: list[str],
                tooltips: list[str] | None = None) -> None:
    """Header texts (and tooltips) through ``setHeaderData``: no header item objects."""
    for i, label in enumerate(labels):
        model.setHeaderData(i, orientation, label, Role.DisplayRole)
        if tooltips is not None:
            model.setHeaderData(i, orientation, tooltips[i], Role.ToolTipRole)
