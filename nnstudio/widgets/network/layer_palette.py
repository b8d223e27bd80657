"""The layer palette: one coloured chip per layer type ``core.registry.layer_types()`` offers,
in palette order, with the class's own ``summary`` as tooltip; and the colour of each type.

Colours follow the layer's ``category`` (a layer class says what kind of layer it is; the
palette, the list badges and the chips share one colour per kind), so a layer class
registered in core appears here, coloured, with no edit in the GUI.
"""

from __future__ import annotations

import zlib

from PySide6.QtCore import QMimeData, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QListWidget, QListWidgetItem, QSizePolicy, QWidget

from core.registry import LAYER_TYPES, layer_types
from nnstudio.models.layer_list_model import LAYER_TYPE_MIME

#: Badge colour per layer category, mid-tone so white badge numbers read on them and the
#: chips read on light and dark themes alike.
CATEGORY_COLORS: dict[str, QColor] = {
    "dense": QColor("#2f6fc9"),
    "convolution": QColor("#8a3fb0"),
    "pooling": QColor("#138a72"),
    "reshape": QColor("#6b7780"),
    "regularization": QColor("#c8660f"),
    "activation": QColor("#2e8b3e"),
}
#: Colours a category not listed above gets (picked by a stable hash of its name).
_SPARE_COLORS = (QColor("#b03a5b"), QColor("#7a6a12"), QColor("#1f7a99"), QColor("#8c5a2b"), QColor("#5b5fc7"))
#: Unknown layer types (a file naming a type this build lacks).
OTHER_COLOR = QColor("#555555")


def category_color(category: str) -> QColor:
    """The colour of a layer category; a new category gets a stable colour of its own."""
    if category in CATEGORY_COLORS:
        return CATEGORY_COLORS[category]
    if not category:
        return OTHER_COLOR
    return _SPARE_COLORS[zlib.crc32(category.encode("utf-8")) % len(_SPARE_COLORS)]


def type_color(type_name: str | None) -> QColor:
    """The colour of a layer type (its category's), grey for an unknown type."""
    cls = LAYER_TYPES.get(type_name or "")
    return category_color(cls.category) if cls is not None else OTHER_COLOR


def _chip_icon(color: QColor, size: int = 12) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(color)
    p.drawRoundedRect(QRectF(1, 1, size - 2, size - 2), 3, 3)
    p.end()
    icon = QIcon(pixmap)
    icon.addPixmap(pixmap, QIcon.Mode.Selected)  # keep the type colour on the highlighted chip
    return icon


class LayerPalette(QListWidget):
    """Layer types as chips. Activating one (double-click or Enter) emits ``itemActivated``;
    dragging one into the layer list drops a new layer there."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("layerPalette")
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setSpacing(2)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setAccessibleName("Layer palette")
        for cls in layer_types():
            name = cls.type_name
            item = QListWidgetItem(_chip_icon(type_color(name)), name)
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setToolTip(f"{name}: {cls.summary}\n"
                            "Double-click or press Enter to add it below the selected layer, "
                            "or drag it into the list.")
            self.addItem(item)
        self.setCurrentRow(0)

    def current_type(self) -> str:
        item = self.currentItem()
        if item is None:
            item = self.item(0)
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else ""

    def mimeData(self, items) -> QMimeData:
        mime = QMimeData()
        if items:
            name = items[0].data(Qt.ItemDataRole.UserRole)
            mime.setData(LAYER_TYPE_MIME, name.encode("utf-8"))
            mime.setText(name)
        return mime

    def startDrag(self, supportedActions) -> None:
        # Copy only: a Move would make the view delete the chip after the drop.
        super().startDrag(Qt.DropAction.CopyAction)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        # Chips wrap: grow or shrink to show every row (deferred until the layout is done).
        QTimer.singleShot(0, self, self._fit_height)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        QTimer.singleShot(0, self, self._fit_height)

    def _fit_height(self) -> None:
        if not self.count():
            return
        self.doItemsLayout()
        bottom = max(self.visualItemRect(self.item(i)).bottom() for i in range(self.count()))
        height = bottom + self.verticalOffset() + 2 * self.frameWidth() + self.spacing() + 2
        if height > 0 and height != self.height():
            self.setFixedHeight(height)
