"""The application's icons, read from the shipped resources ONCE and kept in memory.

A ``QIcon`` made from a file path reads the file again whenever it needs a new size (a
dialog's title bar, a menu, a higher device pixel ratio). After a reinstall or an upgrade
under a running app that file may be gone or different, and Qt logs missing icons. So the
SVG bytes are read at start-up and every size is rendered from those bytes in memory.
"""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QIcon, QImage, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

from core.resource_files import read_resource_bytes

__all__ = ["APP_ICON", "ICON_SIZES", "app_icon", "preload_icons", "svg_icon"]

APP_ICON = "icons/nnstudio.svg"


#: Sizes rendered up front (px); Qt scales the nearest one for any other size.
ICON_SIZES = (16, 20, 24, 32, 40, 48, 64, 96, 128, 256, 512)


def svg_icon(data: bytes) -> QIcon:
    """An icon drawn from SVG ``data`` in memory at ``ICON_SIZES`` (never read from a file
    again). A plain pixmap icon: no Python icon engine for Qt to own and call back into."""
    renderer = QSvgRenderer(QByteArray(bytes(data)))
    icon = QIcon()
    if not renderer.isValid():
        return icon
    for size in ICON_SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter, QRectF(0, 0, size, size))
        painter.end()
        icon.addPixmap(QPixmap.fromImage(image))
    return icon


@cache
def _icon(relative: str) -> QIcon:
    return svg_icon(read_resource_bytes(relative))


def app_icon() -> QIcon:
    """The window icon (read from the resources on the first call only)."""
    return _icon(APP_ICON)


def preload_icons() -> None:
    """Read every icon now (call at start-up, before anything can change the files)."""
    app_icon()
