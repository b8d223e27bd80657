"""Confusion-matrix heatmap: a table of counts (or row percentages) coloured by row fraction.

Rows are true classes, columns predicted classes, labelled by class name on both headers.
Clicking a cell (or moving to it with the keyboard) emits ``cellChosen(true, predicted)``.
Counts, fractions and colours come from core; the view only fills a ``QStandardItemModel``
through indexes (a C++ model: no Python callbacks while Qt paints, no Python item objects,
see ``eval_cells``; cell texts stay accessible).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QModelIndex, QPoint, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QPalette, QStandardItemModel
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QSizePolicy, QTableView, QWidget

from core.evaluation import normalize_rows
from core.inspect import colormap

from ..theme import is_dark, is_palette_event
from .eval_cells import reset_table, set_cell, set_headers

CELL_SIZE = 36
COUNT_ROLE = Qt.ItemDataRole.UserRole


class ConfusionMatrixView(QTableView):
    """The heatmap (objectName ``confusionMatrix``). ``cellChosen(true, predicted)``.

    ``Qt.UserRole`` of each cell holds its count (int).
    """

    cellChosen = Signal(int, int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("confusionMatrix")
        self.setAccessibleName("Confusion matrix")
        self.matrix_model = QStandardItemModel(self)
        self.setModel(self.matrix_model)
        self._counts = np.zeros((0, 0), dtype=np.int64)
        self._fractions = np.zeros((0, 0))
        self._normalized = False
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setCornerButtonEnabled(False)
        self.setWordWrap(False)
        for header in (self.horizontalHeader(), self.verticalHeader()):
            header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
            header.setDefaultSectionSize(CELL_SIZE)
            header.setMinimumSectionSize(18)
            header.setDefaultAlignment(Qt.AlignmentFlag.AlignCenter)
        # The chosen cell: a translucent orange over its heat colour (an opaque selection
        # colour would hide the count's shade), black text.
        palette = self.palette()
        for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
            palette.setColor(group, QPalette.ColorRole.Highlight, QColor(230, 85, 13, 120))
            palette.setColor(group, QPalette.ColorRole.HighlightedText, QColor("black"))
        self.setPalette(palette)
        self.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Minimum)
        self.setToolTip("Rows: true class. Columns: predicted class. Click a cell to see its samples.")
        self.selectionModel().currentChanged.connect(self._on_selection_current_changed)

    # -- content ----------------------------------------------------------------------------------
    def set_matrix(self, counts: np.ndarray | None, class_names: tuple[str, ...] = ()) -> None:
        """Show a (k, k) count matrix (None clears); cells shrink for many classes."""
        if counts is None:
            self._counts = np.zeros((0, 0), dtype=np.int64)
            self._fractions = np.zeros((0, 0))
            reset_table(self.matrix_model, 0, 0)
            return
        self._counts = np.asarray(counts)
        self._fractions = normalize_rows(self._counts)
        names = [str(n) for n in class_names]
        k = len(names)
        reset_table(self.matrix_model, k, k)
        bold = QFont()
        bold.setBold(True)
        for r in range(k):
            for c in range(k):
                count = int(self._counts[r, c])
                verdict = "correct" if r == c else "mistakes"
                roles = dict(user=count, alignment=Qt.AlignmentFlag.AlignCenter,
                             tooltip=f"True {names[r]}, predicted {names[c]}: {count} sample{'s' * (count != 1)} "
                                     f"({self._fractions[r, c]:.1%} of true {names[r]}; {verdict}). "
                                     "Click to see them.")
                if r == c:
                    roles["font"] = bold
                set_cell(self.matrix_model, r, c, None, **roles)
        self._color_cells()
        set_headers(self.matrix_model, Qt.Orientation.Horizontal, names, [f"Predicted class {n}" for n in names])
        set_headers(self.matrix_model, Qt.Orientation.Vertical, names, [f"True class {n}" for n in names])
        self._write_texts()
        size = CELL_SIZE if k <= 12 else max(22, 504 // max(k, 1))
        # Wide enough for the largest count in bold (MNIST's diagonal holds 4-digit counts).
        widest = str(int(self._counts.max())) if self._counts.size else "0"
        size = max(size, QFontMetrics(bold).horizontalAdvance(widest) + 10)
        self.horizontalHeader().setDefaultSectionSize(size)
        self.verticalHeader().setDefaultSectionSize(size)
        # The whole matrix at once when it fits a screen (no scrolling to find the mistakes).
        full = self.full_size()
        self.setMinimumSize(min(full.width(), 620), min(full.height(), 620))
        self.updateGeometry()

    def _color_cells(self) -> None:
        """Heat colours by row fraction in both display modes (a rare class's errors show as
        clearly as a common one's). Light theme: white (0) to dark blue (1). Dark theme: the
        same map reversed, so the diagonal glows and empty cells stay dark. Text is white on
        the darker half of the map, black on the lighter."""
        shade = 1 - self._fractions if is_dark(self.palette()) else self._fractions
        colors = colormap(shade, "blues")
        white, black = QBrush(QColor("white")), QBrush(QColor("black"))
        k = self._counts.shape[0]
        for r in range(k):
            for c in range(k):
                set_cell(self.matrix_model, r, c, None, background=QBrush(QColor(*(int(v) for v in colors[r, c]))),
                         foreground=white if shade[r, c] > 0.5 else black)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        super().changeEvent(event)
        if is_palette_event(event) and "matrix_model" in self.__dict__:
            self._color_cells()

    def set_normalized(self, normalized: bool) -> None:
        """Counts (False) or whole row percentages (True) in the cells."""
        self._normalized = bool(normalized)
        self._write_texts()

    @property
    def normalized(self) -> bool:
        return self._normalized

    def _write_texts(self) -> None:
        k = self._counts.shape[0]
        for r in range(k):
            for c in range(k):
                count = int(self._counts[r, c])
                if self._normalized:  # whole percentages fit a cell; "<1" keeps rare mistakes visible
                    percent = round(float(self._fractions[r, c]) * 100)
                    text = "<1" if count and percent == 0 else str(percent)
                else:
                    text = str(count)
                set_cell(self.matrix_model, r, c, text)

    # -- geometry ---------------------------------------------------------------------------------
    def full_size(self) -> QSize:
        """The size showing every cell without scroll bars."""
        k = self.matrix_model.rowCount()
        size = self.horizontalHeader().defaultSectionSize()
        frame = 2 * self.frameWidth() + 2
        return QSize(self.verticalHeader().sizeHint().width() + k * size + frame,
                     self.horizontalHeader().sizeHint().height() + k * size + frame)

    def cell_center(self, true: int, predicted: int) -> QPoint:
        """Viewport position of a cell's centre (for tests and automation)."""
        return self.visualRect(self.matrix_model.index(true, predicted)).center()

    def _on_selection_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.cellChosen.emit(current.row(), current.column())
