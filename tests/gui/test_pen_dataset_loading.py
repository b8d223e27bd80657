"""Choosing the pen digits (seconds to render the first time) never freezes the window: the
Data panel loads them off the GUI thread, says so, and makes them the document's choice
once they are there. A newer choice supersedes a load; a failure is shown as for any choice."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QComboBox, QLabel

from core.data import DataError, datasets, pen
from tests.pen_subset import use_few_pen_digits

from .test_pen_dataset_panel import panel, pick  # noqa: F401  (panel: the same fixture)


class Gate:
    """Stands in for the renderer: each call waits until ``open()`` (at most 3 s, so a
    synchronous load fails the timing assertions instead of hanging), then renders."""

    def __init__(self, render):
        self.render = render
        self.event = threading.Event()
        self.error: Exception | None = None

    def __call__(self, *args, **kwargs):
        self.event.wait(3.0)
        if self.error is not None:
            raise self.error
        return self.render(*args, **kwargs)

    def open(self) -> None:
        self.event.set()


@pytest.fixture
def gate(monkeypatch) -> Gate:
    """Two digits per writer (the catalogue's code path in a moment), rendered through a gate."""
    use_few_pen_digits(monkeypatch, 2)
    gate = Gate(pen.render_pen_digits)
    monkeypatch.setattr(pen, "render_pen_digits", gate)
    yield gate
    gate.open()
    datasets._pen_rendered.cache_clear()



def timed_pick(qtbot, combo: QComboBox, data) -> float:
    started = time.perf_counter()
    pick(qtbot, combo, data)
    return time.perf_counter() - started


def assert_event_loop_runs(qtbot) -> None:
    timer = QTimer()
    timer.setSingleShot(True)
    with qtbot.waitSignal(timer.timeout, timeout=500):
        timer.start(10)


def test_choosing_the_pen_digits_loads_them_without_blocking_the_window(qtbot, panel, document, gate):
    combo = panel.findChild(QComboBox, "datasetCombo")
    loading = panel.findChild(QLabel, "datasetLoading")
    before = document.dataset_choice
    assert not loading.isVisible()
    assert timed_pick(qtbot, combo, "pendigits") < 0.5
    # Loading: said so, the list shows the choice, the document keeps its data meanwhile.
    assert loading.isVisible() and "Loading Pen digits" in loading.text()
    assert combo.currentData() == "pendigits"
    assert document.dataset_choice == before and document.undo_stack.count() == 0
    assert_event_loop_runs(qtbot)
    gate.open()
    qtbot.waitUntil(lambda: document.dataset_choice.name == "pendigits", timeout=10_000)
    assert not loading.isVisible()
    assert "48 samples + 12 official test samples" in panel.findChild(QLabel, "datasetInfo").text()
    assert document.undo_stack.count() == 1  # one undoable step, as any choice
    document.undo_stack.undo()
    assert document.dataset_choice == before and combo.currentData() == before.name

    # A rendering mode not yet loaded is loaded in the background too.
    document.undo_stack.redo()
    gate.event.clear()
    mode = panel.findChild(QComboBox, "datasetParam_mode")
    assert timed_pick(qtbot, mode, "digits8x8") < 0.5
    assert loading.isVisible() and document.dataset_choice.params.get("mode", "mnist") == "mnist"
    gate.open()
    qtbot.waitUntil(lambda: document.dataset_choice.params.get("mode") == "digits8x8", timeout=10_000)
    assert not loading.isVisible() and document.dataset().input_shape == (64,)


def test_a_newer_choice_supersedes_the_pen_digits_still_loading(qtbot, panel, document, gate):
    combo = panel.findChild(QComboBox, "datasetCombo")
    assert timed_pick(qtbot, combo, "pendigits") < 0.5
    pick(qtbot, combo, "xor")  # quick to load: applied at once
    assert document.dataset_choice.name == "xor"
    assert not panel.findChild(QLabel, "datasetLoading").isVisible()
    gate.open()
    assert panel._loader.wait(5000)
    qtbot.waitUntil(lambda: not panel._loader.busy())
    assert document.dataset_choice.name == "xor" and combo.currentData() == "xor"


def test_pen_digits_that_cannot_be_loaded_are_reported_and_the_choice_stays(qtbot, panel, document, gate):
    combo = panel.findChild(QComboBox, "datasetCombo")
    before = document.dataset_choice
    gate.error = DataError("the bundled pen digits are damaged")
    assert timed_pick(qtbot, combo, "pendigits") < 0.5
    with qtbot.waitSignal(document.message, timeout=10_000) as shown:
        gate.open()
    text, level = shown.args[0], shown.args[1]
    assert level == "error" and "Pen digits" in text and "damaged" in text
    assert document.dataset_choice == before and combo.currentData() == before.name
    assert not panel.findChild(QLabel, "datasetLoading").isVisible()
