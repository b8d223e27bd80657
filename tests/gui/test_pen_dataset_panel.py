"""The pen digits in the Data tab: listed from the catalogue, and their rendering mode (28×28
or 8×8, the Draw tab's two modes) chosen in the settings form with real widgets."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLabel

from core.data import datasets
from nnstudio.widgets.data.dataset_panel import DatasetPanel
from tests.pen_subset import use_few_pen_digits


@pytest.fixture
def few_pen_digits(monkeypatch):
    """Two digits per writer: the catalogue's own code path, rendered in a moment."""
    yield use_few_pen_digits(monkeypatch, 2)
    datasets._pen_rendered.cache_clear()


@pytest.fixture
def panel(qtbot, document, dialogs):
    widget = DatasetPanel(document, dialogs)
    qtbot.addWidget(widget)
    widget.resize(360, 800)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    assert widget.shutdown(5000)


def pick(qtbot, combo: QComboBox, data) -> None:
    """Open the combo's list, move to the item holding ``data`` and press Enter."""
    index = combo.findData(data) if combo.findData(data) >= 0 else combo.findText(data)
    assert index >= 0, data
    combo.showPopup()
    combo.view().setCurrentIndex(combo.model().index(index, 0))
    qtbot.keyClick(combo.view(), Qt.Key.Key_Return)


def test_the_pen_digits_are_offered_and_their_mode_is_a_setting(qtbot, panel, document, few_pen_digits):
    pick(qtbot, panel.findChild(QComboBox, "datasetCombo"), "pendigits")
    qtbot.waitUntil(lambda: document.dataset_choice.name == "pendigits")
    info = panel.findChild(QLabel, "datasetInfo")
    assert "48 samples + 12 official test samples" in info.text() and "784 inputs" in info.text()
    mode = panel.findChild(QComboBox, "datasetParam_mode")
    assert mode is not None and mode.isVisible()
    # Each mode is shown in words and carries its value.
    assert [mode.itemText(i) for i in range(mode.count())] == ["28×28 (as MNIST)", "8×8 (as 8×8 digits)"]
    assert [mode.itemData(i) for i in range(mode.count())] == ["mnist", "digits8x8"]
    assert panel.findChild(QComboBox, "datasetParam_layout") is None  # the layout follows the network
    pick(qtbot, mode, "digits8x8")
    qtbot.waitUntil(lambda: document.dataset_choice.params.get("mode") == "digits8x8")
    assert document.dataset().input_shape == (64,)
    assert "64 inputs" in info.text()
