"""A layout that places widgets left to right and wraps them onto more lines when narrow.

Rows of buttons in a narrow column (the minimum window leaves the centre ~350 px) would
otherwise be squeezed until their labels are clipped ("tep batc"). Here every item keeps
its size hint; what does not fit on a line starts the next one, and the layout asks for
the height that needs (height-for-width). ``addStretch`` pushes the items after it to the
line's right end, as in a QHBoxLayout, while they share a line with the items before.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import QLayout, QLayoutItem, QWidget

__all__ = ["FlowLayout"]


class FlowLayout(QLayout):
    """Left-to-right rows that wrap. ``spacing`` (px) between items and between lines."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 6):
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._stretch_at: int | None = None  # index of the first item pushed right
        self.setSpacing(spacing)
        self.setContentsMargins(0, 0, 0, 0)

    # -- QLayout ------------------------------------------------------------------------------------
    def addItem(self, item: QLayoutItem) -> None:
        self._items.append(item)

    def addStretch(self) -> None:
        """Items added after this sit at the right end of their line."""
        self._stretch_at = len(self._items)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:
        if not 0 <= index < len(self._items):
            return None
        if self._stretch_at is not None and index < self._stretch_at:
            self._stretch_at -= 1
        return self._items.pop(index)

    def expandingDirections(self) -> Qt.Orientation:
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._place(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(rect)
        self._place(rect, move=True)

    def sizeHint(self) -> QSize:
        """Everything on one line."""
        shown = self._shown()
        margins = self.contentsMargins()
        width = sum(item.sizeHint().width() for _, item in shown) + self.spacing() * max(len(shown) - 1, 0)
        height = max((item.sizeHint().height() for _, item in shown), default=0)
        return QSize(width + margins.left() + margins.right(), height + margins.top() + margins.bottom())

    def minimumSize(self) -> QSize:
        """The widest item: narrower than that, an item would be clipped."""
        size = QSize()
        for _, item in self._shown():
            size = size.expandedTo(item.sizeHint())
        margins = self.contentsMargins()
        return size + QSize(margins.left() + margins.right(), margins.top() + margins.bottom())

    # -- placement ----------------------------------------------------------------------------------
    def _shown(self) -> list[tuple[int, QLayoutItem]]:
        return [(i, item) for i, item in enumerate(self._items) if not item.isEmpty()]

    def _place(self, rect: QRect, move: bool) -> int:
        """Lay the items out in ``rect`` (only measure unless ``move``); returns the height."""
        margins = self.contentsMargins()
        area = rect.adjusted(margins.left(), margins.top(), -margins.right(), -margins.bottom())
        gap = self.spacing()
        lines: list[list[tuple[int, QLayoutItem, QSize]]] = [[]]
        x = 0
        for index, item in self._shown():
            size = item.sizeHint()
            if lines[-1] and x + gap + size.width() > area.width():
                lines.append([])
                x = 0
            x += (gap if lines[-1] else 0) + size.width()
            lines[-1].append((index, item, size))
        y = area.top()
        for line in lines:
            if not line:
                continue
            height = max(size.height() for _, _, size in line)
            if move:
                self._place_line(line, area, y, height, gap)
            y += height + gap
        return y - gap - area.top() + margins.top() + margins.bottom() if any(lines) else 0

    def _place_line(self, line, area: QRect, y: int, height: int, gap: int) -> None:
        """Left-aligned, except the items after the stretch, which end at the right edge."""
        split = len(line)
        if self._stretch_at is not None:
            split = next((k for k, (index, _, _) in enumerate(line) if index >= self._stretch_at), len(line))
        x = area.left()
        for _, item, size in line[:split]:
            item.setGeometry(QRect(QPoint(x, y + (height - size.height()) // 2), size))
            x += size.width() + gap
        right = area.right() + 1
        for _, item, size in reversed(line[split:]):
            right -= size.width()
            item.setGeometry(QRect(QPoint(right, y + (height - size.height()) // 2), size))
            right -= gap

