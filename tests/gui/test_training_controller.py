"""TrainingController: runs on a worker QThread, reports, pause/step/stop, knobs, errors, shutdown.

Every test waits on the controller's GUI-thread signals (never a worker signal, never a
sleep) and every controller is shut down and checked by the ``controller`` fixture, so no
QThread outlives its test. Comparisons of weights use one BLAS thread on both sides.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from dataclasses import replace

import numpy as np
import pytest
import threadpoolctl
from PySide6.QtCore import QtMsgType, qInstallMessageHandler
from PySide6.QtWidgets import QMainWindow

import core
from core import BatchReport, ChangeEvent, EpochReport, Network
from nnstudio.controllers import cpu_affinity, training_worker
from nnstudio.controllers.training_controller import (
    BLAS_THREADS_KEY,
    TrainingController,
    blas_threads_setting,
    default_blas_threads,
)
from nnstudio.settings import app_settings
from nnstudio.state.document import DatasetChoice, Document

RUN_TIMEOUT = 20_000


pytestmark = pytest.mark.usefixtures("one_blas_thread")


class Recorder:
    """Collects what the controller emits (its signals come in the GUI thread)."""

    def __init__(self, controller: TrainingController, document: Document):
        self.batches: list[BatchReport] = []
        self.epochs: list[EpochReport] = []
        self.changes: list[ChangeEvent] = []
        self.order: list[object] = []
        self.packets = 0
        self.states: list[str] = []
        self.messages: list[tuple[str, str, str]] = []
        self.snapshots = 0
        self.active: list[bool] = []
        controller.batchReport.connect(self.on_batch)
        controller.epochReport.connect(self.on_epoch)
        controller.changeEvent.connect(self.on_change)
        controller.reportsReceived.connect(self.on_packet)
        controller.stateChanged.connect(self.states.append)
        document.message.connect(self.on_message)
        document.snapshotChanged.connect(self.on_snapshot)
        document.trainingActiveChanged.connect(self.active.append)

    def on_batch(self, r):
        self.batches.append(r)
        self.order.append(r)

    def on_epoch(self, r):
        self.epochs.append(r)
        self.order.append(r)

    def on_change(self, r):
        self.changes.append(r)
        self.order.append(r)

    def on_packet(self, reports):
        self.packets += 1

    def on_message(self, text, level, details):
        self.messages.append((text, level, details))

    def on_snapshot(self):
        self.snapshots += 1


@pytest.fixture
def controller(qtbot, document):
    c = TrainingController(document)
    yield c
    assert c.shutdown(), "the training thread did not stop"
    assert not c.thread_running and c.state == "idle"


@pytest.fixture
def rec(controller, document):
    return Recorder(controller, document)


def configure(document: Document, **training) -> None:
    document.change("test settings", training=replace(document.training, **training))


def wait_until_waiting(qtbot, controller):
    qtbot.waitUntil(lambda: controller.waiting, timeout=RUN_TIMEOUT)


def assert_nothing_arrives(qtbot, rec, ms=300):
    """The report count stays put: waiting for it to grow must time out."""
    n = len(rec.order)
    with pytest.raises(qtbot.TimeoutError):
        qtbot.waitUntil(lambda: len(rec.order) > n, timeout=ms)


def reference_weights(document: Document, epochs: int) -> dict[str, np.ndarray]:
    """The same run, uninterrupted and headless (one BLAS thread, like the worker)."""
    s = document.splits()
    net = Network.from_spec(document.spec)
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        net.fit(s.x_train, s.y_train, epochs=epochs, batch_size=document.training.batch_size,
                validation_data=(s.x_val, s.y_val), shuffle=document.training.shuffle)
    return net.get_weights()


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert np.array_equal(a[key], b[key]), key


# -- a whole run -------------------------------------------------------------------------------------------
def test_short_run_reports_every_batch_and_epoch_and_finishes(qtbot, document, controller, rec):
    configure(document, epochs=3, batch_size=64)
    n_train = len(document.splits().y_train)
    per_epoch = -(-n_train // 64)
    with qtbot.waitSignal(controller.started, timeout=RUN_TIMEOUT):
        assert controller.start()
    assert controller.state == "running" and document.training_active
    assert not controller.start()  # one run at a time
    with qtbot.waitSignal(controller.finished, timeout=RUN_TIMEOUT) as done:
        pass
    assert done.args[0] == "training"
    assert done.args[1].status == "finished" and "3 epochs" in done.args[1].message
    assert len(rec.batches) == 3 * per_epoch and len(rec.epochs) == 3
    assert [b.samples_seen for b in rec.batches[:per_epoch]][-1] == n_train
    assert [e.epoch for e in rec.epochs] == [0, 1, 2] and all(e.val_loss is not None for e in rec.epochs)
    # reports arrive in run order, each epoch report right after its last batch
    last_of_epoch = [i for i, r in enumerate(rec.order) if isinstance(r, EpochReport)]
    assert all(isinstance(rec.order[i - 1], BatchReport) and rec.order[i - 1].batch == per_epoch - 1
               for i in last_of_epoch)
    assert rec.packets <= len(rec.order)  # coalesced, never more packets than reports
    assert controller.state == "idle" and rec.states[-1] == "idle" and rec.active == [True, False]
    net = document.network
    assert net is controller.network and net.epochs_done == 3 and len(net.history.epochs) == 3
    # Epoch-end copies are paced (one per snapshot_interval while running freely); the last
    # one, sent in the final packet, is also the run's final snapshot: not emitted twice.
    assert rec.snapshots >= 1 and document.snapshot is not net and document.modified
    assert_same_weights(document.snapshot.get_weights(), net.get_weights())
    assert document.snapshot is controller.last_outcome.snapshot


def test_a_finished_run_copies_its_final_weights_once(qtbot, document, controller, rec, monkeypatch):
    # The epoch-end copy the worker sends is also the run's final snapshot: the GUI thread
    # does not copy the weights again (a copy it would make holding the GIL).
    copies = []
    original = Network.inference_copy
    monkeypatch.setattr(Network, "inference_copy", lambda self: copies.append(1) or original(self))
    configure(document, epochs=1, batch_size=64)
    with qtbot.waitSignal(controller.finished, timeout=RUN_TIMEOUT):
        controller.start()
    assert len(copies) == 1 and rec.snapshots == 1
    assert_same_weights(document.snapshot.get_weights(), document.network.get_weights())


def test_continue_trains_more_epochs_from_the_current_weights(qtbot, document, controller, rec):
    configure(document, epochs=2, batch_size=128)
    for _ in range(2):
        with qtbot.waitSignal(controller.finished, timeout=RUN_TIMEOUT):
            controller.start()
    assert document.network.epochs_done == 4
    assert [e.epoch for e in rec.epochs] == [0, 1, 2, 3]
    assert controller.run_info.start_epoch == 2 and not controller.run_info.fresh
    assert_same_weights(document.network.get_weights(), reference_weights(document, 4))


# -- pause / resume / step ------------------------------------------------------------------------------------
def test_pause_stops_reports_and_resume_reaches_the_uninterrupted_weights(qtbot, document, controller, rec):
    configure(document, epochs=40, batch_size=8)
    with qtbot.waitSignal(controller.started, timeout=RUN_TIMEOUT):
        controller.start()
    qtbot.waitUntil(lambda: len(rec.batches) >= 5, timeout=RUN_TIMEOUT)
    controller.pause()
    assert controller.state == "paused"
    wait_until_waiting(qtbot, controller)
    paused_at = len(rec.batches)
    assert paused_at < 40 * 158, "the run ended before the pause: make it longer"
    assert_nothing_arrives(qtbot, rec)
    assert controller.state == "paused" and controller.thread_running
    with qtbot.waitSignal(controller.finished, timeout=RUN_TIMEOUT) as done:
        controller.resume()
        assert controller.state == "running" and not controller.waiting
    assert done.args[1].status == "finished"
    assert document.network.epochs_done == 40 and len(rec.epochs) == 40
    assert_same_weights(document.network.get_weights(), reference_weights(document, 40))


def test_step_batch_then_step_epoch_from_idle(qtbot, document, controller, rec):
    configure(document, epochs=3, batch_size=100)
    per_epoch = -(-len(document.splits().y_train) // 100)
    with qtbot.waitSignal(controller.started, timeout=RUN_TIMEOUT):
        controller.step_batch()
    assert controller.state == "paused"
    wait_until_waiting(qtbot, controller)
    assert [(b.epoch, b.batch) for b in rec.batches] == [(0, 0)]
    assert_nothing_arrives(qtbot, rec)

    controller.step_batch()
    assert not controller.waiting
    wait_until_waiting(qtbot, controller)
    assert [(b.epoch, b.batch) for b in rec.batches] == [(0, 0), (0, 1)] and not rec.epochs

    snapshots = rec.snapshots
    controller.step_epoch()  # the rest of epoch 1, exactly
    wait_until_waiting(qtbot, controller)
    assert len(rec.batches) == per_epoch and rec.batches[-1].batch == per_epoch - 1
    assert [e.epoch for e in rec.epochs] == [0] and rec.snapshots == snapshots + 1
    assert document.snapshot.epochs_done == 1
    assert_nothing_arrives(qtbot, rec)

    controller.step_epoch()  # a whole epoch from its start
    wait_until_waiting(qtbot, controller)
    assert len(rec.batches) == 2 * per_epoch and [e.epoch for e in rec.epochs] == [0, 1]
    with qtbot.waitSignal(controller.finished, timeout=RUN_TIMEOUT):
        controller.resume()
    assert_same_weights(document.network.get_weights(), reference_weights(document, 3))


def test_step_while_running_pauses_after_one_more_batch(qtbot, document, controller, rec):
    configure(document, epochs=50, batch_size=8)
    with qtbot.waitSignal(controller.started, timeout=RUN_TIMEOUT):
        controller.start()
    qtbot.waitUntil(lambda: len(rec.batches) >= 3, timeout=RUN_TIMEOUT)
    controller.step_batch()
    assert controller.state == "paused"
    wait_until_waiting(qtbot, controller)
    n = len(rec.batches)
    assert_nothing_arrives(qtbot, rec)
    controller.step_batch()
    wait_until_waiting(qtbot, controller)
    assert len(rec.batches) == n + 1


# -- stop ------------------------------------------------------------------------------------------------
def test_stop_mid_epoch_leaves_a_usable_model_that_can_continue(qtbot, document, controller, rec):
    configure(document, epochs=2, batch_size=32)
    with qtbot.waitSignal(controller.started, timeout=RUN_TIMEOUT):
        controller.step_batch()
    for _ in range(2):
        wait_until_waiting(qtbot, controller)
        controller.step_batch()
    wait_until_waiting(qtbot, controller)
    with qtbot.waitSignal(controller.finished, timeout=RUN_TIMEOUT) as done:
        controller.stop()
        assert controller.state == "stopping"
    assert (done.args[1].status, done.args[1].message) == ("stopped", "stopped during epoch 1")
    net = document.network
    assert net.epochs_done == 0 and len(net.history.batches["loss"]) == 3 and len(rec.batches) == 3
    assert_same_weights(document.snapshot.get_weights(), net.get_weights())  # after the third batch
    x_test = document.splits().x_test
    probabilities = document.snapshot.predict(x_test)
    assert probabilities.shape == (len(x_test), 10) and np.all(np.isfinite(probabilities))
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    with qtbot.waitSignal(controller.finished, timeout=RUN_TIMEOUT) as done:
        controller.start()  # Continue from the stopped weights
    assert done.args[1].status == "finished" and net.epochs_done == 2
    # core re-runs a stopped epoch from its start (epochs_done counts whole epochs only)
    assert (rec.batches[3].epoch, rec.batches[3].batch) == (0, 0)


def test_stop_while_running_ends_within_a_batch(qtbot, document, controller, rec):
    configure(document, epochs=500, batch_size=8)
    with qtbot.waitSignal(controller.started, timeout=RUN_TIMEOUT):
        controller.start()
    qtbot.waitUntil(lambda: len(rec.batches) >= 10, timeout=RUN_TIMEOUT)
    with qtbot.waitSignal(controller.finished, timeout=5000) as done:
        controller.stop()
    assert done.args[1].status == "stopped" and controller.state == "idle" and not controller.thread_running
    assert document.network.epochs_done < 500 and not document.training_active


# -- knobs ------------------------------------------------------------------------------------------------
def test_learning_rate_and_batch_size_change_from_the_next_batch(qtbot, document, controller, rec):
    configure(document, epochs=1, batch_size=32)
    with qtbot.waitSignal(controller.started, timeout=RUN_TIMEOUT):
        controller.step_batch()
    wait_until_waiting(qtbot, controller)
    assert controller.set_learning_rate(0.01) and controller.set_batch_size(5)
    assert_nothing_arrives(qtbot, rec)  # queued: nothing happens until the next batch
    controller.step_batch()
    wait_until_waiting(qtbot, controller)
    first, second = rec.batches
    assert (first.learning_rate, first.batch_size) == (0.001, 32)
    assert (second.learning_rate, second.batch_size) == (0.01, 5) and second.samples_seen == 37
    assert [c.label() for c in rec.changes] == ["lr 0.001 → 0.01", "batch 32 → 5"]
    assert rec.order.index(rec.changes[0]) == 1  # between the two batches
    assert rec.changes[0].progress == pytest.approx(32 / len(document.splits().y_train))
    assert document.network.history.events == rec.changes
    with qtbot.waitSignal(controller.finished, timeout=RUN_TIMEOUT):
        controller.resume()
    assert document.network.optimizer.learning_rate == 0.01


def test_bad_knob_values_are_refused_with_a_message(qtbot, document, controller, rec):
    assert not controller.set_learning_rate(-1.0)
    assert "positive" in rec.messages[-1][0]
    assert not controller.set_learning_rate(0.1)  # idle: nothing to change
    with qtbot.waitSignal(controller.started, timeout=RUN_TIMEOUT):
        controller.step_batch()
    wait_until_waiting(qtbot, controller)
    assert not controller.set_batch_size(0)
    assert "Batch size not changed" in rec.messages[-1][0]
    assert not controller.set_learning_rate(float("nan"))


# -- things going wrong ------------------------------------------------------------------------------------
def test_divergent_run_stops_with_the_engine_message_and_finite_weights(qtbot, document, controller, rec):
    spec = document.spec.to_dict()
    spec["layers"] = spec["layers"][:3]  # drop the softmax: unbounded outputs
    spec.update(loss="mse", optimizer={"type": "SGD", "learning_rate": 10.0})
    document.change("diverge", spec=core.NetworkSpec.from_dict(spec))
    configure(document, epochs=20, batch_size=32)
    with qtbot.waitSignal(controller.finished, timeout=RUN_TIMEOUT) as done:
        controller.start()
    status, message = done.args[1].status, done.args[1].message
    assert status == "diverged" and "Try a lower learning rate" in message and "at epoch 1, batch" in message
    text, level, _ = rec.messages[-1]
    assert level == "warning" and message in text
    for w in document.network.get_weights().values():
        assert np.all(np.isfinite(w))
    assert_same_weights(document.snapshot.get_weights(), document.network.get_weights())  # the restored ones
    assert np.all(np.isfinite(document.snapshot.predict(document.splits().x_test)))
    assert controller.state == "idle" and not document.training_active


def test_a_data_mismatch_in_the_worker_becomes_run_failed(qtbot, document, controller, rec):
    spec = document.spec.to_dict()
    spec["input_shape"] = [32]  # the digits have 64 features
    document.change("wrong input", spec=core.NetworkSpec.from_dict(spec))
    with qtbot.waitSignal(controller.failed, timeout=RUN_TIMEOUT) as failed:
        controller.start()
    kind, message, details = failed.args
    assert kind == "training"
    assert message.startswith("Training stopped: input has shape") and "(32,)" in message
    assert "Traceback" in details
    assert rec.messages[-1] == (message, "error", details)
    assert controller.state == "idle" and not document.training_active and not controller.thread_running


def test_an_unexpected_exception_in_the_worker_becomes_run_failed(qtbot, document, controller, rec, monkeypatch):
    def broken(network, x, y, **kw):
        yield from []
        raise ZeroDivisionError("boom")

    monkeypatch.setattr("nnstudio.controllers.training_worker.run_training", broken)
    with qtbot.waitSignal(controller.failed, timeout=RUN_TIMEOUT) as failed:
        controller.start()
    assert "unexpectedly" in failed.args[1] and "ZeroDivisionError: boom" in failed.args[1]
    assert "ZeroDivisionError" in failed.args[2] and controller.state == "idle"


def test_a_data_error_at_start_is_reported_and_nothing_starts(qtbot, document, controller, rec, tmp_path):
    document.change("import", dataset=DatasetChoice("import-csv", {"path": str(tmp_path / "missing.csv")}))
    assert not controller.start()
    assert controller.state == "idle" and not controller.thread_running and not document.training_active
    text, level, _ = rec.messages[-1]
    assert level == "error" and text.startswith("Training cannot start:") and "missing.csv" in text


# -- threads -----------------------------------------------------------------------------------------------
def test_blas_threads_are_limited_during_the_run_and_restored_after(qtbot, document, controller, rec):
    def blas_threads():
        return [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]

    before = blas_threads()
    with qtbot.waitSignal(controller.started, timeout=RUN_TIMEOUT):
        controller.step_batch()
    wait_until_waiting(qtbot, controller)
    assert blas_threads() and set(blas_threads()) == {1}
    with qtbot.waitSignal(controller.finished, timeout=RUN_TIMEOUT):
        controller.stop()
    assert blas_threads() == before


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="threads cannot be pinned on this system")
def test_training_and_gui_threads_get_a_core_each_during_a_run(qtbot, document, controller, rec, monkeypatch):
    pinned = []  # (native thread id, CPUs) of each pinning the worker does

    def recording_pin(cpus):
        pinned.append((threading.get_native_id(), set(cpus)))
        return cpu_affinity.pin_this_thread(cpus)

    monkeypatch.setattr(training_worker, "pin_this_thread", recording_pin)
    gui_before = os.sched_getaffinity(0)
    plan = cpu_affinity.core_split(1, gui_before)
    with qtbot.waitSignal(controller.started, timeout=RUN_TIMEOUT):
        controller.step_batch()
    wait_until_waiting(qtbot, controller)  # the worker is alive, blocked after one batch
    if plan is None:  # a single CPU: nothing to split
        assert pinned == [] and os.sched_getaffinity(0) == gui_before
    else:
        training_cpu, gui_cpus = plan
        assert os.sched_getaffinity(0) == set(gui_cpus)
        [(worker_tid, cpus)] = pinned
        assert worker_tid != threading.get_native_id() and cpus == {training_cpu}
        assert os.sched_getaffinity(worker_tid) == {training_cpu}
    with qtbot.waitSignal(controller.finished, timeout=RUN_TIMEOUT):
        controller.stop()
    assert os.sched_getaffinity(0) == gui_before  # every core back after the run


def test_core_split_plans():
    assert cpu_affinity.core_split(1, {0, 1}) == (1, frozenset({0}))
    assert cpu_affinity.core_split(1, {0, 3, 5}) == (5, frozenset({0, 3}))
    assert cpu_affinity.core_split(1, {2}) is None  # one CPU: nothing to split
    assert cpu_affinity.core_split(2, {0, 1, 2, 3}) is None  # several BLAS threads share the pool
    assert not cpu_affinity.pin_this_thread(set())


def test_blas_thread_setting():
    assert default_blas_threads(1) == 1 and default_blas_threads(2) == 1 and default_blas_threads(8) == 7
    settings = app_settings()
    settings.setValue(BLAS_THREADS_KEY, 3)
    assert blas_threads_setting() == 3
    for bad in ("many", 0, -2):
        settings.setValue(BLAS_THREADS_KEY, bad)
        assert blas_threads_setting() == default_blas_threads()


def test_shutdown_joins_a_paused_run_and_keeps_the_work(qtbot, document, controller, rec):
    with qtbot.waitSignal(controller.started, timeout=RUN_TIMEOUT):
        controller.step_batch()
    wait_until_waiting(qtbot, controller)
    finished = []
    controller.finished.connect(lambda kind, outcome: finished.append(outcome.status))
    assert controller.shutdown(timeout_ms=3000)
    assert finished == ["stopped"] and controller.state == "idle" and not controller.thread_running
    assert len(document.network.history.batches["loss"]) == 1 and not document.training_active
    assert controller.shutdown()  # idempotent


class Owner(QMainWindow):
    """A window that owns a controller and a dashboard, as the main window does."""

    def __init__(self, document, dialogs):
        super().__init__()
        from nnstudio.main_window import wire_training_commands
        from nnstudio.widgets.train.training_dashboard import TrainingDashboard

        self.controller = TrainingController(document, self)
        dashboard = TrainingDashboard(document, self.controller, dialogs)
        wire_training_commands(dashboard, self.controller)
        self.setCentralWidget(dashboard)
        self.stopped_in_time = None

    def closeEvent(self, event):
        self.stopped_in_time = self.controller.shutdown(timeout_ms=3000)
        event.setAccepted(self.stopped_in_time)


def test_closing_the_owner_mid_run_is_clean(qtbot, document, dialogs):
    configure(document, epochs=1000, batch_size=4)
    messages: list[tuple[QtMsgType, str]] = []

    def handler(kind, context, text):
        messages.append((kind, text))

    previous = qInstallMessageHandler(handler)
    try:
        with qtbot.captureExceptions() as exceptions:
            window = Owner(document, dialogs)
            window.show()
            qtbot.waitExposed(window)
            controller = window.controller
            batches = []
            controller.batchReport.connect(batches.append)
            with qtbot.waitSignal(controller.started, timeout=RUN_TIMEOUT):
                controller.start()
            qtbot.waitUntil(lambda: len(batches) >= 50, timeout=RUN_TIMEOUT)
            assert controller.state == "running"
            start = time.perf_counter()
            assert window.close()
            elapsed = time.perf_counter() - start
            assert window.stopped_in_time and elapsed < 1.0
            assert not controller.thread_running and not document.training_active
            assert document.network.epochs_done < 1000
            window.deleteLater()
            del window, controller
            qtbot.wait(50)  # let deleteLater and any stale queued packets run
            gc.collect()
    finally:
        qInstallMessageHandler(previous)
    assert not exceptions
    # The offscreen platform plugin says it cannot propagate size hints when a window shows:
    # not ours and harmless. Anything else (QThread destroyed, timers across threads…) fails.
    problems = [t for k, t in messages if k != QtMsgType.QtDebugMsg and "propagateSizeHints" not in t]
    assert not problems, problems


def test_training_runs_on_its_own_thread_and_reports_arrive_in_the_gui_thread(qtbot, document, controller,
                                                                              monkeypatch):
    import threading

    import nnstudio.controllers.training_worker as tw

    real = tw.run_training
    seen = {}

    def spy(*args, **kwargs):
        seen["loop"] = threading.get_ident()
        return (yield from real(*args, **kwargs))

    monkeypatch.setattr(tw, "run_training", spy)
    delivered = set()
    controller.batchReport.connect(lambda r: delivered.add(threading.get_ident()))
    configure(document, epochs=1, batch_size=256)
    with qtbot.waitSignal(controller.finished, timeout=RUN_TIMEOUT):
        controller.start()
    gui = threading.get_ident()
    assert seen["loop"] != gui and delivered == {gui}


def test_a_thread_that_does_not_stop_in_time_is_kept_not_dropped(qtbot, document, controller, monkeypatch):
    import threading

    release = threading.Event()

    def stuck(network, x, y, **kwargs):
        yield from ()
        release.wait(30)  # one very long batch: the stop flag is only seen between batches
        return core.TrainingResult("stopped", "stopped during epoch 1", 0)

    monkeypatch.setattr("nnstudio.controllers.training_worker.run_training", stuck)
    with qtbot.waitSignal(controller.started, timeout=RUN_TIMEOUT):
        controller.start()
    assert not controller.shutdown(timeout_ms=100)
    assert controller.thread_running and controller.state == "stopping" and document.training_active
    gc.collect()  # the thread must still be referenced: collecting it now would abort the process
    with qtbot.waitSignal(controller.finished, timeout=RUN_TIMEOUT) as done:
        release.set()
    assert done.args[1].status == "stopped" and controller.state == "idle" and not controller.thread_running
    assert controller.shutdown()
