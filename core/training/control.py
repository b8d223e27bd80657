"""``TrainingControl``: the thread-safe remote control of a running training loop.

The loop (``core.training.loop.run_training``) checks it between batches: stop, pause,
resume, step a batch or an epoch, and knob changes (learning rate, batch size) that take
effect at the next batch. The GUI's worker thread and scripts drive a run only through it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from core.params import Param

#: The batch size a run may use (checked when a run starts and when a knob changes it).
BATCH_SIZE = Param("batch_size", "int", minimum=1, maximum=1_000_000, help="samples per update")


class TrainingControl:
    """Thread-safe remote control for a running loop: stop, pause, resume, step, knobs.

    Any thread may call the commands; the loop polls between batches (``_wait_turn``).
    Learning-rate and batch-size changes are queued and applied before the next batch.

    For a driver that must know when the loop blocks (a GUI worker flushing its last
    reports before a pause): ``before_wait`` is called, with the control's lock held, each
    time the loop is about to block; ``generation`` counts the commands that can release it
    (resume, step, stop), so the driver can tell a fresh wait from the same one.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()  # re-entrant: before_wait may read the control
        self._stop = False
        self._paused = False
        self._batch_credit = 0
        self._epoch_credit = False
        self._changes: list[tuple[str, Any]] = []
        self._inspections: list[Callable[[Any, np.ndarray, np.ndarray], None]] = []
        self.before_wait: Callable[[], None] | None = None
        self.generation = 0

    # commands (any thread)
    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self.generation += 1
            self._cond.notify_all()

    def pause(self) -> None:
        with self._cond:
            self._paused = True
            self._batch_credit = 0
            self._epoch_credit = False

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self.generation += 1
            self._cond.notify_all()

    def step_batch(self, count: int = 1) -> None:
        """While paused: let exactly ``count`` more batches run, then pause again."""
        with self._cond:
            self._paused = True
            self._batch_credit += int(count)
            self.generation += 1
            self._cond.notify_all()

    def step_epoch(self) -> None:
        """While paused: run to the end of the current epoch (a whole one if at its start)."""
        with self._cond:
            self._paused = True
            self._epoch_credit = True
            self.generation += 1
            self._cond.notify_all()

    def set_learning_rate(self, value: float) -> None:
        self._queue("learning_rate", float(value))

    def set_batch_size(self, value: int) -> None:
        self._queue("batch_size", BATCH_SIZE.check(value, "training"))

    def inspect(self, job: Callable[[Any, np.ndarray, np.ndarray], None]) -> None:
        """Run ``job(network, x, targets)`` in the loop's thread, right before its next batch,
        on that batch: x (batch, *input_shape) and targets (batch, k) exactly as the loop
        will train them, the network in exactly the state it will train them from. A paused
        loop runs it and stays paused; a running one runs it before that batch. ``job`` must
        not change the network (copy what it needs) and should be quick: the loop waits for it.
        """
        with self._cond:
            self._inspections.append(job)
            self._cond.notify_all()

    def _queue(self, name: str, value: Any) -> None:
        with self._cond:
            self._changes.append((name, value))
            self._cond.notify_all()

    @property
    def stopped(self) -> bool:
        return self._stop

    @property
    def paused(self) -> bool:
        return self._paused

    # loop side
    def _wait_turn(self, next_batch: Callable[[], tuple[Any, np.ndarray, np.ndarray]] | None = None) -> bool:
        """Block while paused without step credit. False once stop was requested.

        ``next_batch()``: (network, x, targets) of the batch about to be trained, for the
        ``inspect`` jobs, which run here (outside the lock, so commands are never held up).
        """
        while True:
            with self._cond:
                jobs, self._inspections = self._inspections, []
            if jobs:
                if next_batch is not None:
                    network, x, targets = next_batch()
                    for job in jobs:
                        job(network, x, targets)
                continue
            with self._cond:
                if self._inspections:
                    continue
                if self._stop:
                    return False
                if not self._paused:
                    return True
                if self._batch_credit > 0:
                    self._batch_credit -= 1
                    return True
                if self._epoch_credit:
                    return True
                if self.before_wait is not None:
                    self.before_wait()
                self._cond.wait()

    def _epoch_ended(self) -> None:
        with self._cond:
            self._epoch_credit = False

    def _take_changes(self) -> list[tuple[str, Any]]:
        with self._cond:
            changes, self._changes = self._changes, []
            return changes
