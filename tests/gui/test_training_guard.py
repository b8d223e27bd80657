"""A training run and the document: Undo/Redo cannot change the network under the worker
(issue 14, item 3), and a run in progress is unsaved work — the title shows it and closing,
New or Open ask first, stopping the run only after the answer (issue 15, item 4; issue 14's
"closing with unsaved changes while training still asks"). Questions go through the fake
``Dialogs``; every run is shut down by the fixture."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QPushButton

import core
from nnstudio.controllers.training_controller import BLAS_THREADS_KEY
from nnstudio.main_window import MainWindow
from nnstudio.settings import app_settings

RUN_TIMEOUT = 20_000


@pytest.fixture(autouse=True)
def one_blas_thread():
    settings = app_settings()
    settings.setValue(BLAS_THREADS_KEY, 1)
    yield
    settings.remove(BLAS_THREADS_KEY)


@pytest.fixture
def window(qtbot, dialogs):
    """The main window on the 8×8 digits, active (keyboard shortcuts work), set to train for
    far longer than any test lasts."""
    w = MainWindow(dialogs=dialogs)
    qtbot.addWidget(w)
    w.resize(1200, 800)
    with qtbot.waitActive(w):
        w.show()
        w.activateWindow()
    doc = w.document
    doc.change("Train long", training=replace(doc.training, epochs=100_000))
    doc.undo_stack.clear()  # a fresh, unmodified document that trains long
    yield w
    assert w.controller.shutdown()
    w.document.undo_stack.clear()
    w.document._unsaved_training = False


def button(window, name: str) -> QPushButton:
    found = window.findChild(QPushButton, name)
    assert found is not None, name
    return found


def start_run(window, qtbot) -> None:
    """Click Train and wait until the first epoch is done (so the run has progress to lose)."""
    with qtbot.waitSignal(window.controller.started, timeout=RUN_TIMEOUT):
        qtbot.mouseClick(button(window, "trainButton"), Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(window.controller.epochReport, timeout=RUN_TIMEOUT):
        pass
    assert window.document.training_active


def stop_run(window, qtbot) -> None:
    with qtbot.waitSignal(window.controller.finished, timeout=RUN_TIMEOUT):
        qtbot.mouseClick(button(window, "stopButton"), Qt.MouseButton.LeftButton)
    assert not window.document.training_active


def press_undo(window, qtbot, redo: bool = False) -> None:
    """Ctrl+Z (Ctrl+Shift+Z) on the window's tab bar: a widget with no undo of its own."""
    target = window.tabs.tabBar()
    target.setFocus()
    qtbot.waitUntil(target.hasFocus, timeout=2000)
    modifiers = Qt.KeyboardModifier.ControlModifier
    if redo:
        modifiers |= Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(target, Qt.Key.Key_Z, modifiers)


def with_units(spec, units):
    layers = list(spec.layers)
    layers[0] = layers[0].with_config(units=units)
    return spec.with_layers(layers)


# -- Undo / Redo during a run -----------------------------------------------------------------------------
def test_ctrl_z_and_ctrl_shift_z_work_when_idle(window, qtbot):
    doc = window.document
    original = doc.spec
    doc.change("Set units to 32", spec=with_units(original, 32))
    doc.change("Set units to 16", spec=with_units(original, 16))
    press_undo(window, qtbot)  # one key press, one step
    assert doc.spec.layers[0].config["units"] == 32 and window.undo_action.toolTip() == "Undo Set units to 32"
    press_undo(window, qtbot)
    assert doc.spec == original
    press_undo(window, qtbot, redo=True)
    assert doc.spec.layers[0].config["units"] == 32


