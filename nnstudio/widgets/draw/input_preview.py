"""Shows the exact tensor the network receives, enlarged with nearest-neighbour scaling.

A 28×28 input becomes 168×168 logical pixels (6 per input pixel), an 8×8 input 168×168
(21 per pixel): every input pixel stays a visible square, nothing is smoothed.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

PREVIEW_SIZE = 168


def array_to_qimage(image: np.ndarray) -> QImage:
    """(H, W) grey levels in [0, 1] -> a QImage (Grayscale8) owning a copy of the pixels.
    A conversion for display only (0..1 to 0..255)."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 2:
        raise ValueError(f"an image to show must be (height, width), not {image.shape}")
    pixels = np.ascontiguousarray(np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8))
    h, w = pixels.shape
    return QImage(pixels.data, w, h, w, QImage.Format.Format_Grayscale8).copy()


class InputPreview(QWidget):
    """The network's input as an image, or a "no input" placeholder."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("inputPreview")
        self.setFixedSize(PREVIEW_SIZE, PREVIEW_SIZE)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setAccessibleName("Network input")
        self._array: np.ndarray | None = None
        self._image: QImage | None = None

    def sizeHint(self) -> QSize:
        return QSize(PREVIEW_SIZE, PREVIEW_SIZE)

    @property
    def array(self) -> np.ndarray | None:
        """The input shown ((s, s) float32 in [0, 1]) or None."""
        return self._array

    def set_input(self, image: np.ndarray | None) -> None:
        """Show ``image`` (s, s) in [0, 1]; None shows the placeholder."""
        if image is None:
            self._array = self._image = None
            self.setToolTip("No input: draw a digit")
        else:
            self._array = np.array(image, dtype=np.float32)
            self._image = array_to_qimage(self._array)
            h, w = self._array.shape
            self.setToolTip(f"The {h}×{w} input the network receives, enlarged")
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        rect = QRectF(0, 0, self.width(), self.height())
        painter.fillRect(rect, QColor(0, 0, 0))
        if self._image is not None:
            # No SmoothPixmapTransform: nearest neighbour keeps each input pixel a square.
            painter.drawImage(rect, self._image)
        else:
            painter.setPen(QColor(150, 150, 150))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, "no input")
        painter.setPen(QPen(QColor(90, 90, 90), 1))
        painter.drawRect(rect.adjusted(0.5, 0.5, -0.5, -0.5))
        painter.end()
