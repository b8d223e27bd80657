"""Show a NumPy image (made by core.analysis.visuals) as crisp, scaled pixels; array -> QImage helpers.

The arrays arrive ready to show (uint8 RGB or grey, tiled by core); this module only wraps
them in QImages and paints them enlarged with nearest-neighbour sampling, so each weight or
activation is a visible square.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, QSize
from PySide6.QtGui import QImage, QPainter, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget


def qimage_from_array(array: np.ndarray) -> QImage:
    """uint8 (h, w) grey or (h, w, 3) RGB -> an independent QImage (owns its pixels)."""
    a = np.ascontiguousarray(array, dtype=np.uint8)
    if a.ndim == 2:
        image = QImage(a.data, a.shape[1], a.shape[0], a.strides[0], QImage.Format.Format_Grayscale8)
    elif a.ndim == 3 and a.shape[2] == 3:
        image = QImage(a.data, a.shape[1], a.shape[0], a.strides[0], QImage.Format.Format_RGB888)
    else:
        raise ValueError(f"an image must be (h, w) or (h, w, 3) uint8, not shape {a.shape}")
    return image.copy()  # QImage does not keep the NumPy buffer alive


class ImageGrid(QWidget):
    """Paints one image scaled to fit (aspect kept, pixels stay square and sharp).

    ``max_zoom`` caps the enlargement (a 3×3 filter should not fill the screen);
    ``target_width`` is the preferred on-screen width used for the size hint.
    """

    def __init__(self, parent: QWidget | None = None, max_zoom: int = 12, target_width: int = 420):
        super().__init__(parent)
        self._image: QImage | None = None
        self._max_zoom = max_zoom
        self._target_width = target_width
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)

    @property
    def image(self) -> QImage | None:
        return self._image

    def set_array(self, array: np.ndarray | None) -> None:
        """Show a uint8 (h, w) or (h, w, 3) array (None clears)."""
        self._image = None if array is None else qimage_from_array(array)
        self.updateGeometry()
        self.update()

    def _zoom(self) -> int:
        if self._image is None or self._image.width() == 0:
            return 1
        return max(1, min(self._max_zoom, self._target_width // self._image.width()))

    def sizeHint(self) -> QSize:
        if self._image is None:
            return QSize(0, 0)
        z = self._zoom()
        return QSize(self._image.width() * z, self._image.height() * z)

    def minimumSizeHint(self) -> QSize:
        if self._image is None:
            return QSize(0, 0)
        z = max(1, self._zoom() // 2)
        return QSize(self._image.width() * z, self._image.height() * z)

    def target_rect(self) -> QRect:
        """Where the image is painted: centred, as large as fits with its aspect kept."""
        if self._image is None or self._image.isNull():
            return QRect()
        w, h = self._image.width(), self._image.height()
        scale = min(self.width() / w, self.height() / h)
        tw, th = max(1, int(w * scale)), max(1, int(h * scale))
        return QRect((self.width() - tw) // 2, (self.height() - th) // 2, tw, th)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().color(QPalette.ColorRole.Base))
        if self._image is not None:
            # No SmoothPixmapTransform: nearest-neighbour keeps each value a sharp square.
            painter.drawImage(self.target_rect(), self._image)
        painter.end()
