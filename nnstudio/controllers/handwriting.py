"""Run "Teach it your handwriting" (core.training.finetune.fine_tune) off the GUI thread.

``HandwritingTuner`` speaks the background vocabulary (``nnstudio.background.work``) with
kind ``"handwriting"``: ``started``, ``progressed(kind, (fraction, text))``, then one of
``finished(kind, FineTuneResult)``, ``failed(kind, message, details)`` or ``cancelled(kind)``.

The job is a steered ``TaskRunner`` job (its own one-thread pool; ``progress`` and
``should_stop`` handed to ``fine_tune``, which polls the stop request before every step) run
with one BLAS thread: the budget of 20 s for 10 drawings per digit is measured on one core,
and the GUI keeps the other. It gets a copy of the base network (``inference_copy``, made
here in the GUI thread), so the network the Draw tab predicts with is never read by two
threads.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject

import core
from core import Network
from core.data import DataError
from nnstudio.background.task_runner import TaskRunner
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


def _teach(base: Network, x: np.ndarray, y: np.ndarray, seed: int, budget: float, blas: Any, *,
           progress: Callable[[float, str], None], should_stop: Callable[[], bool]) -> FineTuneResult:
    """The job (pool thread): fine-tune ``base`` on one BLAS thread, progress at most every
    ``PROGRESS_INTERVAL`` seconds (and at the end)."""
    from core.training import fine_tune

    last = 0.0

    def report(fraction: float, text: str) -> None:
        nonlocal last
        now = time.perf_counter()
        if now - last >= PROGRESS_INTERVAL or fraction >= 1.0:
            last = now
            progress(fraction, text)

    try:
        with blas.limit(limits=1, user_api="blas"):
            return fine_tune(base, x, y, seed=seed, seconds_budget=budget, progress=report,
                             should_stop=should_stop)
    except USER_ERRORS:
        raise  # its sentence is the message
    except Exception as exc:  # a bug: said as one, the traceback in the details
        raise RuntimeError(f"Teaching stopped with an internal error: {exc}") from exc


class HandwritingTuner(BackgroundWork):
    """``start(network, x, y)`` fine-tunes a copy of ``network`` on drawings x (n,
    *input_shape) with labels y (n,); ``cancel()`` stops it (no result); ``wait()`` blocks
    until no job runs (shutdown, tests). One job at a time."""

    def __init__(self, parent: QObject | None = None, *, seed: int | None = None,
                 seconds_budget: float = 20.0):
        super().__init__(parent)
        self._runner = TaskRunner(self)
        for theirs, ours in ((self._runner.started, self.started), (self._runner.progressed, self.progressed),
                             (self._runner.finished, self.finished), (self._runner.failed, self.failed),
                             (self._runner.cancelled, self.cancelled)):
            theirs.connect(ours)  # GUI thread to GUI thread: the runner already relayed them
        self._blas = blas_controller()
        self._seed = seed
        self._budget = seconds_budget

    def busy(self) -> bool:
        return self._runner.busy(KIND)

    def start(self, network: Network, x: np.ndarray, y: np.ndarray) -> bool:
        """Start a fine-tune; False (nothing started) while one runs."""
        if self.busy():
            return False
        base = network.inference_copy()  # the worker never reads the Draw tab's network
        base.metadata = dict(network.metadata)
        seed = self._seed if self._seed is not None else int(np.random.default_rng().integers(2 ** 31))
        self._runner.submit(KIND, _teach, base, np.array(x, copy=True), np.array(y, copy=True), seed,
                            self._budget, self._blas, steered=True)
        return True

    def cancel(self) -> None:
        """Ask the running job to stop; ``cancelled`` follows when it has."""
        self._runner.cancel(KIND)

    def wait(self, msecs: int = 30_000) -> bool:
        """Block until the job has run (for shutdown and tests); False on timeout."""
        return self._runner.wait(msecs)

    def shutdown(self, msecs: int = 30_000) -> bool:
        """Cancel and wait (the window closes)."""
        self.cancel()
        return self.wait(msecs)
