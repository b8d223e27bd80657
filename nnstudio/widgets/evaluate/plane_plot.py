"""A small painted plot of the input plane: a background image, scatter points, axes, legend.

Why not pyqtgraph here: this view only needs one image and a few hundred markers, and
painting them with QPainter is cheap (a few ms) and simple. Its QGraphicsView-based
pyqtgraph version crashed the test process now and then inside ``QGraphicsView::paintEvent``
(``QPainter::restore``) under PySide6 6.11; this widget has no scene graph to get wrong.

Equal units on both axes (a circle stays round); tick positions come from
``core.analysis.visuals.nice_ticks``; all colours and values arrive ready to draw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QImage, QPainter, QPen, QPolygonF, QTransform
from PySide6.QtWidgets import QSizePolicy, QWidget

from core.analysis.visuals import nice_ticks, thin_indices
from nnstudio.theme import is_dark, is_palette_event, plot_colors
from nnstudio.widgets.evaluate.image_grid import qimage_from_array

MARGIN_LEFT, MARGIN_BOTTOM, MARGIN_TOP, MARGIN_RIGHT = 52, 40, 10, 14


#: Opacity of the background image (e.g. decision regions) on a dark theme.
DARK_IMAGE_OPACITY = 0.45
#: At most this many markers per point set are drawn (evenly thinned beyond): painting
#: stays a few milliseconds even for a generated set of a million points.
MAX_MARKERS = 4000


@dataclass(frozen=True)
class PointSet:
    """Markers of one kind: points (n, 2) in plane units, an RGB colour, "circle" or
    "square", and a diameter in pixels."""

    points: np.ndarray
    color: tuple[int, int, int]
    symbol: str = "circle"
    size: float = 10.0


class PlanePlot(QWidget):
    """Draws ``bounds`` (x_min, x_max, y_min, y_max) with an optional background image
    (rows = y from bottom to top, columns = x; each pixel centred on a grid point), point
    sets on top, tick labels and a legend of (name, colour)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(260, 220)
        self.bounds: tuple[float, float, float, float] = (0.0, 1.0, 0.0, 1.0)
        self._image: QImage | None = None
        self._image_shape: tuple[int, int] = (0, 0)
        self._points: list[PointSet] = []
        self._polygons: list[QPolygonF] = []  # the same points, ready for one drawPoints call each
        self._legend: list[tuple[str, tuple[int, int, int]]] = []
        self.x_label = "input 1"
        self.y_label = "input 2"

    def sizeHint(self) -> QSize:
        return QSize(560, 480)

    # -- content -------------------------------------------------------------------------------
    def set_bounds(self, bounds: tuple[float, float, float, float]) -> None:
        self.bounds = tuple(float(b) for b in bounds)  # type: ignore[assignment]
        self.update()

    def set_image(self, rgb: np.ndarray | None) -> None:
        """uint8 (rows, cols, 3), row 0 at y_min (bottom); None clears."""
        if rgb is None:
            self._image = None
            self._image_shape = (0, 0)
        else:
            # QImage rows run top to bottom: reverse the rows so y grows upwards.
            self._image = qimage_from_array(np.ascontiguousarray(rgb[::-1]))
            self._image_shape = rgb.shape[:2]
        self.update()

    def set_points(self, point_sets: list[PointSet]) -> None:
        self._points = list(point_sets)
        self._polygons = []
        for ps in self._points:
            shown = np.asarray(ps.points, dtype=np.float64)[thin_indices(len(ps.points), MAX_MARKERS)]
            self._polygons.append(QPolygonF([QPointF(float(x), float(y)) for x, y in shown]))
        self.update()

    @property
    def markers_drawn(self) -> int:
        """Markers painted (all points, unless a set is larger than ``MAX_MARKERS``)."""
        return sum(len(poly) for poly in self._polygons)

    def set_legend(self, entries: list[tuple[str, tuple[int, int, int]]]) -> None:
        self._legend = list(entries)
        self.update()

    @property
    def has_image(self) -> bool:
        return self._image is not None

    # -- geometry ---------------------------------------------------------------------------------
    def plot_rect(self) -> QRectF:
        """The plane's rectangle in widget pixels: as large as fits, equal units on both axes."""
        x_min, x_max, y_min, y_max = self.bounds
        right = MARGIN_RIGHT + self._legend_width()  # the legend sits beside the plane, never on data
        avail = QRectF(MARGIN_LEFT, MARGIN_TOP, max(1.0, self.width() - MARGIN_LEFT - right),
                       max(1.0, self.height() - MARGIN_TOP - MARGIN_BOTTOM))
        span_x, span_y = max(x_max - x_min, 1e-12), max(y_max - y_min, 1e-12)
        scale = min(avail.width() / span_x, avail.height() / span_y)
        w, h = span_x * scale, span_y * scale
        return QRectF(avail.left() + (avail.width() - w) / 2, avail.top() + (avail.height() - h) / 2, w, h)

    def _legend_width(self) -> float:
        if not self._legend:
            return 0.0
        metrics = QFontMetrics(self.font())
        return 36.0 + max(metrics.horizontalAdvance(name) for name, _ in self._legend)

    def view_to_widget(self, x: float, y: float) -> QPointF:
        """Widget position of the plane point (x, y)."""
        rect = self.plot_rect()
        x_min, x_max, y_min, y_max = self.bounds
        return QPointF(rect.left() + (x - x_min) / (x_max - x_min) * rect.width(),
                       rect.bottom() - (y - y_min) / (y_max - y_min) * rect.height())

    # -- painting ---------------------------------------------------------------------------------
    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if is_palette_event(event):  # theme switched: background, axes and legend follow
            self.update()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        try:
            self._paint(painter)
        finally:
            painter.end()

    def _paint(self, p: QPainter) -> None:
        colors = plot_colors(self.palette())
        p.fillRect(self.rect(), colors.background)
        rect = self.plot_rect()
        x_min, x_max, y_min, y_max = self.bounds
        if self._image is not None:
            rows, cols = self._image_shape
            # Pixels are centred on the grid points, so the image reaches half a cell past
            # the bounds; clip it to the plane.
            dx = rect.width() / max(cols - 1, 1)
            dy = rect.height() / max(rows - 1, 1)
            p.save()
            p.setClipRect(rect)
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            if is_dark(self.palette()):  # the tints fade to white where unsure: dim them on a dark theme
                p.setOpacity(DARK_IMAGE_OPACITY)
            p.drawImage(QRectF(rect.left() - dx / 2, rect.top() - dy / 2, rect.width() + dx, rect.height() + dy),
                        self._image)
            p.restore()
        p.setPen(QPen(colors.axis, 1))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRect(rect)
        self._paint_axes(p, rect)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.save()
        p.setClipRect(rect.adjusted(-8, -8, 8, 8))
        # Plane units -> pixels for all points of a set in one C++ call (QTransform.map); the
        # painter itself stays untransformed so markers are round pixels.
        to_pixels = QTransform(rect.width() / (x_max - x_min), 0, 0, -rect.height() / (y_max - y_min),
                               rect.left() - x_min * rect.width() / (x_max - x_min),
                               rect.bottom() + y_min * rect.height() / (y_max - y_min))
        for ps, poly in zip(self._points, self._polygons, strict=False):
            self._paint_points(p, ps, to_pixels.map(poly))
        p.restore()
        self._paint_legend(p, rect)

    def _paint_axes(self, p: QPainter, rect: QRectF) -> None:
        x_min, x_max, y_min, y_max = self.bounds
        metrics = QFontMetrics(self.font())
        p.setPen(QPen(plot_colors(self.palette()).text, 1))
        for value in nice_ticks(x_min, x_max, max(2, int(rect.width() // 70))):
            x = self.view_to_widget(value, y_min).x()
            p.drawLine(QPointF(x, rect.bottom()), QPointF(x, rect.bottom() + 4))
            text = f"{value:g}"
            p.drawText(QPointF(x - metrics.horizontalAdvance(text) / 2, rect.bottom() + 6 + metrics.ascent()), text)
        for value in nice_ticks(y_min, y_max, max(2, int(rect.height() // 50))):
            y = self.view_to_widget(x_min, value).y()
            p.drawLine(QPointF(rect.left() - 4, y), QPointF(rect.left(), y))
            text = f"{value:g}"
            p.drawText(QPointF(rect.left() - 7 - metrics.horizontalAdvance(text), y + metrics.ascent() / 2 - 1), text)
        label_w = metrics.horizontalAdvance(self.x_label)
        p.drawText(QPointF(rect.center().x() - label_w / 2, rect.bottom() + 8 + 2 * metrics.height()), self.x_label)
        p.save()
        # Beside the tick labels, wherever the (centred) plane ends up.
        p.translate(max(14.0, rect.left() - MARGIN_LEFT + 14),
                    rect.center().y() + metrics.horizontalAdvance(self.y_label) / 2)
        p.rotate(-90)
        p.drawText(QPointF(0, 0), self.y_label)
        p.restore()

    def _paint_points(self, p: QPainter, ps: PointSet, poly: QPolygonF) -> None:
        if poly.isEmpty():
            return
        cap = Qt.PenCapStyle.SquareCap if ps.symbol == "square" else Qt.PenCapStyle.RoundCap
        # A dark dot slightly larger than the coloured one gives every marker an outline.
        for color, width in ((QColor(30, 30, 30, 220), ps.size + 2), (QColor(*ps.color), ps.size)):
            pen = QPen(color, width)
            pen.setCapStyle(cap)
            p.setPen(pen)
            p.drawPoints(poly)

    def _paint_legend(self, p: QPainter, rect: QRectF) -> None:
        if not self._legend:
            return
        metrics = QFontMetrics(self.font())
        line = metrics.height() + 4
        width = self._legend_width() - 8
        box = QRectF(rect.right() + 8, rect.top(), width, line * len(self._legend) + 6)
        colors = plot_colors(self.palette())
        fill = QColor(colors.legend_fill)
        fill.setAlpha(210)
        p.setPen(QPen(QColor(0, 0, 0, 60), 1))
        p.setBrush(fill)
        p.drawRoundedRect(box, 4, 4)
        for i, (name, color) in enumerate(self._legend):
            y = box.top() + 3 + i * line + line / 2
            p.setPen(QPen(QColor(30, 30, 30, 220), 1))
            p.setBrush(QColor(*color))
            p.drawEllipse(QPointF(box.left() + 12, y), 5, 5)
            p.setPen(colors.text)
            p.drawText(QPointF(box.left() + 22, y + metrics.ascent() / 2 - 1), name)
