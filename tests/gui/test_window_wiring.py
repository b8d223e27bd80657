"""The main window wires the Train tab's commands to the controller; the dashboard itself only
emits what the user asked for (issue 16: one place wires every panel's signals)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from nnstudio.controllers.training_controller import TrainingController
from nnstudio.widgets.train.training_dashboard import TrainingDashboard

RUN_TIMEOUT = 20_000


pytestmark = pytest.mark.usefixtures("one_blas_thread")


def button(parent, name: str) -> QPushButton:
    found = parent.findChild(QPushButton, name)
    assert found is not None, name
    return found


def click(qtbot, parent, name: str) -> None:
    b = button(parent, name)
    assert b.isEnabled(), f"{name} is disabled"
    qtbot.mouseClick(b, Qt.MouseButton.LeftButton)


def test_an_unwired_dashboard_only_emits_requests(qtbot, document, dialogs):
    controller = TrainingController(document)
    dash = TrainingDashboard(document, controller, dialogs)
    qtbot.addWidget(dash)
    dash.show()
    qtbot.waitExposed(dash)
    with qtbot.waitSignal(dash.trainRequested, timeout=2000):
        click(qtbot, dash, "trainButton")
    with qtbot.waitSignal(dash.stepBatchRequested, timeout=2000):
        click(qtbot, dash, "stepButton")
    with qtbot.waitSignal(dash.stepEpochRequested, timeout=2000):
        click(qtbot, dash, "stepEpochButton")
    # Nobody connected them: the dashboard never sent the controller a command itself.
    assert controller.state == "idle" and not controller.thread_running and not document.training_active
    assert controller.shutdown()


def test_the_window_connects_every_training_command(qtbot, open_main_window, dialogs):
    window = open_main_window()
    document, controller, dash = window.document, window.controller, window.dashboard
    document.change("Train long", training=replace(document.training, epochs=100_000, batch_size=4))

    with qtbot.waitSignal(controller.started, timeout=RUN_TIMEOUT):
        click(qtbot, dash, "trainButton")
    assert controller.state == "running"
    click(qtbot, dash, "pauseButton")
    assert controller.state == "paused"
    click(qtbot, dash, "pauseButton")  # now labelled Resume
    assert controller.state == "running"
    dash.setFocus()
    qtbot.waitUntil(dash.hasFocus, timeout=2000)
    qtbot.keyClick(dash, Qt.Key.Key_Space)
    assert controller.state == "paused"
    qtbot.keyClick(dash, Qt.Key.Key_Space)
    assert controller.state == "running"
    click(qtbot, dash, "pauseButton")
    qtbot.waitUntil(lambda: controller.waiting, timeout=RUN_TIMEOUT)
    batches = len(controller.network.history.batches["loss"])
    with qtbot.waitSignal(controller.waitingChanged, timeout=RUN_TIMEOUT, check_params_cb=lambda w: w):
        click(qtbot, dash, "stepButton")
    assert len(controller.network.history.batches["loss"]) == batches + 1 and controller.state == "paused"
    with qtbot.waitSignal(controller.finished, timeout=RUN_TIMEOUT) as done:
        click(qtbot, dash, "stopButton")
    assert done.args[1].status == "stopped" and controller.state == "idle"

    assert document.network is not None
    dialogs.confirm_answer = True
    click(qtbot, dash, "resetWeightsButton")
    assert dialogs.asked[-1] == "confirm" and document.network is None  # confirmed, then reset
