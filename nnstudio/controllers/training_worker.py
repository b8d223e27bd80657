"""The training worker: drives ``core.run_training`` on its own QThread and reports in packets.

One worker per run. The controller (GUI thread) builds a ``TrainingJob``, moves a
``TrainingWorker`` to a fresh QThread, connects its signals to bound GUI-thread slots with
queued connections, then starts the thread (see PITFALLS.md, QThread).

Report coalescing: with batch size 1 the loop yields tens of thousands of reports per
second; one queued signal each would flood the GUI's event queue. The worker collects
reports and sends them as one immutable ``ReportPacket`` at most every ``report_interval``
seconds (10 per second by default: the dashboard draws at ≤ 5 Hz, and every packet
wakes the GUI thread, which then takes the GIL from the training thread), plus:

- right before the loop blocks (paused, or a step finished), so the GUI always shows
  exactly where training stands while it waits (``ReportPacket.waiting``);
- at the end of the run, before ``finished`` / ``failed``.

Snapshots: at an epoch end the worker copies the weights (``Network.inference_copy``) for
predictions, so nothing ever reads the live network from another thread. On tiny datasets
an epoch lasts microseconds, so copies are limited to one per ``snapshot_interval``
seconds while running freely; an epoch ending while paused/stepping, and the run's last
epoch, are always copied.

Pause, step, stop and knob changes never go through slots (a worker busy in its loop never
runs queued calls): the controller calls the thread-safe ``WorkerControl`` directly.

Signals (``nnstudio.background.work`` vocabulary, kind ``"training"``, emitted in the worker
thread): ``started``; ``progressed(kind, ReportPacket)``; then ``finished(kind, RunEnd)``
when the run ends "finished", "stopped" (the network stays usable: a stop is a result,
never ``cancelled``) or "diverged", or ``failed(kind, message, details)`` when it raised.
``outcome`` holds the RunEnd in every case (a "failed" one too) as soon as the end
signal is emitted.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import numpy as np
from PySide6.QtCore import Slot
from threadpoolctl import ThreadpoolController

import core
from core import BatchReport, ChangeEvent, EpochReport, Network, TrainingControl, run_training
from core.data import DataError
from core.training.loop import drive
from nnstudio.background.work import BackgroundWork
from nnstudio.controllers.cpu_affinity import pin_this_thread

__all__ = ["KIND", "ReportPacket", "RunEnd", "TrainingJob", "TrainingWorker", "WorkerControl", "readable_error"]

#: The ``kind`` every signal of the training worker and controller carries.
KIND = "training"

#: Errors that describe a problem with the user's settings or data, not a bug.
USER_ERRORS = (core.TrainingError, core.SpecError, core.ShapeError, DataError)


@dataclass(frozen=True)
class TrainingJob:
    """Everything one run needs. x: (n, *input_shape); y: (n,) labels or (n, k) targets;
    ``validation``: (x_val, y_val) or None. The network is handed to the worker for the run
    and must not be touched by another thread until the run's end signal."""

    run_id: int
    network: Network
    x: np.ndarray
    y: np.ndarray
    validation: tuple[np.ndarray, np.ndarray] | None
    epochs: int
    batch_size: int
    shuffle: bool = True
    blas_threads: int = 1
    #: CPU the training thread keeps to during the run (``cpu_affinity``), None: any.
    training_cpu: int | None = None
    report_interval: float = 1.0 / 10.0
    snapshot_interval: float = 0.1


@dataclass(frozen=True)
class ReportPacket:
    """Reports in run order since the previous packet.

    ``snapshot``: weights-only copy taken at the latest epoch end in this packet, or None.
    ``waiting``: the loop is blocked after these reports until a command (resume, step,
    stop) arrives; ``generation`` is the control's command count at that moment, so a
    packet that was overtaken by a newer command can be recognised as stale.
    """

    run_id: int
    reports: tuple[BatchReport | EpochReport | ChangeEvent, ...]
    snapshot: Network | None = None
    waiting: bool = False
    generation: int = 0


@dataclass(frozen=True)
class RunEnd:
    """How a run ended. ``status``: "finished", "stopped", "diverged" or "failed" (an
    exception; ``details`` holds the traceback). ``batches``: batches trained in this run;
    ``cpu_seconds``: CPU time the training thread used. ``snapshot``: weights-only copy of
    the final weights (None after a failure or when no batch ran): the epoch-end copy when nothing changed since,
    so a finished run is copied once, not again by the GUI thread."""

    run_id: int
    status: str
    message: str
    details: str = ""
    epochs_done: int = 0
    batches: int = 0
    cpu_seconds: float = 0.0
    snapshot: Network | None = None


#: The loop's remote control. core.TrainingControl already offers what the worker needs
#: (``before_wait`` and ``generation``); the name stays for readability at call sites.
WorkerControl = TrainingControl


@cache
def blas_controller() -> ThreadpoolController:
    """The process's BLAS and OpenMP pools, found once. Finding them scans the loaded
    libraries in Python (~0.5 ms alone, 4-6 ms at the start of a run while the GUI thread
    paints); limiting them through a found controller takes microseconds."""
    return ThreadpoolController()


