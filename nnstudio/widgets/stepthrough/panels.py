"""Clickable pictures of numbers: a grid of coloured cells and a set of bars.

Both paint what ``core.analysis.trace_views`` made (``GridPanel`` / ``BarsPanel``) and emit
``numberClicked(layer, quantity, index)`` when a number is clicked; neither computes
anything. Positions are exposed (``point_of``) so tests can click a given number with a
real mouse event.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QMouseEvent, QPainter, QPalette, QPen
from PySide6.QtWidgets import QFrame, QLabel, QSizePolicy, QToolTip, QVBoxLayout, QWidget

from core.analysis.trace_views import BarsPanel, GridPanel, index_text, number_text

#: Colours of positive and negative bars, and of a bar's target marker.
POSITIVE, NEGATIVE = QColor(214, 96, 77), QColor(67, 147, 195)
#: Grid cells at least this wide (px) show their number; bars get theirs up to this many bars.
NUMBER_CELL = 34
#: The frame around a clicked pixel's input window (visible on both colour maps).
OUTLINE = QColor(255, 160, 0)
NUMBERED_BARS = 16


def _qimage(rgb: np.ndarray) -> QImage:
    a = np.ascontiguousarray(rgb, dtype=np.uint8)
    return QImage(a.data, a.shape[1], a.shape[0], a.strides[0], QImage.Format.Format_RGB888).copy()


class GridView(QWidget):
    """A ``GridPanel`` painted with square, sharp cells; the picked cell is outlined."""

    numberClicked = Signal(int, str, object)

    def __init__(self, panel: GridPanel, parent: QWidget | None = None, max_cell: int = 56, min_cell: int = 2):
        super().__init__(parent)
        self.panel = panel
        self._image = _qimage(panel.rgb)
        self._max_cell = max_cell
        self._min_cell = min_cell
        self._selected: tuple[int, int] | None = None
        #: Framed rectangles (row, col, rows, cols) in pixels of the picture: a window's reach.
        self.outlines: list[tuple[int, int, int, int]] = []
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        if panel.quantity is not None:
            self.setCursor(Qt.CursorShape.PointingHandCursor)

    def _cell(self, width: int, height: int) -> float:
        h, w = self.panel.rgb.shape[:2]
        return max(min(width / w, height / h, self._max_cell), 0.5)

    def sizeHint(self) -> QSize:
        h, w = self.panel.rgb.shape[:2]
        cell = max(self._min_cell, min(self._max_cell, 260 / max(w, h)))
        return QSize(int(w * cell), int(h * cell))

    def minimumSizeHint(self) -> QSize:
        h, w = self.panel.rgb.shape[:2]
        cell = max(1.0, min(self._max_cell, 90 / max(w, h)))
        return QSize(int(w * cell), int(h * cell))

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        h, w = self.panel.rgb.shape[:2]
        return int(h * min(width / w, self._max_cell))

    def target_rect(self) -> QRectF:
        h, w = self.panel.rgb.shape[:2]
        cell = self._cell(self.width(), self.height())
        tw, th = w * cell, h * cell
        return QRectF((self.width() - tw) / 2, (self.height() - th) / 2, tw, th)

    def point_of(self, index: tuple[int, ...]) -> QPoint:
        """The widget position of the cell showing ``index`` (its centre)."""
        pixel = self.panel.pixel_of(index)
        if pixel is None:
            raise KeyError(f"{index} is not drawn in {self.panel.title}")
        rect = self.target_rect()
        cell = rect.width() / self.panel.rgb.shape[1]
        return QPoint(int(rect.left() + (pixel[1] + 0.5) * cell), int(rect.top() + (pixel[0] + 0.5) * cell))

    def _pixel_at(self, pos: QPoint) -> tuple[int, int] | None:
        rect = self.target_rect()
        if not rect.contains(pos.toPointF()):
            return None
        cell = rect.width() / self.panel.rgb.shape[1]
        return int((pos.y() - rect.top()) // cell), int((pos.x() - rect.left()) // cell)

    def select(self, index: tuple[int, ...] | None) -> None:
        self._selected = self.panel.pixel_of(index) if index is not None else None
        self.update()

    def outline_window(self, channels: tuple[int, ...], origin: tuple[int, int], size: tuple[int, int]) -> None:
        """Frame the part of feature maps (C, H, W) a window covers (the part inside the maps:
        a window reaching into the padding is cut at the edge); empty ``channels`` clears."""
        values = self.panel.values
        self.outlines = []
        if values.ndim == 3:
            _c, h, w = values.shape
            top, left = max(origin[0], 0), max(origin[1], 0)
            bottom, right = min(origin[0] + size[0], h) - 1, min(origin[1] + size[1], w) - 1
            for c in channels:
                first, last = self.panel.pixel_of((c, top, left)), self.panel.pixel_of((c, bottom, right))
                if first is not None and last is not None and bottom >= top and right >= left:
                    self.outlines.append((first[0], first[1], last[0] - first[0] + 1, last[1] - first[1] + 1))
        self.update()

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        rect = self.target_rect()
        painter.drawImage(rect, self._image)
        cell = rect.width() / self.panel.rgb.shape[1]
        if cell >= NUMBER_CELL:
            self._paint_numbers(painter, rect, cell)
        if self.outlines:
            painter.setPen(QPen(OUTLINE, 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            for r, c, rows, cols in self.outlines:
                painter.drawRect(QRectF(rect.left() + c * cell, rect.top() + r * cell, cols * cell, rows * cell))
        if self._selected is not None:
            r, c = self._selected
            painter.setPen(QPen(self.palette().color(QPalette.ColorRole.Highlight), 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(QRectF(rect.left() + c * cell - 1, rect.top() + r * cell - 1, cell + 2, cell + 2))

    def _paint_numbers(self, painter: QPainter, rect: QRectF, cell: float) -> None:
        """Cells big enough to read get their number written in them (small layers: XOR)."""
        panel = self.panel
        font = QFont(self.font())
        font.setPixelSize(max(min(int(cell / 4.6), 14), 8))
        painter.setFont(font)
        rows, cols = np.nonzero(panel.index[..., 0] >= 0)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            index = panel.pick_at(r, c)
            value = float(panel.values[index]) if index else float(panel.values)
            red, green, blue = (int(v) for v in panel.rgb[r, c])
            light = 0.299 * red + 0.587 * green + 0.114 * blue > 140
            painter.setPen(QColor(0, 0, 0) if light else QColor(255, 255, 255))
            painter.drawText(QRectF(rect.left() + c * cell, rect.top() + r * cell, cell, cell),
                             Qt.AlignmentFlag.AlignCenter, f"{value:.3g}".replace("-", "−"))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pixel = self._pixel_at(event.position().toPoint())
        index = self.panel.pick_at(*pixel) if pixel is not None else None
        if index is not None:
            value = self.panel.values[index] if index else self.panel.values
            QToolTip.showText(event.globalPosition().toPoint(), f"[{index_text(index)}] = {number_text(float(value))}",
                              self)
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.panel.quantity is not None:
            pixel = self._pixel_at(event.position().toPoint())
            index = self.panel.pick_at(*pixel) if pixel is not None else None
            if index is not None:
                self._selected = pixel
                self.update()
                self.numberClicked.emit(self.panel.layer, self.panel.quantity, index)
        super().mouseReleaseEvent(event)


class BarsView(QWidget):
    """A ``BarsPanel``: one bar per value around a zero line, labels under them, the target
    as an outline (loss stage), and the histogram of all values when summarised."""

    numberClicked = Signal(int, str, object)

    BAR_AREA = 96
    LABEL_HEIGHT = 16
    HISTOGRAM_HEIGHT = 30

    def __init__(self, panel: BarsPanel, parent: QWidget | None = None):
        super().__init__(parent)
        self.panel = panel
        self._selected: int | None = None
        self.setMouseTracking(True)
        font = QFont(self.font())
        font.setPointSizeF(max(font.pointSizeF() * 0.85, 7.0))
        self._small = font
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(self._height())
        if panel.quantity is not None:
            self.setCursor(Qt.CursorShape.PointingHandCursor)

    def _height(self) -> int:
        extra = self.HISTOGRAM_HEIGHT + 6 if self.panel.histogram is not None else 0
        return self.BAR_AREA + self.LABEL_HEIGHT + extra

    def sizeHint(self) -> QSize:
        return QSize(max(120, 22 * len(self.panel.values)), self._height())

    def minimumSizeHint(self) -> QSize:
        return QSize(min(120, 8 * len(self.panel.values)), self._height())

    def _slot(self, i: int) -> QRectF:
        n = max(len(self.panel.values), 1)
        width = self.width() / n
        return QRectF(i * width, 0, width, self.BAR_AREA + self.LABEL_HEIGHT)

    def point_of(self, index: tuple[int, ...]) -> QPoint:
        """The widget position of the bar showing ``index``."""
        i = self.panel.indices.index(tuple(index))
        slot = self._slot(i)
        return QPoint(int(slot.center().x()), int(self.BAR_AREA / 2))

    def select(self, index: tuple[int, ...] | None) -> None:
        self._selected = self.panel.indices.index(tuple(index)) if index in self.panel.indices else None
        self.update()

    def _scale(self) -> tuple[float, float]:
        values = self.panel.values
        targets = self.panel.targets
        top = float(np.nanmax(np.abs(values))) if values.size else 0.0
        if targets is not None and targets.size:
            top = max(top, float(np.nanmax(np.abs(targets))))
        negative = bool(values.size and np.nanmin(values) < 0) or bool(targets is not None and np.any(targets < 0))
        room = 15 if len(values) <= NUMBERED_BARS else 4  # space for the numbers at the bars' ends
        zero = self.BAR_AREA / 2 if negative else self.BAR_AREA - 2
        span = (self.BAR_AREA / 2 - room) if negative else self.BAR_AREA - 2 - room
        return zero, (span / top if top > 0 else 0.0)

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.WindowText)
        zero, scale = self._scale()
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1))
        painter.drawLine(0, int(zero), self.width(), int(zero))
        painter.setFont(self._small)
        for i, value in enumerate(self.panel.values):
            slot = self._slot(i)
            bar_w = max(min(slot.width() * 0.7, 36), 2)
            x = slot.center().x() - bar_w / 2
            length = float(value) * scale if np.isfinite(value) else 0.0
            rect = QRectF(x, zero - max(length, 0), bar_w, abs(length))
            painter.fillRect(rect, POSITIVE if value >= 0 else NEGATIVE)
            if self.panel.targets is not None:
                t = float(self.panel.targets[i]) * scale
                painter.setPen(QPen(text, 1, Qt.PenStyle.DashLine))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(QRectF(x - 2, zero - max(t, 0), bar_w + 4, abs(t)))
            if i == self._selected:
                painter.setPen(QPen(palette.color(QPalette.ColorRole.Highlight), 2))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(QRectF(slot.left() + 1, 1, slot.width() - 2, self.BAR_AREA + self.LABEL_HEIGHT - 2))
            painter.setPen(text)
            painter.drawText(QRectF(slot.left(), self.BAR_AREA, slot.width(), self.LABEL_HEIGHT),
                             Qt.AlignmentFlag.AlignCenter, self.panel.labels[i])
            if len(self.panel.values) <= NUMBERED_BARS and slot.width() >= 44:
                # The value beside the bar's end, on the side away from the zero line.
                up = value >= 0
                y = zero - max(length, 0) - 14 if up else zero + abs(length) + 1
                y = min(max(y, 0), self.BAR_AREA - 14)
                painter.drawText(QRectF(slot.left(), y, slot.width(), 14), Qt.AlignmentFlag.AlignCenter,
                                 number_text(float(value)))
        if self.panel.histogram is not None:
            self._paint_histogram(painter)

    def _paint_histogram(self, painter: QPainter) -> None:
        counts, _edges = self.panel.histogram  # type: ignore[misc]
        top = self.BAR_AREA + self.LABEL_HEIGHT + 6
        height = self.HISTOGRAM_HEIGHT
        peak = max(int(counts.max()), 1)
        width = self.width() / len(counts)
        colour = self.palette().color(QPalette.ColorRole.Mid)
        for i, count in enumerate(counts):
            h = height * int(count) / peak
            painter.fillRect(QRectF(i * width + 1, top + height - h, width - 2, h), colour)

    def _bar_at(self, pos: QPoint) -> int | None:
        if pos.y() > self.BAR_AREA + self.LABEL_HEIGHT or not self.panel.values.size:
            return None
        i = int(pos.x() // (self.width() / len(self.panel.values)))
        return i if 0 <= i < len(self.panel.values) else None

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        i = self._bar_at(event.position().toPoint())
        if i is not None:
            QToolTip.showText(event.globalPosition().toPoint(),
                              f"[{index_text(self.panel.indices[i])}] = {number_text(float(self.panel.values[i]))}",
                              self)
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.panel.quantity is not None:
            i = self._bar_at(event.position().toPoint())
            if i is not None:
                self._selected = i
                self.update()
                self.numberClicked.emit(self.panel.layer, self.panel.quantity, self.panel.indices[i])
        super().mouseReleaseEvent(event)


class PanelBox(QFrame):
    """A titled frame around one panel's view, with its caption underneath."""

    def __init__(self, panel: GridPanel | BarsPanel, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("stepPanel")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(4)
        title = QLabel(panel.title)
        bold = QFont(title.font())
        bold.setBold(True)
        title.setFont(bold)
        title.setWordWrap(True)
        layout.addWidget(title)
        self.view: GridView | BarsView = GridView(panel) if isinstance(panel, GridPanel) else BarsView(panel)
        layout.addWidget(self.view, 1)
        caption = QLabel(panel.caption)
        caption.setWordWrap(True)
        caption.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        layout.addWidget(caption)
        self.panel = panel


def panel_rect_in(view: QWidget, ancestor: QWidget) -> QRect:
    """``view``'s rectangle in ``ancestor``'s coordinates (tests, scrolling into view)."""
    return QRect(view.mapTo(ancestor, QPoint(0, 0)), view.size())
