"""FlowLayout: rows of widgets that wrap instead of clipping."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QPushButton, QWidget

from nnstudio.widgets.common.flow_layout import FlowLayout


@pytest.fixture
def row(qtbot):
    host = QWidget()
    qtbot.addWidget(host)
    layout = FlowLayout(host, spacing=4)
    buttons = [QPushButton(text) for text in ("Alpha", "Beta", "Gamma")]
    for b in buttons[:2]:
        layout.addWidget(b)
    layout.addStretch()
    layout.addWidget(buttons[2])
    host.show()
    qtbot.waitExposed(host)
    return host, layout, buttons


def widths(buttons):
    return sum(b.sizeHint().width() for b in buttons) + 4 * (len(buttons) - 1)


def test_one_line_when_wide_with_the_stretched_item_at_the_right(row):
    host, layout, buttons = row
    host.resize(widths(buttons) + 200, 200)
    layout.activate()
    assert len({b.y() for b in buttons}) == 1
    assert buttons[0].x() == 0 and buttons[1].x() == buttons[0].width() + 4
    assert buttons[2].geometry().right() == host.width() - 1
    assert all(b.size() == b.sizeHint() for b in buttons)


def test_wraps_when_narrow_and_asks_for_the_height(row):
    host, layout, buttons = row
    one_line = layout.heightForWidth(widths(buttons))
    narrow = widths(buttons[:2])
    two_lines = layout.heightForWidth(narrow)
    assert two_lines == 2 * one_line + 4
    host.resize(narrow, two_lines)
    layout.setGeometry(host.rect())
    assert buttons[0].y() == buttons[1].y() < buttons[2].y()
    assert all(b.size() == b.sizeHint() for b in buttons)  # wrapped, never squeezed
    # Narrower than any single item is not allowed.
    assert layout.minimumSize().width() == max(b.sizeHint().width() for b in buttons)


def test_hidden_widgets_take_no_room(row):
    host, layout, buttons = row
    buttons[1].hide()
    host.resize(widths([buttons[0], buttons[2]]), 100)
    layout.setGeometry(host.rect())
    assert buttons[0].y() == buttons[2].y()
    assert layout.sizeHint().width() == widths([buttons[0], buttons[2]])
