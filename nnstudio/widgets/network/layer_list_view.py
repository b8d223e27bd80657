"""The layer list's view and row painting: two-line rows with a badge coloured by the layer's
category, caption, parameter count, and the output shape or the problem (in red)."""

from __future__ import annotations

import re

from PySide6.QtCore import QModelIndex, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from nnstudio.models.layer_list_model import PROBLEM_COLOR, LayerListModel, shape_text
from nnstudio.widgets.network.layer_palette import type_color

_LOCATION_PREFIX = re.compile(r"^layer \d+ \([^)]*\):? ")


class LayerDelegate(QStyledItemDelegate):
    """Two-line rows: a coloured position badge, caption and parameter count; the output
    shape (or the problem, in red) below."""

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        fm = QFontMetrics(option.font)
        # Narrow width hint: the list view stretches rows to its width, and a wide hint would
        # stick after the column is made narrower (clipping the counts at the right).
        return QSize(160, 2 * fm.height() + 12)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        widget = opt.widget
        style = widget.style() if widget is not None else None
        painter.save()
        problem = index.data(LayerListModel.ProblemRole) or ""
        rect = opt.rect
        if problem:
            painter.fillRect(rect, QColor(PROBLEM_COLOR.red(), PROBLEM_COLOR.green(), PROBLEM_COLOR.blue(), 28))
        if style is not None:
            style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, opt, painter, widget)
        if problem:
            painter.fillRect(QRectF(rect.left(), rect.top() + 2, 3, rect.height() - 4), PROBLEM_COLOR)

        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        enabled = bool(opt.state & QStyle.StateFlag.State_Enabled)
        group = QPalette.ColorGroup.Normal if enabled else QPalette.ColorGroup.Disabled
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        text_color = opt.palette.color(group, role)
        muted = QColor(text_color)
        muted.setAlphaF(0.65)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)

        fm = QFontMetrics(opt.font)
        line = fm.height()
        top = rect.top() + 6
        # Position badge.
        diameter = int(line * 1.5)
        badge = QRectF(rect.left() + 8, rect.center().y() - diameter / 2 + 0.5, diameter, diameter)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(type_color(index.data(LayerListModel.LayerTypeRole)))
        painter.drawEllipse(badge)
        badge_font = QFont(opt.font)
        badge_font.setBold(True)
        if index.row() >= 99:
            badge_font.setPointSizeF(max(badge_font.pointSizeF() * 0.8, 6))
        painter.setFont(badge_font)
        painter.setPen(QColor("white"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, str(index.row() + 1))

        left = int(badge.right()) + 8
        right = rect.right() - 8
        params = index.data(LayerListModel.ParamCountRole) or 0
        known = index.data(LayerListModel.OutputShapeRole) is not None
        # After a problem the shapes, and so the counts, are unknown: say so rather than 0.
        count_text = f"{params:,}" if known else "?"
        bold = QFont(opt.font)
        bold.setBold(True)
        bold_fm = QFontMetrics(bold)
        count_width = fm.horizontalAdvance(count_text)
        unit_text = "params"
        unit_width = fm.horizontalAdvance(unit_text)
        right_width = max(count_width, unit_width)

        caption_width = max(right - left - right_width - 10, 20)
        painter.setFont(bold)
        painter.setPen(text_color)
        caption = bold_fm.elidedText(index.data(LayerListModel.CaptionRole) or "", Qt.TextElideMode.ElideRight,
                                     caption_width)
        left_middle = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        painter.drawText(QRectF(left, top, caption_width, line), left_middle, caption)
        painter.setFont(opt.font)
        painter.setPen(text_color if params else muted)
        painter.drawText(QRectF(right - right_width, top, right_width, line),
                         Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, count_text)
        painter.setPen(muted)
        painter.drawText(QRectF(right - right_width, top + line, right_width, line),
                         Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, unit_text)

        if problem:
            second = "⚠ " + _LOCATION_PREFIX.sub("", problem.splitlines()[0])
            painter.setPen(text_color if selected else PROBLEM_COLOR)
        else:
            second = "→ " + shape_text(index.data(LayerListModel.OutputShapeRole))
            painter.setPen(muted)
        second = fm.elidedText(second, Qt.TextElideMode.ElideRight, caption_width)
        painter.drawText(QRectF(left, top + line, caption_width, line),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, second)
        painter.restore()


class LayerListView(QListView):
    """The layer list; says how to start when it is empty."""

    PLACEHOLDER = "No layers yet.\nDouble-click a layer type above, or drag it here."

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if self.model() is not None and self.model().rowCount() == 0:
            painter = QPainter(self.viewport())
            color = self.palette().color(QPalette.ColorRole.PlaceholderText)
            painter.setPen(color)
            painter.drawText(self.viewport().rect().adjusted(12, 12, -12, -12),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.PLACEHOLDER)
            painter.end()
