"""Run "Teach it your handwriting" (core.training.finetune.fine_tune) off the GUI thread.

``HandwritingTuner`` speaks the background vocabulary (``nnstudio.background.work``) with
kind ``"handwriting"``: ``started``, ``progressed(kind, (fraction, text))``, then one of
``finished(kind, FineTuneResult)``, ``failed(kind, message, details)`` or ``cancelled(kind)``.

The job runs in a private one-thread ``QThreadPool`` with one BLAS thread (the budget of 20 s
for 10 drawings per digit is measured on one core, and the GUI keeps the other). It gets a
copy of the base network (``inference_copy``, made here in the GUI thread), so the network
the Draw tab predicts with is never read by two threads. A relay ``QObject`` living in the
GUI thread carries the worker's news back as queued signals to bound methods (PITFALLS.md,
QThread 5 and 6); Cancel sets a ``threading.Event`` that ``fine_tune`` polls before every
step.
"""

from __future__ import annotations

import threading
import time
import traceback
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, QThreadPool, Signal

import core
from core import Network
from core.data import DataError
from nnstudio.background.work import BackgroundWork
from nnstudio.controllers.training_worker import blas_controller

if TYPE_CHECKING:  # core.training.finetune loads when a tuning starts (start-up need not pay for it)
    from core.training import FineTuneResult

__all__ = ["KIND", "HandwritingTuner"]

KIND = "handwriting"
#: Least time between two progress signals (the bar repaints synchronously, ~2 ms).
PROGRESS_INTERVAL = 0.05
#: Errors that describe the user's drawings or network, not a bug: shown as the sentence.
USER_ERRORS = (core.TrainingError, core.SpecError, DataError)


class _Relay(QObject):
    """Emitted from the pool's thread; lives in the GUI thread, so delivery is queued."""

    progressed = Signal(int, float, str)
    finished = Signal(int, object)
    failed = Signal(int, str, str)


class HandwritingTuner(BackgroundWork):
    """``start(network, x, y)`` fine-tunes a copy of ``network`` on drawings x (n,
    *input_shape) with labels y (n,); ``cancel()`` stops it (no result); ``wait()`` blocks
    until no job runs (shutdown, tests). One job at a time."""

    def __init__(self, parent: QObject | None = None, *, seed: int | None = None,
                 seconds_budget: float = 20.0):
        super().__init__(parent)
        # Created before the relay: Qt deletes children in creation order and the pool's
        # destructor waits for its job, so the relay outlives every emission.
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._relay = _Relay(self)
        self._relay.progressed.connect(self._on_relay_progressed)
        self._relay.finished.connect(self._on_relay_finished)
        self._relay.failed.connect(self._on_relay_failed)
        self._blas = blas_controller()
        self._seed = seed
        self._budget = seconds_budget
        self._job = 0
        self._stop: threading.Event | None = None

    def busy(self) -> bool:
        return self._stop is not None

    def start(self, network: Network, x: np.ndarray, y: np.ndarray) -> bool:
        """Start a fine-tune; False (nothing started) while one runs."""
        if self.busy():
            return False
        self._job += 1
        job, stop = self._job, threading.Event()
        self._stop = stop
        base = network.inference_copy()  # the worker never reads the Draw tab's network
        base.metadata = dict(network.metadata)
        x, y = np.array(x, copy=True), np.array(y, copy=True)
        relay, blas, budget = self._relay, self._blas, self._budget
        seed = self._seed if self._seed is not None else int(np.random.default_rng().integers(2 ** 31))
        from core.training import fine_tune  # here, on the GUI thread, the first time a tuning starts

        def report(fraction: float, text: str, last=[0.0]) -> None:  # noqa: B006 (a cell)
            now = time.perf_counter()
            if now - last[0] >= PROGRESS_INTERVAL or fraction >= 1.0:
                last[0] = now
                relay.progressed.emit(job, fraction, text)

        def run() -> None:
            try:
                with blas.limit(limits=1, user_api="blas"):
                    result = fine_tune(base, x, y, seed=seed, seconds_budget=budget,
                                       progress=report, should_stop=stop.is_set)
            except USER_ERRORS as exc:
                relay.failed.emit(job, str(exc), "")
                return
            except Exception as exc:  # broad on purpose: every failure must reach the user
                relay.failed.emit(job, f"Teaching stopped with an internal error: {exc}", traceback.format_exc())
                return
            relay.finished.emit(job, result)

        self._pool.start(run)
        self.started.emit(KIND)
        return True

    def cancel(self) -> None:
        """Ask the running job to stop; ``cancelled`` follows when it has."""
        if self._stop is not None:
            self._stop.set()

    def wait(self, msecs: int = 30_000) -> bool:
        """Block until the job has run (for shutdown and tests); False on timeout."""
        return self._pool.waitForDone(msecs)

    def shutdown(self, msecs: int = 30_000) -> bool:
        """Cancel and wait (the window closes)."""
        self.cancel()
        return self.wait(msecs)

    # -- relay slots (GUI thread) ---------------------------------------------------------------
    def _current(self, job: int) -> bool:
        return job == self._job and self._stop is not None

    def _on_relay_progressed(self, job: int, fraction: float, text: str) -> None:
        if self._current(job):
            self.progressed.emit(KIND, (fraction, text))

    def _on_relay_finished(self, job: int, result: FineTuneResult) -> None:
        if not self._current(job):
            return
        cancelled = self._stop is not None and self._stop.is_set()
        self._stop = None
        if cancelled:
            self.cancelled.emit(KIND)
        else:
            self.finished.emit(KIND, result)

    def _on_relay_failed(self, job: int, message: str, details: str) -> None:
        if self._current(job):
            self._stop = None
            self.failed.emit(KIND, message, details)
