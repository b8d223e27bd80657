"""Training runs for one document: start, pause, step, stop, knobs, clean shutdown.

``TrainingController`` lives in the GUI thread. Each run gets a fresh ``TrainingWorker``
moved to a fresh QThread (see training_worker.py). The rules from PITFALLS.md (QThread):

- every worker signal is connected, queued, to a bound slot of this GUI-thread object
  before ``thread.start()``; never to a lambda;
- pause / step / stop / knobs go to the thread-safe ``WorkerControl``, which the loop polls
  between batches, never to slots of the busy worker;
- a QThread is never dropped while running: the controller keeps it until ``wait`` says it
  ended (``shutdown`` returns False otherwise, and the thread is kept);
- ``quit()`` + ``wait(timeout)`` at the end of every run and in ``shutdown``.

The controller relays what the worker sends as GUI-thread signals: one ``batchReport`` /
``epochReport`` / ``changeEvent`` per report, and ``reportsReceived(tuple)`` once per packet
(at most ~20 per second; plots use that one). Tests and widgets wait on these signals.

Runs begin and end in the ``nnstudio.background.work`` vocabulary (kind ``"training"``), in the
GUI thread: ``started(kind)`` when a run starts; ``finished(kind, RunEnd)`` when it ends
"finished", "stopped" or "diverged" (the network is trained as far as it got: a stop is a
result, so ``cancelled`` is never emitted), or ``failed(kind, message, details)`` on an
exception (and a message to the user). The document and the controller's state are
already updated when these are emitted.

States: "idle" → start() → "running" ⇄ "paused" → stop() → "stopping" → "idle".
Stepping from idle starts paused.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QThread, Signal, Slot

import core
from core import Network
from nnstudio.background.work import BackgroundWork
from nnstudio.controllers.cpu_affinity import core_split, pin_this_thread, thread_cpus
from nnstudio.controllers.training_worker import (
    KIND,
    ReportPacket,
    RunEnd,
    TrainingJob,
    TrainingWorker,
    WorkerControl,
)
from nnstudio.messages import describe_failure
from nnstudio.settings import app_settings
from nnstudio.state.document import Document

__all__ = [
    "BLAS_THREADS_KEY",
    "IDLE",
    "PAUSED",
    "RUNNING",
    "STOPPING",
    "RunInfo",
    "TrainingController",
    "blas_threads_setting",
    "default_blas_threads",
    "settings_label",
]

IDLE, RUNNING, PAUSED, STOPPING = "idle", "running", "paused", "stopping"
#: QSettings key: BLAS threads for training (default: 1 on ≤ 2 cores, else cores - 1).
BLAS_THREADS_KEY = "training/blasThreads"
#: How long to wait for a thread whose run already returned to leave its event loop.
_JOIN_MS = 5000


def default_blas_threads(cpu_count: int | None = None) -> int:
    """1 on machines with ≤ 2 cores (leave a core to the GUI), else cores - 1."""
    n = cpu_count if cpu_count is not None else (os.cpu_count() or 1)
    return 1 if n <= 2 else n - 1


def blas_threads_setting() -> int:
    """The "training/blasThreads" setting when it is a positive integer, else the default."""
    value = app_settings().value(BLAS_THREADS_KEY)
    try:
        n = int(value)
    except (TypeError, ValueError):
        return default_blas_threads()
    return n if n >= 1 else default_blas_threads()


def settings_label(optimizer: str, learning_rate: float, batch_size: int) -> str:
    """Key settings of a run for a legend: "Adam lr 0.001, batch 32"."""
    return f"{optimizer} lr {learning_rate:g}, batch {batch_size}"


@dataclass(frozen=True)
class RunInfo:
    """Facts about a run, fixed when it starts. Epochs are counted over the network's whole
    life: the run trains epochs ``start_epoch + 1`` … ``end_epoch``. ``fresh``: the network
    had never been trained (its first run from freshly drawn weights)."""

    run_id: int
    start_epoch: int
    epochs: int
    n_train: int
    n_val: int
    batch_size: int
    optimizer: str
    learning_rate: float
    loss: str
    fresh: bool

    @property
    def end_epoch(self) -> int:
        return self.start_epoch + self.epochs

    @property
    def batches_per_epoch(self) -> int:
        return max(-(-self.n_train // max(self.batch_size, 1)), 1)

    def label(self) -> str:
        """Key settings for a legend: "Adam lr 0.001, batch 32"."""
        return settings_label(self.optimizer, self.learning_rate, self.batch_size)


@dataclass
class _Run:
    info: RunInfo
    network: Network
    control: WorkerControl
    worker: TrainingWorker
    thread: QThread


class TrainingController(BackgroundWork):
    """Starts and steers training runs of ``document``'s network (one run at a time).

    ``started`` / ``finished`` / ``failed`` (see the module doc) plus the run's own signals:"""

    stateChanged = Signal(str)
    batchReport = Signal(object)
    epochReport = Signal(object)
    changeEvent = Signal(object)
    #: Every report of one worker packet, in run order (a tuple); emitted after the per-report signals.
    reportsReceived = Signal(object)
    #: True when the worker is blocked waiting for a command (paused, or a step finished).
    waitingChanged = Signal(bool)

    def __init__(self, document: Document, parent: QObject | None = None):
        super().__init__(parent)
        self.setObjectName("trainingController")
        self._document = document
        self._state = IDLE
        self._run: _Run | None = None
        self._run_counter = 0
        self._last_info: RunInfo | None = None
        self._last_outcome: RunEnd | None = None
        self._last_network: Network | None = None
        self._waiting = False
        #: Threads that did not end in time: kept referenced, since a QThread garbage-collected
        #: while running aborts the process.
        self._zombies: list[tuple[QThread, TrainingWorker]] = []
        #: The GUI thread's CPUs before a run moved it off the training core (cpu_affinity).
        self._gui_cpus: frozenset[int] | None = None

    # -- read-only state -----------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self._state

    @property
    def waiting(self) -> bool:
        """The worker reported that it is blocked until resume / step / stop."""
        return self._waiting

    @property
    def run_info(self) -> RunInfo | None:
        """The current run's facts, or the last run's when idle (None before any run)."""
        return self._run.info if self._run is not None else self._last_info

    @property
    def last_outcome(self) -> RunEnd | None:
        """How the last run ended (status, message, batches, CPU seconds), None before any."""
        return self._last_outcome

    @property
    def network(self) -> Network | None:
        """The network of the current (or last) run. Never read its weights while a run is
        active: use ``document.snapshot``."""
        return self._run.network if self._run is not None else self._last_network

    @property
    def thread_running(self) -> bool:
        """A training thread (current or left over from a timed-out shutdown) still runs."""
        self._reap_zombies()
        return (self._run is not None and self._run.thread.isRunning()) or bool(self._zombies)

    # -- commands ------------------------------------------------------------------------------------
    def start(self) -> bool:
        """Train (or continue) for ``document.training.epochs`` epochs. True if a run started."""
        return self._start(None)

    def pause(self) -> None:
        if self._run is not None and self._state == RUNNING:
            self._run.control.pause()
            self._set_state(PAUSED)

    def resume(self) -> None:
        if self._run is not None and self._state == PAUSED:
            self._set_waiting(False)
            self._run.control.resume()
            self._set_state(RUNNING)

    def step_batch(self) -> None:
        """Train exactly one batch, then pause (from idle: start a run paused)."""
        self._step(lambda control: control.step_batch())

    def step_epoch(self) -> None:
        """Train to the end of the current epoch (a whole one at its start), then pause."""
        self._step(lambda control: control.step_epoch())

    def inspect_next_batch(self, job: Callable[[Network, object, object], None]) -> bool:
        """While a run is paused: run ``job(network, x, targets)`` in the training thread on
        the batch the run trains next (``core.TrainingControl.inspect``). ``job`` must only
        copy what it needs (the run's network is live) and deliver its result to the GUI
        thread itself (a queued signal). False, and nothing queued, unless a run is paused."""
        if self._run is None or self._state != PAUSED:
            return False
        self._run.control.inspect(job)
        return True

    def stop(self) -> None:
        """Stop after the current batch; the model stays usable (``finished`` with a RunEnd
        whose status is "stopped")."""
        if self._run is not None and self._state in (RUNNING, PAUSED):
            self._set_waiting(False)
            self._run.control.stop()
            self._set_state(STOPPING)

    def set_learning_rate(self, value: float) -> bool:
        """Use ``value`` from the next batch of the current run (recorded as a ChangeEvent).
        False when no run is active or the value is not a positive finite number (the user
        is told why)."""
        try:
            lr = float(value)
        except (TypeError, ValueError):
            lr = math.nan
        if not (math.isfinite(lr) and lr > 0):
            self._document.notify(f"The learning rate must be a positive number, not {value!r}.", "warning")
            return False
        if self._run is None or self._state == STOPPING:
            return False
        self._run.control.set_learning_rate(lr)
        return True

    def set_batch_size(self, value: int) -> bool:
        """Use batches of ``value`` samples from the next batch of the current run."""
        if self._run is None or self._state == STOPPING:
            return False
        try:
            self._run.control.set_batch_size(value)
        except (core.SpecError, TypeError, ValueError) as exc:
            self._document.notify(f"Batch size not changed: {exc}", "warning")
            return False
        return True

    def reset_weights(self) -> bool:
        """Forget training (idle only): the next run starts from weights drawn from the seed."""
        if self._state != IDLE:
            return False
        self._document.reset_weights()
        return True

    def shutdown(self, timeout_ms: int = 3000) -> bool:
        """Stop any run and join its thread. True when no training thread is left running.

        Ends the run synchronously (document updated, ``finished`` emitted) so the caller
        can replace the document or close the window right after.
        """
        run = self._run
        if run is None:
            return not self.thread_running
        run.control.stop()
        if self._state != STOPPING:
            self._set_state(STOPPING)
        run.thread.quit()  # remembered even if the run has not returned to the event loop yet
        if not run.thread.wait(int(timeout_ms)):
            return False
        outcome = run.worker.outcome or RunEnd(run.info.run_id, "stopped", "training was stopped")
        self._finish(run, outcome)
        return not self.thread_running

    # -- internals -----------------------------------------------------------------------------------
    def _step(self, command: Callable[[WorkerControl], None]) -> None:
        if self._state == IDLE:
            self._start(command)
        elif self._run is not None and self._state in (RUNNING, PAUSED):
            self._set_waiting(False)
            command(self._run.control)
            self._set_state(PAUSED)

    def _start(self, command: Callable[[WorkerControl], None] | None) -> bool:
        if self._state != IDLE:
            return False
        self._reap_zombies()
        doc = self._document
        try:
            # Everything that can fail happens before the document is marked as training.
            splits = doc.splits()
            network = doc.network_for_training()
            config = doc.training
            fresh = network.epochs_done == 0 and not network.history.batches["progress"]
            info = RunInfo(self._run_counter + 1, network.epochs_done, config.epochs, len(splits.y_train),
                           len(splits.y_val), config.batch_size, network.optimizer.type_name,
                           float(network.optimizer.learning_rate), network.loss.name, fresh)
            validation = (splits.x_val, splits.y_val) if len(splits.y_val) else None
            control = WorkerControl()
            if command is not None:
                command(control)  # before the thread starts: the very first batch obeys it
            blas_threads = blas_threads_setting()
            split = core_split(blas_threads)
            job = TrainingJob(info.run_id, network, splits.x_train, splits.y_train, validation, config.epochs,
                              config.batch_size, config.shuffle, blas_threads,
                              training_cpu=split[0] if split is not None else None)
        except Exception as exc:  # broad on purpose: a slot must show a sentence, never raise
            text, details = describe_failure("Training cannot start", exc)
            doc.notify(text, "error", details)
            return False
        self._run_counter += 1
        worker = TrainingWorker(job, control)
        thread = QThread()
        thread.setObjectName(f"trainingThread{info.run_id}")
        worker.moveToThread(thread)
        # Connect everything before start(), queued, to bound slots of this GUI-thread object.
        worker.progressed.connect(self._on_worker_progressed, Qt.ConnectionType.QueuedConnection)
        worker.finished.connect(self._on_worker_finished, Qt.ConnectionType.QueuedConnection)
        worker.failed.connect(self._on_worker_failed, Qt.ConnectionType.QueuedConnection)
        thread.started.connect(worker.run)
        self._run = _Run(info, network, control, worker, thread)
        self._waiting = False
        doc.set_training_active(True)
        self._state = PAUSED if command is not None else RUNNING
        self.started.emit(KIND)
        self.stateChanged.emit(self._state)
        # Paint the run's first frame (greyed editor, reset axes, buttons, progress) now,
        # before the training thread starts: painted later it would compete with the first
        # batches for the GIL, and GUI time in contention costs training 1-2x its length.
        QCoreApplication.sendPostedEvents(None, QEvent.Type.UpdateRequest)
        if split is not None:
            cpus = thread_cpus()
            if cpus is not None and pin_this_thread(split[1]):
                self._gui_cpus = cpus  # given back in _finish
        thread.start()
        return True

    @Slot(str, object)
    def _on_worker_progressed(self, _kind: str, packet: ReportPacket) -> None:
        run = self._run
        if run is None or packet.run_id != run.info.run_id:
            return  # from a run that shutdown() already ended
        reports = packet.reports
        if reports:
            for r in reports:
                if isinstance(r, core.BatchReport):
                    self.batchReport.emit(r)
                elif isinstance(r, core.EpochReport):
                    self.epochReport.emit(r)
                else:
                    self.changeEvent.emit(r)
            self.reportsReceived.emit(reports)
        if packet.snapshot is not None:
            self._document.set_snapshot(packet.snapshot)
        if packet.waiting and packet.generation == run.control.generation and self._state in (PAUSED, RUNNING):
            self._set_waiting(True)

    @Slot(str, object)
    def _on_worker_finished(self, _kind: str, outcome: RunEnd) -> None:
        self._end_run(outcome)

    @Slot(str, str, str)
    def _on_worker_failed(self, _kind: str, _message: str, _details: str) -> None:
        # The worker set ``outcome`` (status "failed", with the batches and CPU time of the
        # run) before emitting; a signal of an earlier run finds the current worker's unset.
        run = self._run
        if run is not None and run.worker.outcome is not None:
            self._end_run(run.worker.outcome)

    def _end_run(self, outcome: RunEnd) -> None:
        run = self._run
        if run is None or outcome.run_id != run.info.run_id:
            return  # from a run that shutdown() already ended
        run.thread.quit()
        if not run.thread.wait(_JOIN_MS):
            self._zombies.append((run.thread, run.worker))
        self._finish(run, outcome)

    def _finish(self, run: _Run, outcome: RunEnd) -> None:
        """End ``run`` in the GUI thread: its thread has ended (or is kept as a zombie)."""
        run.worker.progressed.disconnect(self._on_worker_progressed)
        run.worker.finished.disconnect(self._on_worker_finished)
        run.worker.failed.disconnect(self._on_worker_failed)
        if self._gui_cpus is not None:
            pin_this_thread(self._gui_cpus)  # the GUI thread may use every core again
            self._gui_cpus = None
        self._run = None
        self._last_info = run.info
        self._last_network = run.network
        self._last_outcome = outcome
        doc = self._document
        doc.set_training_active(False)
        if outcome.batches:
            doc.network_trained(run.network, outcome.snapshot)
        self._set_waiting(False)
        self._set_state(IDLE)
        if outcome.status == "failed":
            doc.notify(outcome.message, "error", outcome.details)
            self.failed.emit(KIND, outcome.message, outcome.details)
            return
        if outcome.status == "diverged":
            doc.notify(f"Training diverged: {outcome.message}", "warning")
        self.finished.emit(KIND, outcome)

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.stateChanged.emit(state)

    def _set_waiting(self, waiting: bool) -> None:
        if waiting != self._waiting:
            self._waiting = waiting
            self.waitingChanged.emit(waiting)

    def _reap_zombies(self) -> None:
        self._zombies = [(t, w) for t, w in self._zombies if not t.wait(0)]
