"""The application's icons, read from the shipped resources (scalable SVG: crisp at any
device pixel ratio)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QIcon, QPixmap

from core.resource_files import read_resource_bytes, resource_path

APP_ICON = "icons/nnstudio.svg"


def app_icon() -> QIcon:
    """The window icon. Rendered by Qt's SVG plugin from the file when the resources are
    plain files, else from the bytes at a few sizes."""
    node = resource_path(APP_ICON)
    if isinstance(node, Path):
        return QIcon(str(node))
    icon = QIcon()
    data = read_resource_bytes(APP_ICON)
    for size in (16, 32, 64, 128, 256):
        pixmap = QPixmap(size, size)
        if pixmap.loadFromData(data, "SVG"):
            icon.addPixmap(pixmap.scaled(size, size))
    return icon
