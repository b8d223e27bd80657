"""While a run goes, the GUI reads snapshots only, never the network the worker trains.

The run's network is a ``Network`` whose every attribute read is recorded when it comes
from the GUI thread while the worker's ``run`` is executing. The window is then used as a
user would during a run (every tab shown, pause, resume, step, stop) and no read may have
been recorded. Reads before the thread starts and after it ended are allowed: the network
is the GUI thread's then. (Exporting the history while paused and waiting reads the live
history on purpose: the worker is blocked at a consistent point; not exercised here.)
"""

from __future__ import annotations

import threading
import traceback
from dataclasses import replace

import pytest
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QPushButton

from core import Network
from nnstudio.controllers import training_worker
from nnstudio.state.document import DocumentState, default_state

RUN_TIMEOUT = 30_000


pytestmark = pytest.mark.usefixtures("one_blas_thread")


class _Watch:
    """Which network to watch, whether its worker runs, and the GUI-thread reads seen."""

    def __init__(self) -> None:
        self.network: Network | None = None
        self.running = False
        self.reads: list[str] = []


WATCH = _Watch()


class WatchedNetwork(Network):
    def __getattribute__(self, name: str):
        if WATCH.running and threading.current_thread() is threading.main_thread() and self is WATCH.network:
            WATCH.reads.append(f"{name} read from:\n{''.join(traceback.format_stack(limit=6)[:-1])}")
        return super().__getattribute__(name)


@pytest.fixture
def watched_window(open_main_window, monkeypatch):
    real_run = training_worker.TrainingWorker.run

    @Slot()
    def run(worker) -> None:  # a Slot, so QThread.started runs it in the worker thread
        WATCH.running = True
        try:
            real_run(worker)
        finally:
            WATCH.running = False

    monkeypatch.setattr(training_worker.TrainingWorker, "run", run)
    window = open_main_window()
    state = default_state()
    state = replace(state, training=replace(state.training, epochs=10_000, batch_size=8))
    network = Network.from_spec(state.spec)
    network.__class__ = WatchedNetwork
    WATCH.network, WATCH.reads = network, []
    window.document.reset(DocumentState(state.spec, state.training, state.dataset, network))
    yield window
    WATCH.network = None


def click(qtbot, window, name: str) -> None:
    button = window.findChild(QPushButton, name)
    assert button is not None and button.isEnabled(), name
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_the_watch_sees_a_gui_read_of_the_live_network(qtbot, watched_window):
    # The instrument itself: a read of the live network from the GUI thread mid-run is seen.
    controller = watched_window.controller
    with qtbot.waitSignal(controller.epochReport, timeout=RUN_TIMEOUT):
        click(qtbot, watched_window, "trainButton")
    assert WATCH.running
    _ = watched_window.document.network.epochs_done
    assert WATCH.reads and WATCH.reads[-1].startswith("epochs_done read from")
    with qtbot.waitSignal(controller.finished, timeout=RUN_TIMEOUT):
        click(qtbot, watched_window, "stopButton")


def test_no_panel_reads_the_live_network_during_a_run(qtbot, watched_window):
    window = watched_window
    controller, document = window.controller, window.document
    with qtbot.waitSignal(controller.started, timeout=RUN_TIMEOUT):
        click(qtbot, window, "trainButton")
    for tab in (window.draw_panel, window.evaluation_panel, window.dashboard):
        window.tabs.setCurrentWidget(tab)
        for _ in range(2):  # snapshots arrive: the shown panel refreshes from them
            with qtbot.waitSignal(document.snapshotChanged, timeout=RUN_TIMEOUT):
                pass
    click(qtbot, window, "pauseButton")
    assert controller.state == "paused"
    click(qtbot, window, "pauseButton")  # Resume
    with qtbot.waitSignal(document.snapshotChanged, timeout=RUN_TIMEOUT):
        pass
    click(qtbot, window, "pauseButton")
    qtbot.waitUntil(lambda: controller.waiting, timeout=RUN_TIMEOUT)
    with qtbot.waitSignal(controller.waitingChanged, timeout=RUN_TIMEOUT, check_params_cb=lambda w: w):
        click(qtbot, window, "stepButton")  # one batch, then waiting again
    click(qtbot, window, "pauseButton")  # Resume again
    with qtbot.waitSignal(controller.finished, timeout=RUN_TIMEOUT):
        click(qtbot, window, "stopButton")
    assert not WATCH.running and len(document.network.history.batches["loss"]) > 0
    assert WATCH.reads == [], "\n\n".join(WATCH.reads[:3])
