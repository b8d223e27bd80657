"""Start-up (issue 20, item 4): the first window is built on data read ahead in the
background, and it imports nothing heavy that it does not show (each deferred part still
works the first time the user opens it)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import nnstudio.state.document as document_module
from core.data import DataError, load_dataset
from nnstudio.state.document import DatasetChoice, Document, default_state

DIGITS = DatasetChoice("digits8x8", {})


def _recording_loader(monkeypatch, fail_first: bool = False):
    """Replace the document's dataset reader with one that records the thread it ran in
    (and fails the first time when asked), returning real 8×8 digits otherwise."""
    calls: list[str] = []

    def load_choice(choice):
        calls.append(threading.current_thread().name)
        if fail_first and len(calls) == 1:
            raise DataError("the file is damaged (test)")
        return load_dataset(choice.name, **choice.params)

    monkeypatch.setattr(document_module, "load_choice", load_choice)
    return calls


def test_preload_reads_the_dataset_off_the_gui_thread_and_hands_it_over_without_an_event_loop(qapp, monkeypatch):
    calls = _recording_loader(monkeypatch)
    document = Document(default_state())
    assert document.dataset_choice == DIGITS
    document.preload_dataset()
    assert document.finish_preload(30_000)  # no event loop runs in this test
    assert calls and calls[0] != threading.main_thread().name
    assert document.loaded_dataset() is not None and not document.dataset_loading()
    # The window's first read is the preloaded data, not a second read.
    data = document.dataset()
    assert len(calls) == 1 and data is document.loaded_dataset()
    assert np.array_equal(data.x, load_dataset("digits8x8").x)


def test_a_failed_preload_is_not_reported_and_the_next_read_says_what_went_wrong(qapp, monkeypatch):
    calls = _recording_loader(monkeypatch, fail_first=True)
    document = Document(default_state())
    unavailable: list[str] = []
    document.datasetUnavailable.connect(unavailable.append)
    document.preload_dataset()
    assert document.finish_preload(30_000)
    # Not the "the model was trained on … locate the file" message of an opened model file:
    # nothing asked for the data yet, so nothing is recorded as missing.
    assert unavailable == [] and document.dataset_problem() is None and not document.dataset_loading()
    data = document.dataset()  # read again, synchronously (it works the second time here)
    assert len(calls) == 2 and data.n_classes == 10


def test_preload_reads_no_imported_file_and_nothing_already_loaded(monkeypatch, tmp_path):
    calls = _recording_loader(monkeypatch)
    document = Document(default_state())
    document.reset(document_module.DocumentState(document.spec, document.training,
                                                 DatasetChoice("import-csv", {"path": str(tmp_path / "a.csv")})))
    document.preload_dataset()
    assert document.finish_preload(1000) and calls == [] and not document.dataset_loading()


# ----------------------------------------------------------------------------------------------
# what the first window imports, and the deferred parts working the first time they are used
# ----------------------------------------------------------------------------------------------
#: Modules the first window must not import (they load when their feature is first used): the
#: step-through machinery, every exporter and its check, fine-tuning and what only it needs.
DEFERRED = ("core.analysis.formulas", "core.analysis.finite_differences", "core.analysis.exact_sums",
            "core.analysis.walkthrough", "core.export.check", "core.export.onnx", "core.export.pytorch",
            "core.export.numpy_script", "core.export.weights", "core.training.finetune", "core.data.augment",
            "core.data.pen", "numba", "core.layers._compiled_jit")

#: Runs ``python -m nnstudio``'s own ``main`` in a fresh interpreter; at the moment the app
#: declares itself ready (NNSTUDIO_READY_FILE's hook) it records what is imported and loaded,
#: then uses the Step-through tab like a user (real clicks on the tab bar, Trace, a number,
#: the finite-difference check; waiting on the GUI-thread signals) and File ▸ Export ▸ NumPy
#: on the opened shipped model, closes the window and prints a JSON report.
_LAUNCH = r'''
import json, sys
from PySide6.QtCore import QEventLoop, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
import nnstudio.app as app

DEFERRED = json.loads(sys.argv[1])
report = {}

def loaded():
    return sorted(m for m in DEFERRED if m in sys.modules)

def click(widget, pos=None):
    QTest.mouseClick(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     pos if pos is not None else widget.rect().center())

def wait(signal, action):
    """Do ``action`` and run the event loop until ``signal`` (True) or 60 s (False), as
    qtbot.waitSignal does (QSignalSpy.wait keeps the GIL: the job it waits for never runs)."""
    seen = []
    loop = QEventLoop()
    signal.connect(lambda *args: (seen.append(args), loop.quit()))
    QTimer.singleShot(60_000, loop.quit)
    action()
    if not seen:
        loop.exec()
    return bool(seen)

def ready(_path):
    try:
        use_the_window()
    finally:  # whatever happened, the window closes and the report is printed
        for window in QApplication.topLevelWidgets():
            window.close()
        QApplication.quit()

def use_the_window():
    window = next(w for w in QApplication.topLevelWidgets() if w.objectName() == "mainWindow")
    from nnstudio.controllers import prediction
    report.update(at_ready=loaded(), dataset_loaded=window.document.loaded_dataset() is not None,
                  shipped_model_loaded=prediction._shipped.get("network") is not None,
                  predictor=window.draw_panel.predictor is not None,
                  current_tab=window.tabs.tabText(window.tabs.currentIndex()))
    view = window.step_view
    bar = window.tabs.tabBar()
    click(bar, bar.tabRect(window.tabs.indexOf(view)).center())
    report["step_tab_current"] = window.tabs.currentWidget() is view and view.isVisible()
    report["traced"] = wait(view.controller.traced, lambda: click(view.trace_button))
    result = view.result
    dense = next(r for r in result.trace.layers if r.type == "Dense")
    while view.stages[view.stage_index].layer != dense.index:
        click(view.forward_button)
    target = view.stage_view("output", dense.index)
    view.panels_scroll.ensureWidgetVisible(target)
    first = target.point_of(target.panel.indices[0])  # long layers show a summary of their units
    report["explained"] = wait(view.controller.explained, lambda: click(target, first))
    report["formula_title"] = view.side.formula.title_label.text()
    while not (view.stages[view.stage_index].direction == "backward"
               and view.stages[view.stage_index].layer == dense.index):
        click(view.forward_button)
    report["checked"] = wait(view.controller.checked, lambda: click(view.check_button))
    report["after_use"] = loaded()
    # File > Export > NumPy script on a trained model (the shipped one, opened): the exporter
    # and its check load now. The folder question goes through the Dialogs indirection.
    from core.resource_files import resource_file

    with resource_file("models/mnist_cnn.nnz") as path:
        report["opened"] = window.open_path(path)
    window.document.wait_for_dataset(60_000)

    class Answers:
        def new_folder_path(self, title, suggestion):
            return sys.argv[2]

    window.dialogs = Answers()
    messages = []
    window.document.message.connect(lambda text, level, details: messages.append((level, text)))
    report["export_started"] = wait(window.exports.busyChanged, window.export_actions["numpy"].trigger)
    report["exported"] = not window.exports.busy() or wait(window.exports.busyChanged, lambda: None)  # its end
    report["export_messages"] = messages
    report["after_export"] = loaded()

app._write_ready_time = ready
code = app.main(["nnstudio"])
print("REPORT " + json.dumps(report))
sys.exit(code)
'''


def test_the_first_window_imports_no_deferred_module_and_step_through_and_export_load_theirs_on_first_use(
        tmp_path):
    import json
    import os
    import subprocess
    import sys

    env = dict(os.environ, NNSTUDIO_HOME=str(tmp_path), NNSTUDIO_READY_FILE=str(tmp_path / "ready"))
    env.pop("NNSTUDIO_QUIT_AFTER_MS", None)
    result = subprocess.run([sys.executable, "-c", _LAUNCH, json.dumps(DEFERRED), str(tmp_path / "exported")],
                            env=env, capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("REPORT "))
    report = json.loads(line[len("REPORT "):])
    # Ready means: the editor filled, the data loaded, the shipped model loaded, Train shown.
    assert report["at_ready"] == [], f"imported by the first window: {report['at_ready']}"
    assert report["dataset_loaded"] and report["shipped_model_loaded"] and report["predictor"]
    assert report["current_tab"] == "Train"
    # The Step-through tab works the first time it is shown, and loads what it needs then.
    assert report["step_tab_current"] and report["traced"] and report["explained"] and report["checked"]
    assert report["formula_title"]
    assert {"core.analysis.formulas", "core.analysis.finite_differences",
            "core.analysis.exact_sums"} <= set(report["after_use"])
    assert "core.export.check" not in report["after_use"]  # still nothing exported
    # The export works the first time it is used, and loads the exporter and its check then.
    assert report["opened"] and report["export_started"] and report["exported"]
    assert report["export_messages"][-1][0] == "success", report["export_messages"]
    assert {"core.export.check", "core.export.numpy_script"} <= set(report["after_export"])
    assert (tmp_path / "exported" / "predict.py").is_file()


def test_a_preload_that_hits_a_bug_is_dropped_quietly_and_the_next_read_raises_it_where_the_window_sees_it(
        qapp, monkeypatch):
    def broken(choice):
        raise RuntimeError("a bug in a loader (test)")

    monkeypatch.setattr(document_module, "load_choice", broken)
    document = Document(default_state())
    messages: list[str] = []
    document.message.connect(lambda text, *_: messages.append(text))
    document.preload_dataset()
    assert document.finish_preload(30_000)
    # Not recorded as "missing" (which would hide the error behind a locate-the-file message
    # that nobody saw: the window did not exist yet), not loading any more.
    assert messages == [] and document.dataset_problem() is None and not document.dataset_loading()
    with pytest.raises(RuntimeError, match="a bug in a loader"):
        document.dataset()