def test_ctrl_z_during_a_run_changes_nothing_and_the_saved_file_matches_the_editor(window, qtbot, dialogs, tmp_path):
    doc = window.document
    doc.change("Set units to 32", spec=with_units(doc.spec, 32))
    edited = doc.spec
    start_run(window, qtbot)

    press_undo(window, qtbot)
    QApplication.processEvents()

    assert doc.spec == edited  # the run trains this spec: it must not change under it
    assert not window.undo_action.isEnabled() and "training runs" in window.undo_action.statusTip()
    assert "training runs" in window.undo_action.toolTip()
    stop_run(window, qtbot)
    assert window.undo_action.isEnabled()
    path = tmp_path / "trained.nnz"
    dialogs.save_path = str(path)
    assert window.save_as()
    saved = core.load_model(path)
    assert saved.to_spec() == doc.spec == edited  # the file holds what the editor shows
    first_row = window.layer_editor.model.data(window.layer_editor.model.index(0, 0))
    assert first_row.startswith("1. Dense 32 →"), first_row
    assert saved.get_weights()["layers.0.W"].shape == (64, 32) and saved.epochs_done >= 1
    # Idle again: Ctrl+Z undoes the edit and drops the network trained for it (undo keeps it).
    press_undo(window, qtbot)
    assert doc.spec.layers[0].config["units"] == 64
    assert doc.network is None or doc.network.to_spec().layers == doc.spec.layers


def test_redo_during_a_run_changes_nothing(window, qtbot):
    doc = window.document
    original = doc.spec
    doc.change("Set units to 32", spec=with_units(original, 32))
    press_undo(window, qtbot)
    start_run(window, qtbot)
    press_undo(window, qtbot, redo=True)
    assert doc.spec == original and not window.redo_action.isEnabled()
    assert doc.redo() is False and doc.spec == original  # the document refuses too, with a reason
    assert "not available while training runs" in window.message_bar.text
    stop_run(window, qtbot)
    assert window.redo_action.isEnabled()
    press_undo(window, qtbot, redo=True)
    assert doc.spec.layers[0].config["units"] == 32


# -- a run is unsaved work ----------------------------------------------------------------------------------
def save_first(window, dialogs, tmp_path):
    path = tmp_path / "model.nnz"
    dialogs.save_path = str(path)
    assert window.save_as()
    assert not window.document.modified and not window.isWindowModified()
    return path


def test_the_title_shows_a_run_in_progress_as_unsaved(window, qtbot, dialogs, tmp_path):
    save_first(window, dialogs, tmp_path)
    start_run(window, qtbot)
    assert window.document.modified and window.isWindowModified()
    stop_run(window, qtbot)
    assert window.isWindowModified()  # the trained weights are not saved yet


def test_closing_during_a_run_asks_and_cancel_keeps_it_running(window, qtbot, dialogs, tmp_path):
    save_first(window, dialogs, tmp_path)
    start_run(window, qtbot)
    dialogs.save_changes_answer = "cancel"
    window.close()
    assert dialogs.asked[-1] == "save_changes" and "Training is still running" in dialogs.save_changes_details[-1]
    assert window.isVisible() and window.controller.state == "running" and window.document.training_active
    with qtbot.waitSignal(window.controller.epochReport, timeout=RUN_TIMEOUT):
        pass  # still training


def test_closing_during_a_run_and_discarding_stops_the_run_and_closes(window, qtbot, dialogs, tmp_path):
    path = save_first(window, dialogs, tmp_path)
    before = path.read_bytes()
    start_run(window, qtbot)
    dialogs.save_changes_answer = "discard"
    window.close()
    assert dialogs.asked[-1] == "save_changes"
    assert not window.isVisible()
    assert window.controller.state == "idle" and not window.controller.thread_running
    assert path.read_bytes() == before


def test_closing_during_a_run_and_saving_writes_the_run_then_closes(window, qtbot, dialogs, tmp_path):
    path = save_first(window, dialogs, tmp_path)
    assert core.load_model(path).epochs_done == 0
    start_run(window, qtbot)
    dialogs.save_changes_answer = "save"
    window.close()
    assert not window.isVisible() and not window.controller.thread_running
    assert core.load_model(path).epochs_done >= 1  # the progress of the run was saved


def test_opening_another_model_during_a_run_asks_first(window, qtbot, dialogs, tmp_path):
    other = tmp_path / "other.nnz"
    core.save_model(core.Network.from_spec(window.document.spec), other)
    save_first(window, dialogs, tmp_path)
    start_run(window, qtbot)
    dialogs.save_changes_answer = "cancel"
    assert window.open_path(other) is False
    assert window.controller.state == "running" and window.document.path.name == "model.nnz"
    dialogs.save_changes_answer = "discard"
    assert window.open_path(other) is True
    assert window.controller.state == "idle" and window.document.path == other
