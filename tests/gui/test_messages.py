"""failure_message: the action names the file; the error's own leading copy of the name goes.
The message bar floats over the window: a message never moves its contents."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication, QPushButton, QWidget

from core import ModelFileError
from core.data import DataError
from nnstudio.messages import failure_message


def test_a_leading_file_name_is_not_repeated():
    assert failure_message("Could not open m.nnz", "m.nnz", ModelFileError("m.nnz: not an nnstudio model file")) \
        == "Could not open m.nnz: not an nnstudio model file"
    assert failure_message("Could not import bad.csv", "bad.csv", DataError("bad.csv, line 3, column 2: 'abc' is "
                                                                            "not a number")) \
        == "Could not import bad.csv: line 3, column 2: 'abc' is not a number"


def test_other_reasons_are_kept_whole():
    error = FileNotFoundError(2, "No such file or directory")
    assert failure_message("Could not open m.nnz", "m.nnz", error) == f"Could not open m.nnz: {error}"
    # the name elsewhere in the sentence, or a longer name that starts the same, stays
    assert failure_message("Could not open m.nnz", "m.nnz", ModelFileError("cannot read m.nnz")) \
        == "Could not open m.nnz: cannot read m.nnz"
    assert failure_message("Could not open m.nnz", "m.nnz", ModelFileError("m.nnz.bak: damaged")) \
        == "Could not open m.nnz: m.nnz.bak: damaged"


# -- the message bar floats: a message never moves the window's contents (issue 15, item 10) -----


@pytest.fixture
def window(open_main_window):
    return open_main_window()


def _tab_geometries(window) -> dict[str, tuple]:
    """Window-relative geometry of every named widget inside the central area."""
    central = window.centralWidget()
    found = {}
    for w in central.findChildren(QWidget):
        name = w.objectName()
        if name and w.isVisible() and name != "messageBar" and not window.message_bar.isAncestorOf(w):
            top_left = w.mapTo(window, QPoint(0, 0))
            found[name] = (top_left.x(), top_left.y(), w.width(), w.height())
    return found


def _settled(qtbot, window) -> dict[str, tuple]:
    """The geometries once layouts stopped moving (deferred layout passes have run)."""
    seen = [_tab_geometries(window)]

    def still() -> bool:
        QApplication.processEvents()
        seen.append(_tab_geometries(window))
        return seen[-1] == seen[-2]

    qtbot.waitUntil(still, timeout=5000)
    return seen[-1]


def test_a_message_appearing_and_going_moves_nothing_in_the_window(qtbot, window, dialogs):
    before = _settled(qtbot, window)
    assert {"trainButton", "lossPlot", "mainTabs", "layerList"} <= set(before)
    train = window.findChild(QPushButton, "trainButton")
    y_before = train.mapTo(window, QPoint(0, 0)).y()

    window.document.notify("The dataset could not be loaded: a long explanation " * 4, "error", "trace")
    bar = window.message_bar
    assert bar.isVisible() and bar.height() >= 20
    assert _settled(qtbot, window) == before
    assert train.mapTo(window, QPoint(0, 0)).y() == y_before
    # the strip is on top, across the top of the central area, and shows all of its text
    central = window.centralWidget()
    assert bar.parentWidget() is central and bar.geometry().top() < 20
    assert bar.width() > central.width() - 30
    label = bar.findChild(QWidget, "messageText")
    assert label.height() >= label.heightForWidth(label.width())
    on_top = central.childAt(bar.geometry().center())  # the strip, not the panel under it, gets the mouse
    assert on_top is bar or bar.isAncestorOf(on_top)

    # resizing the window keeps it across the top; dismissing it with a click moves nothing either
    window.resize(1000, 700)
    after_resize = _settled(qtbot, window)
    assert bar.width() > central.width() - 30
    close = bar.findChild(QWidget, "messageClose")
    qtbot.mouseClick(close, Qt.MouseButton.LeftButton)
    assert not bar.isVisible()
    assert _settled(qtbot, window) == after_resize
