"""Training with a progress display on a text stream (a redrawn bar on a terminal, epoch
lines in a log)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

import numpy as np

from core.cli.errors import EXIT_FAILED, CliError
from core.network import Network
from core.spec.model import TrainingConfig
from core.training.loop import BatchReport, ChangeEvent, EpochReport, TrainingResult, drive, run_training


def train_network(network: Network, x: np.ndarray, y: np.ndarray, config: TrainingConfig,
                  validation: tuple[np.ndarray, np.ndarray] | None, stream: TextIO | None = None) -> TrainingResult:
    """Run the training loop with a progress display; CliError (exit 1) if training diverges."""
    stream = stream if stream is not None else sys.stderr
    val = validation if validation is not None and len(validation[0]) else None
    progress = Progress(stream, network.epochs_done + config.epochs)
    gen = run_training(network, x, y, epochs=config.epochs, batch_size=config.batch_size,
                       validation_data=val, shuffle=config.shuffle)
    result = drive(gen, progress.update)
    progress.close()
    if result.status == "diverged":
        raise CliError(f"training diverged: {result.message}", EXIT_FAILED)
    return result


class Progress:
    """Training progress on a text stream.

    On a terminal: one bar line ``epoch 3/10 [#########.....] 62% loss 0.123`` redrawn in
    place at most every ``interval`` seconds, replaced by a line with each epoch's metrics.
    Otherwise (a file, a pipe, a CI log): only the epoch lines. Runs longer than 100 epochs
    log about 100 epoch lines (every total/100-th epoch, the first and the last).
    """

    def __init__(self, stream: TextIO, total_epochs: int, interactive: bool | None = None,
                 interval: float = 0.1, width: int = 20, clock: Callable[[], float] = time.monotonic):
        self.stream = stream
        self.total = total_epochs
        self.interactive = _isatty(stream) if interactive is None else interactive
        self.interval = interval
        self.width = width
        self.clock = clock
        self._last = -float("inf")
        self._drawn = False

    def update(self, report: BatchReport | EpochReport | ChangeEvent) -> None:
        if isinstance(report, BatchReport):
            self._batch(report)
        elif isinstance(report, EpochReport):
            self._epoch(report)
        elif isinstance(report, ChangeEvent):
            self._write_line(f"changed {report.label()} at epoch {report.progress:.2f}")

    def _batch(self, r: BatchReport) -> None:
        if not self.interactive:
            return
        now = self.clock()
        if now - self._last < self.interval:
            return
        self._last = now
        fraction = r.progress - r.epoch
        filled = round(float(fraction * self.width))
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\repoch {r.epoch + 1}/{self.total} [{bar}] {fraction:4.0%} loss {r.loss:.4g}   ")
        self.stream.flush()
        self._drawn = True

    def _epoch(self, r: EpochReport) -> None:
        text = f"epoch {r.epoch + 1}/{self.total}  loss {r.loss:.4g}  acc {r.accuracy:.4f}"
        if r.val_loss is not None:
            text += f"  val_loss {r.val_loss:.4g}  val_acc {r.val_accuracy:.4f}"
        text += f"  ({r.seconds:.2f} s)"
        if self._should_log_epoch(r.epoch + 1):
            self._write_line(text)

    def _should_log_epoch(self, epoch: int) -> bool:
        """Every epoch of runs up to 100 epochs; about 100 lines in all for longer runs."""
        step = max(1, self.total // 100)
        return epoch % step == 0 or epoch == self.total or epoch == 1

    def _write_line(self, text: str) -> None:
        prefix = "\r" if self._drawn else ""
        pad = " " * 8 if self._drawn else ""
        self.stream.write(f"{prefix}{text}{pad}\n")
        self.stream.flush()
        self._drawn = False

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
