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
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QSizePolicy, QStyle, QTableView, QWidget

from core.analysis.evaluation import normalize_rows
from core.analysis.visuals import colormap
from nnstudio.models.item_cells import reset_table, set_cell, set_headers
from nnstudio.theme import is_dark, is_palette_event

#: Preferred cell side up to 12 classes; the Evaluate tab fits cells between the minimum
#: (24 px: a count stays legible) and the maximum (larger only wastes room).
CELL_SIZE = 36
MIN_CELL_SIZE = 24
MAX_CELL_SIZE = 56
#: Room around a cell's text beyond the style's item margins (pixels, both sides together).
CELL_MARGIN = 2
#: The cell font shrinks (for 4-digit counts in small cells) down to this, never below:
#: cells are never made smaller than this font needs.
MIN_POINT_SIZE = 6.0
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
        self._cell_font = QFont(self.font())
        self._bold_diagonal = True
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
        # Always exactly the matrix's size (``set_cell_size``): no scroll bars of its own.
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setToolTip("Rows: true class. Columns: predicted class. Click a cell to see its samples.")
        self.selectionModel().currentChanged.connect(self._on_selection_current_changed)
        self.set_cell_size(CELL_SIZE)

    # -- content ----------------------------------------------------------------------------------
    def set_matrix(self, counts: np.ndarray | None, class_names: tuple[str, ...] = ()) -> None:
        """Show a (k, k) count matrix (None clears); cells shrink for many classes."""
        if counts is None:
            self._counts = np.zeros((0, 0), dtype=np.int64)
            self._fractions = np.zeros((0, 0))
            reset_table(self.matrix_model, 0, 0)
            self.set_cell_size(self.cell_size())
            return
        self._counts = np.asarray(counts)
        self._fractions = normalize_rows(self._counts)
        names = [str(n) for n in class_names]
        k = len(names)
        reset_table(self.matrix_model, k, k)
        for r in range(k):
            for c in range(k):
                count = int(self._counts[r, c])
                verdict = "correct" if r == c else "mistakes"
                roles = dict(user=count, alignment=Qt.AlignmentFlag.AlignCenter,
                             tooltip=f"True {names[r]}, predicted {names[c]}: {count} sample{'s' * (count != 1)} "
                                     f"({self._fractions[r, c]:.1%} of true {names[r]}; {verdict}). "
                                     "Click to see them.")
                set_cell(self.matrix_model, r, c, None, **roles)
        self._color_cells()
        set_headers(self.matrix_model, Qt.Orientation.Horizontal, names, [f"Predicted class {n}" for n in names])
        set_headers(self.matrix_model, Qt.Orientation.Vertical, names, [f"True class {n}" for n in names])
        self._write_texts()
        # The whole matrix at once at the preferred size; the Evaluate tab then fits the
        # cells to the room it has (``set_cell_size``), never below ``min_cell_size()``.
        self.set_cell_size(self.preferred_cell_size())

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

    def changeEvent(self, event: QEvent) -> None:
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
    def cell_size(self) -> int:
        """Side of one cell in pixels."""
        return self.horizontalHeader().defaultSectionSize()

    def preferred_cell_size(self) -> int:
        """The cell side a matrix of this many classes looks best at (36 px up to 12 classes)."""
        k = self.matrix_model.rowCount()
        return CELL_SIZE if k <= 12 else max(MIN_CELL_SIZE, 504 // max(k, 1))

    def min_cell_size(self) -> int:
        """The smallest cell side still readable: 24 px for up to 12 classes (less for more),
        and never less than the largest count needs at the smallest cell font."""
        k = self.matrix_model.rowCount()
        base = MIN_CELL_SIZE if k <= 12 else max(14, 288 // k)
        font = QFont(self.font())
        font.setPointSizeF(MIN_POINT_SIZE)
        return max(base, QFontMetrics(font).horizontalAdvance(self._widest_text()) + self._text_margin())

    def cell_size_to_fit(self, width: int, height: int) -> int:
        """The cell side that shows the whole matrix in ``width`` × ``height`` pixels,
        clamped to [``min_cell_size()``, ``MAX_CELL_SIZE``]."""
        k = max(self.matrix_model.rowCount(), 1)
        extra = self.full_size(0)
        fit = min((width - extra.width()) // k, (height - extra.height()) // k)
        return int(min(max(fit, self.min_cell_size()), MAX_CELL_SIZE))

    def set_cell_size(self, size: int) -> None:
        """Make every cell ``size`` pixels square; the view takes exactly the matrix's size
        and the cell font shrinks so the largest count still shows whole."""
        size = int(size)
        for header in (self.horizontalHeader(), self.verticalHeader()):
            header.setMinimumSectionSize(min(size, 18))
            header.setDefaultSectionSize(size)
        self._fit_font(size)
        self.setFixedSize(self.full_size())
        self.updateGeometry()

    def cell_font(self, diagonal: bool = False) -> QFont:
        """The font the cells are drawn in (bold on the diagonal when the cells have room)."""
        font = QFont(self._cell_font)
        font.setBold(diagonal and self._bold_diagonal)
        return font

    def _widest_text(self) -> str:
        """The longest text a cell may show (a count, or a row percentage up to "100")."""
        return max([str(int(v)) for v in self._counts.ravel()] + ["100"], key=len)

    def _fit_font(self, size: int) -> None:
        """The largest cell font (the view's own at most, ``MIN_POINT_SIZE`` at least) in which
        the widest text fits a ``size``-pixel cell; bold on the diagonal only if that fits too."""
        widest, room = self._widest_text(), size - self._text_margin()
        font = QFont(self.font())
        while font.pointSizeF() > MIN_POINT_SIZE and QFontMetrics(font).horizontalAdvance(widest) > room:
            font.setPointSizeF(max(font.pointSizeF() - 0.5, MIN_POINT_SIZE))
        bold = QFont(font)
        bold.setBold(True)
        self._bold_diagonal = QFontMetrics(bold).horizontalAdvance(widest) <= room
        self._cell_font = font
        k = self.matrix_model.rowCount()
        plain, diagonal = self.cell_font(False), self.cell_font(True)
        for r in range(k):
            for c in range(k):
                set_cell(self.matrix_model, r, c, None, font=diagonal if r == c else plain)

    def _text_margin(self) -> int:
        """Pixels of a cell its text cannot use: the item's focus-frame margins and the grid line."""
        frame = self.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, self)
        return 2 * (frame + 1) + CELL_MARGIN

    def full_size(self, cell: int | None = None) -> QSize:
        """The size showing every cell without scroll bars (``cell``: at that cell side,
        default the current one; 0 gives the headers and frame alone)."""
        k = self.matrix_model.rowCount()
        size = self.cell_size() if cell is None else cell
        frame = 2 * self.frameWidth() + 2
        return QSize(self.verticalHeader().sizeHint().width() + k * size + frame,
                     self.horizontalHeader().sizeHint().height() + k * size + frame)

    def cell_center(self, true: int, predicted: int) -> QPoint:
        """Viewport position of a cell's centre (for tests and automation)."""
        return self.visualRect(self.matrix_model.index(true, predicted)).center()

    def _on_selection_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.cellChosen.emit(current.row(), current.column())
