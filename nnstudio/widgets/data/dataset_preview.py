"""A glance at a dataset: a strip of example images, or a scatter of 2-D points by class.

Painted with QPainter (a dozen images or a few thousand dots: no plot library needed, and
no axis relayout cost). What to show is computed in ``core.spec.dataset_fit`` (example choice, 8-bit
image scaling, unit-square scatter coordinates); this widget only paints the result.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from core.data import Dataset
from core.spec.dataset_fit import example_indices, image_shape_for, preview_images, scatter_points
from nnstudio.theme import is_dark

#: Class colours (Okabe-Ito, colour-blind safe), extended for up to 10 classes.
CLASS_COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
                "#999999", "#8C564B")

EXAMPLE_COUNT = 10
SCATTER_POINTS = 1500


def class_color(index: int, dark: bool = False) -> QColor:
    """Colour of class ``index``; on a dark background the black class becomes light grey."""
    color = QColor(CLASS_COLORS[index % len(CLASS_COLORS)])
    return QColor("#e0e0e0") if dark and color == QColor("#000000") else color


class DatasetPreview(QWidget):
    """Shows ``set_dataset(dataset)``: example images (with their class names) or a scatter.

    ``mode`` is "images", "scatter" or "empty" after each call; ``examples`` holds the
    shown images' class names (for tests and accessibility).
    """

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("datasetPreview")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.mode = "empty"
        self.examples: tuple[str, ...] = ()
        self._images: list[QImage] = []
        self._points = np.zeros((0, 2))
        self._labels = np.zeros(0, dtype=np.int64)
        self._class_names: tuple[str, ...] = ()
        self._note = ""
        self.setFixedHeight(self.sizeHint().height())

    def sizeHint(self) -> QSize:
        return QSize(280, 120)

    def set_dataset(self, dataset: Dataset | None) -> None:
        self._images, self.examples, self._note = [], (), ""
        self._points, self._labels = np.zeros((0, 2)), np.zeros(0, dtype=np.int64)
        if dataset is None:
            self.mode = "empty"
            self.setAccessibleDescription("")
            self.update()
            return
        self._class_names = dataset.class_names
        shape = image_shape_for(dataset.input_shape, dataset.preprocessing)
        if shape is not None:
            self.mode = "images"
            idx = example_indices(dataset.y, dataset.n_classes, EXAMPLE_COUNT)
            grey = preview_images(dataset.x, idx, shape)
            # QImage does not own the buffer: keep each array alive through .copy().
            self._images = [QImage(g.data, g.shape[1], g.shape[0], g.strides[0], QImage.Format.Format_Grayscale8).copy()
                            for g in grey]
            self.examples = tuple(dataset.class_names[int(c)] for c in dataset.y[idx])
            self.setAccessibleDescription("Examples of classes " + ", ".join(self.examples))
        else:
            self.mode = "scatter"
            self._points, self._labels = scatter_points(dataset.x, dataset.y, SCATTER_POINTS)
            features = int(np.prod(dataset.input_shape))
            if features > 2:
                self._note = f"first 2 of {features:,} features"
            self.setAccessibleDescription(f"Scatter plot of {len(self._points):,} samples coloured by class")
        self.update()

    # -- painting ----------------------------------------------------------------------------------
    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, self.mode == "scatter")
        rect = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        painter.fillRect(rect, self.palette().base())
        if self.mode == "images":
            self._paint_images(painter, rect)
        elif self.mode == "scatter":
            self._paint_scatter(painter, rect)
        painter.end()

    def _paint_images(self, painter: QPainter, rect: QRectF) -> None:
        n = len(self._images)
        if not n:
            return
        label_h = 16.0
        columns = min(n, 5) if n > 5 and rect.width() < 60 * n else n
        rows = (n + columns - 1) // columns
        side = min((rect.width() - 4) / columns - 4, (rect.height() - 4) / rows - label_h - 2)
        side = max(side, 8.0)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)  # crisp pixels
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() - 1))
        painter.setFont(font)
        x0 = rect.left() + (rect.width() - columns * (side + 4)) / 2 + 2
        for i, (image, name) in enumerate(zip(self._images, self.examples, strict=False)):
            r, c = divmod(i, columns)
            cell = QRectF(x0 + c * (side + 4), rect.top() + 2 + r * (side + label_h + 2), side, side)
            painter.drawImage(cell, image)
            painter.setPen(self.palette().mid().color())
            painter.drawRect(cell)
            painter.setPen(self.palette().text().color())
            painter.drawText(QRectF(cell.left() - 6, cell.bottom(), side + 12, label_h),
                             Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter, name)

    def _paint_scatter(self, painter: QPainter, rect: QRectF) -> None:
        side = min(rect.width(), rect.height()) - 4
        box = QRectF(rect.left() + (rect.width() - side) / 2, rect.top() + 2, side, side)
        painter.setPen(QPen(self.palette().mid().color(), 1))
        painter.drawRect(box)
        radius = 2.2 if len(self._points) > 600 else 3.0
        painter.setPen(Qt.PenStyle.NoPen)
        for cls in np.unique(self._labels):
            painter.setBrush(class_color(int(cls), is_dark(self.palette())))
            for px, py in self._points[self._labels == cls]:
                # Data y grows upwards; screen y grows downwards.
                painter.drawEllipse(QPointF(box.left() + px * box.width(), box.bottom() - py * box.height()),
                                    radius, radius)
        self._paint_legend(painter, rect, box)

    def _paint_legend(self, painter: QPainter, rect: QRectF, box: QRectF) -> None:
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() - 1))
        painter.setFont(font)
        x = box.right() + 8
        y = rect.top() + 4
        line = 15.0
        for i, name in enumerate(self._class_names[:10]):
            if y + line > rect.bottom():
                break
            painter.setBrush(class_color(i, is_dark(self.palette())))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.drawEllipse(QPointF(x + 4, y + line / 2), 4, 4)
            painter.setPen(self.palette().text().color())
            painter.drawText(QRectF(x + 12, y, rect.right() - x - 12, line),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name)
            y += line
        if self._note:
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(QRectF(x, rect.bottom() - line, rect.right() - x, line),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, self._note)
