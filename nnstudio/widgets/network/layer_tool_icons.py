"""Line icons of the layer editor's tool buttons (add, insert above, duplicate, delete, move),
drawn here because there is no icon theme offscreen or on Windows."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap


def tool_icon(kind: str, color: QColor, size: int = 20) -> QIcon:
    """Small line icons drawn here (no icon theme offscreen or on Windows)."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    pen = QPen(color, 1.8, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
    p.setPen(pen)
    s = size

    def arrow(x: float, top: float, bottom: float, up: bool) -> None:
        p.drawLine(QPointF(x, top), QPointF(x, bottom))
        tip, base = (top, top + 4) if up else (bottom, bottom - 4)
        p.drawLine(QPointF(x, tip), QPointF(x - 3.5, base))
        p.drawLine(QPointF(x, tip), QPointF(x + 3.5, base))

    def plus(cx: float, cy: float, r: float) -> None:
        p.drawLine(QPointF(cx - r, cy), QPointF(cx + r, cy))
        p.drawLine(QPointF(cx, cy - r), QPointF(cx, cy + r))

    if kind == "up":
        arrow(s / 2, 3, s - 3, True)
    elif kind == "down":
        arrow(s / 2, 3, s - 3, False)
    elif kind == "insert_above":
        plus(s * 0.32, s * 0.5, 4)
        arrow(s * 0.72, 3, s - 4, True)
    elif kind == "insert_below":
        plus(s * 0.32, s * 0.5, 4)
        arrow(s * 0.72, 4, s - 3, False)
    elif kind == "duplicate":
        p.drawRoundedRect(QRectF(3, 3, 10, 10), 2, 2)
        front = QRectF(7, 7, 10, 10)
        # Clear the front square's area so the back one looks hidden behind it.
        p.setCompositionMode(QPainter.CompositionMode.CompositionMode_Clear)
        p.fillRect(front.adjusted(-1, -1, 1, 1), Qt.GlobalColor.transparent)
        p.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceOver)
        p.drawRoundedRect(front, 2, 2)
        plus(12, 12, 2.5)
    elif kind == "delete":
        path = QPainterPath()
        path.moveTo(5, 6)
        path.lineTo(6.5, s - 3)
        path.lineTo(s - 6.5, s - 3)
        path.lineTo(s - 5, 6)
        p.drawPath(path)
        p.drawLine(QPointF(3.5, 5), QPointF(s - 3.5, 5))
        p.drawLine(QPointF(8, 3), QPointF(s - 8, 3))
        p.drawLine(QPointF(8.5, 8.5), QPointF(8.5, s - 5.5))
        p.drawLine(QPointF(s - 8.5, 8.5), QPointF(s - 8.5, s - 5.5))
    p.end()
    return QIcon(pixmap)