def readable_error(exc: BaseException) -> str:
    """A sentence for the message bar: user errors as they are, others marked unexpected."""
    if isinstance(exc, USER_ERRORS):
        return f"Training stopped: {exc}"
    return f"Training failed unexpectedly ({type(exc).__name__}: {exc}). Details has the traceback for a bug report."


class TrainingWorker(BackgroundWork):
    """Runs one ``TrainingJob``. Emits ``started``, ``progressed(KIND, ReportPacket)`` and,
    last, ``finished(KIND, RunEnd)`` or ``failed(KIND, message, details)``. ``outcome``
    holds the RunEnd (set before the end signal is emitted)."""

    def __init__(self, job: TrainingJob, control: WorkerControl):
        super().__init__()
        self._job = job
        self._control = control
        self._blas = blas_controller()  # found here, in the GUI thread, before the run
        self._pending: list[Any] = []
        self._snapshot: Network | None = None  # waiting for the next packet
        self._latest_snapshot: tuple[int, Network] | None = None  # (batches trained then, copy)
        self._announced_generation: int | None = None
        self._last_flush = 0.0
        self._last_snapshot_time = -1e9
        self._batches = 0
        self._end_epoch = 0
        self.outcome: RunEnd | None = None

    @Slot()
    def run(self) -> None:
        job, control = self._job, self._control
        cpu_start = time.thread_time()
        network = job.network
        self._batches = 0
        self._end_epoch = network.epochs_done + job.epochs
        control.before_wait = self._on_control_before_wait
        self.started.emit(KIND)
        if job.training_cpu is not None:
            pin_this_thread({job.training_cpu})  # this QThread ends with the run: no undo needed
        try:
            # One BLAS thread on small machines: a second one would wait at a barrier
            # whenever the GUI thread is busy (PITFALLS.md, BLAS threads).
            with self._blas.limit(limits=job.blas_threads, user_api="blas"):
                gen = run_training(network, job.x, job.y, epochs=job.epochs, batch_size=job.batch_size,
                                   validation_data=job.validation, shuffle=job.shuffle, control=control)
                self._last_flush = time.perf_counter()
                result = drive(gen, self._on_report)
            outcome = RunEnd(job.run_id, result.status, result.message, "", result.epochs_done, self._batches,
                             snapshot=self._final_snapshot(result.status))
        except Exception as exc:  # broad on purpose: any failure must reach the user, not kill the thread
            outcome = RunEnd(job.run_id, "failed", readable_error(exc), traceback.format_exc(),
                             network.epochs_done, self._batches)
        finally:
            control.before_wait = None
        self._flush(time.perf_counter())
        outcome = replace(outcome, cpu_seconds=time.thread_time() - cpu_start)
        self.outcome = outcome
        if outcome.status == "failed":
            self.failed.emit(KIND, outcome.message, outcome.details)
        else:
            self.finished.emit(KIND, outcome)

    def _on_report(self, report: BatchReport | EpochReport | ChangeEvent) -> None:
        """Queue one report; take a snapshot at (paced) epoch ends; flush at most every
        ``report_interval`` seconds."""
        self._pending.append(report)
        self._announced_generation = None
        now = time.perf_counter()
        if isinstance(report, BatchReport):
            self._batches += 1
        elif isinstance(report, EpochReport):
            job, network = self._job, self._job.network
            if (now - self._last_snapshot_time >= job.snapshot_interval or self._control.paused
                    or network.epochs_done >= self._end_epoch):
                self._snapshot = network.inference_copy()
                self._latest_snapshot = (self._batches, self._snapshot)
                self._last_snapshot_time = now
        if now - self._last_flush >= self._job.report_interval:
            self._flush(now)

    def _final_snapshot(self, status: str) -> Network | None:
        """A copy of the weights as the run leaves them: the last epoch-end copy when no batch
        ran since (a diverged run restored older weights afterwards, so it is copied anew)."""
        network = self._job.network
        if not network.built or self._batches == 0:
            return None  # nothing trained: the document keeps the snapshot it has
        if status != "diverged" and self._latest_snapshot is not None and self._latest_snapshot[0] == self._batches:
            return self._latest_snapshot[1]
        return network.inference_copy()

    def _flush(self, now: float, waiting: bool = False, generation: int = 0) -> None:
        if not self._pending and self._snapshot is None and not waiting:
            return
        packet = ReportPacket(self._job.run_id, tuple(self._pending), self._snapshot, waiting, generation)
        self._pending = []
        self._snapshot = None
        self._last_flush = now
        self.progressed.emit(KIND, packet)

    def _on_control_before_wait(self) -> None:
        # Called in this thread with the control's lock held, right before the loop blocks.
        # Emitting a queued signal only posts an event: it never waits for the GUI thread.
        generation = self._control.generation
        if generation == self._announced_generation:
            return  # woken by a knob change while still paused: already announced
        self._announced_generation = generation
        self._flush(time.perf_counter(), waiting=True, generation=generation)
