"""Train is enabled only when the network fits the dataset, says why not and where the fix
is, and a failure message goes away once its cause is fixed (issue 15 item 5)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtCore import Qt

from nnstudio.state.document import DatasetChoice, default_state


@pytest.fixture
def window(open_main_window):
    return open_main_window(size=(1400, 860), active=True)


def set_output_units(qtbot, window, units: int) -> None:
    """Click the last Dense layer (row 3) and type its units, as a user does."""
    editor = window.layer_editor
    view = editor.list_view
    pos = view.visualRect(view.model().index(2)).center()
    qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    spin = editor.form.editor("units")
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, str(units))
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    assert window.document.spec.layers[2].config["units"] == units


def test_train_is_disabled_with_the_reason_until_the_network_fits(window, qtbot):
    controls = window.dashboard.controls
    assert window.document.dataset_choice.name == "digits8x8"
    assert controls.train_button.isEnabled()
    set_output_units(qtbot, window, 5)
    for button in (controls.train_button, controls.step_button, controls.step_epoch_button):
        assert not button.isEnabled()
    tip = controls.train_button.toolTip()
    assert tip.startswith("Train is unavailable: The network has 5 outputs but Digits 8×8 has 10 classes")
    assert "“Fix: fit the network to Digits 8×8” under the layer list" in tip
    assert not controls.train_action.isEnabled() and not controls.step_action.isEnabled()
    # The keys cannot start it either, and nothing fails in red.
    window.layer_editor.list_view.setFocus()
    qtbot.keyClick(window.layer_editor.list_view, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window.layer_editor.list_view, Qt.Key.Key_F10)
    assert window.controller.state == "idle" and not window.message_bar.isVisible()
    # The fix the tooltip names, in the editor's problem row.
    fix = window.layer_editor.fix_button
    assert fix.isVisible() and fix.text() == "Fix: fit the network to Digits 8×8"
    qtbot.mouseClick(fix, Qt.MouseButton.LeftButton)
    assert window.document.spec.layers[2].config["units"] == 10
    assert controls.train_button.isEnabled() and controls.step_button.isEnabled()
    assert controls.train_button.toolTip().endswith("(Ctrl+Return)")
    assert "unavailable" not in controls.train_button.toolTip()


def test_a_failure_message_goes_when_its_cause_is_fixed(window, qtbot):
    # The issue's flow: a run on a network that does not fit fails with a red bar; "Fix
    # first and last layers" fixed the network but the red bar stayed. (The window no longer
    # lets Train start such a run; a script or another path can still call the controller.)
    set_output_units(qtbot, window, 5)
    with qtbot.waitSignal(window.controller.failed, timeout=10000):
        window.controller.start()
    bar = window.message_bar
    qtbot.waitUntil(bar.isVisible, timeout=2000)
    assert bar.level == "error" and "5 outputs" in bar.text
    fit_button = window.dataset_panel.fit_button
    assert fit_button.isVisible()
    qtbot.mouseClick(fit_button, Qt.MouseButton.LeftButton)
    assert window.document.spec.layers[2].config["units"] == 10
    assert not bar.isVisible()
    assert window.dashboard.controls.train_button.isEnabled()


def test_an_unrelated_message_stays_after_an_edit(window, qtbot):
    window.show_message("Could not save net.nnz: disk full. The previous file, if any, is unchanged.")
    set_output_units(qtbot, window, 7)
    set_output_units(qtbot, window, 10)
    assert window.message_bar.isVisible() and "disk full" in window.message_bar.text


def test_the_check_never_reads_an_imported_file_itself(document, monkeypatch):
    # A model may name /dev/zero or a FIFO as its imported CSV: the readiness check (run on
    # every edit) must not be what reads it on the GUI thread.
    import nnstudio.state.document as document_module
    from nnstudio.state.readiness import dataset_facts, training_problems
    from nnstudio.widgets.network.layer_editor import LayerEditor

    reads = []
    monkeypatch.setattr(document_module, "load_choice", lambda choice: reads.append(choice))
    editor = LayerEditor(document)
    document.reset(replace(default_state(), dataset=DatasetChoice("import-csv", {"path": "/dev/zero"})))
    assert dataset_facts(document) is None and training_problems(document) == []
    editor.select_row(1)
    assert [c for c in reads if c.name == "import-csv"] == []
    assert not editor.problem_frame.isVisibleTo(editor)
