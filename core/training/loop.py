"""The training loop (its thread-safe remote control is ``core.training.control``; the
reports and History it fills live in ``core.history``, re-exported here).

The loop is a plain generator (``run_training``) that yields immutable reports and checks a
``TrainingControl`` between batches, so it runs the same headless, in tests and on the
GUI's worker thread (which only drives it). ``fit`` is the callback-style wrapper.

Randomness: shuffling and dropout draw from the network's generator (seeded with the
network's seed and saved in model files); the validation split uses its own generator
derived from the seed. Same seed and data -> bit-identical weights and curves (at a fixed
BLAS thread count).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Generator, Iterable
from typing import Any

import numpy as np

from core.data.validate import check_labels
from core.errors import TrainingError

# The report types are re-exported: ``from core.training.loop import History`` keeps working.
from core.history import BatchReport, ChangeEvent, EpochReport, History, TrainingResult
from core.network import labels_of, use_training_loop
from core.training.control import BATCH_SIZE, TrainingControl


# ----------------------------------------------------------------------------------------------
# The loop
# ----------------------------------------------------------------------------------------------
def split_validation(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (train_idx, val_idx) split of ``n`` samples; ``fraction`` in [0, 1)."""
    if not 0.0 <= fraction < 1.0:
        raise TrainingError(f"validation_split must be in [0, 1), not {fraction}")
    n_val = round(float(n * fraction))
    perm = np.random.default_rng([seed, 0x5EED]).permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def run_training(network, x: np.ndarray, y: np.ndarray, *, epochs: int, batch_size: int = 32,
                 validation_data: tuple[np.ndarray, np.ndarray] | None = None,
                 shuffle: bool = True, control: TrainingControl | None = None,
                 explode_factor: float = 1e4) -> Generator[BatchReport | EpochReport | ChangeEvent, None,
                                                                  TrainingResult]:
    """Train ``network`` for ``epochs`` more epochs, yielding reports as it goes.

    x: (n, *input_shape); y: labels (n,) or targets (n, k). Yields a BatchReport after every
    batch, a ChangeEvent when a queued change is applied, and an EpochReport after every
    epoch. Returns (as the generator's value) a TrainingResult. A non-finite loss or
    gradient, or a loss above ``explode_factor`` times the first one, ends the run with
    status "diverged" and the weights of before the failing update.
    """
    network._ensure_built()
    control = control or TrainingControl()
    # Every input check happens here, once, before the first batch (core.data.validate).
    x = network._check_input(x, "the training inputs")
    if x.shape[0] != len(y):
        raise TrainingError(f"x has {x.shape[0]:,} samples but y has {len(y):,}")
    if x.shape[0] == 0:
        raise TrainingError("the training set is empty")
    outputs = network.output_shape[0] if len(network.output_shape) == 1 else 0
    check_labels(y, outputs, "the training labels")
    if validation_data is not None and len(validation_data[0]):
        x_val, y_val = validation_data
        x_val = network._check_input(x_val, "the validation inputs")
        if x_val.shape[0] != len(y_val):
            raise TrainingError(f"the validation inputs have {x_val.shape[0]:,} samples but their "
                                f"labels {len(y_val):,}")
        check_labels(y_val, outputs, "the validation labels")
        network.targets(y_val)  # labels beyond the output units: refused now, not after an epoch
        validation_data = (x_val, y_val)
    epochs = int(epochs)
    if epochs < 0:
        raise TrainingError(f"epochs must be ≥ 0, not {epochs}")
    batch_size = BATCH_SIZE.check(batch_size, "training")
    targets = network.targets(y)
    labels = labels_of(y)
    fused = network.loss.fused_activation is not None
    n = x.shape[0]
    first_loss: float | None = None
    optimizer = network.optimizer

    for _ in range(epochs):
        epoch = network.epochs_done
        order = network.rng.permutation(n) if shuffle else None
        start_time = time.perf_counter()
        pos = 0
        batch_index = 0
        sum_loss = 0.0
        sum_correct = 0
        while pos < n:

            def next_batch(pos: int = pos, order: np.ndarray | None = order,
                           batch_size: int = batch_size) -> tuple[Any, np.ndarray, np.ndarray]:
                """The batch this turn trains, for ``control.inspect`` (pending knob changes not applied)."""
                end = min(pos + batch_size, n)
                idx = order[pos:end] if order is not None else slice(pos, end)
                return network, x[idx], targets[idx]

            if not control._wait_turn(next_batch):
                return TrainingResult("stopped", f"stopped during epoch {epoch + 1}", network.epochs_done)
            for name, value in control._take_changes():
                old = optimizer.learning_rate if name == "learning_rate" else batch_size
                if value == old:
                    continue
                if name == "learning_rate":
                    optimizer.learning_rate = value
                else:
                    batch_size = value
                event = ChangeEvent(epoch + pos / n, name, old, value)
                network.history.events.append(event)
                yield event
            end = min(pos + batch_size, n)
            idx = order[pos:end] if order is not None else slice(pos, end)
            xb, tb = x[idx], targets[idx]
            try:
                loss, scores = network.train_step(xb, tb)
            except TrainingError as exc:
                return TrainingResult("diverged", _divergence_message(str(exc), epoch, batch_index),
                                      network.epochs_done)
            if first_loss is None:
                # Floor at 1 so a nearly converged run's normal wobble never counts as explosion.
                first_loss = max(loss, 1.0)
            elif loss > explode_factor * first_loss:
                return TrainingResult("diverged", _divergence_message(
                    f"the loss exploded to {loss:.3g} (it started at {first_loss:.3g})", epoch, batch_index),
                    network.epochs_done)
            m = end - pos
            correct = int(np.sum(network.classes_from_scores(scores, logits=fused) == labels[idx]))
            sum_loss += loss * m
            sum_correct += correct
            pos = end
            expected_batches = batch_index + 1 + math.ceil((n - pos) / batch_size)
            report = BatchReport(epoch, batch_index, expected_batches, epoch + pos / n, loss, correct / m,
                                 optimizer.learning_rate, batch_size, pos)
            network.history.add_batch(report)
            batch_index += 1
            yield report
        control._epoch_ended()
        seconds = time.perf_counter() - start_time
        val_loss = val_acc = None
        if validation_data is not None and len(validation_data[0]):
            metrics = network.evaluate(*validation_data)
            val_loss, val_acc = metrics["loss"], metrics["accuracy"]
        network.epochs_done += 1
        epoch_report = EpochReport(epoch, sum_loss / n, sum_correct / n, val_loss, val_acc,
                                   optimizer.learning_rate, seconds, n / max(seconds, 1e-9))
        network.history.epochs.append(epoch_report)
        yield epoch_report
    return TrainingResult("finished", f"finished after {network.epochs_done} epochs", network.epochs_done)


def _divergence_message(what: str, epoch: int, batch: int) -> str:
    return (f"{what} at epoch {epoch + 1}, batch {batch + 1}; training stopped and the last finite "
            "weights were kept. Try a lower learning rate.")


Callback = Callable[[Any], None]


def drive(reports: Generator[BatchReport | EpochReport | ChangeEvent, None, TrainingResult],
          handle: Callable[[BatchReport | EpochReport | ChangeEvent], None]) -> TrainingResult:
    """Pass every report of a ``run_training`` generator to ``handle``; return how the run
    ended (the generator's return value, which a plain ``for`` loop would drop)."""
    while True:
        try:
            report = next(reports)
        except StopIteration as stop:
            return stop.value
        handle(report)


def fit(network, x: np.ndarray, y: np.ndarray, epochs: int = 1, batch_size: int = 32, *,
        validation_data: tuple[np.ndarray, np.ndarray] | None = None, validation_split: float = 0.0,
        shuffle: bool = True, callbacks: Iterable[Any] = (), control: TrainingControl | None = None,
        verbose: bool = False, raise_on_divergence: bool = True) -> History:
    """Train and return the network's History.

    callbacks: objects with any of ``on_batch_end(BatchReport)``, ``on_epoch_end(EpochReport)``,
    ``on_change(ChangeEvent)``, ``on_train_end(TrainingResult)``, or plain callables that
    receive every report. ``validation_split`` holds out a seeded fraction of (x, y) when
    ``validation_data`` is not given. A diverged run raises TrainingError (with the weights
    of before the failing update kept) unless ``raise_on_divergence`` is False.
    """
    x = np.asarray(x)
    y = np.asarray(y)
    if validation_data is None and validation_split:
        train_idx, val_idx = split_validation(len(x), validation_split, network.seed)
        validation_data = (x[val_idx], y[val_idx])
        x, y = x[train_idx], y[train_idx]
    callbacks = list(callbacks)
    gen = run_training(network, x, y, epochs=epochs, batch_size=batch_size,
                       validation_data=validation_data, shuffle=shuffle, control=control)
    method = {BatchReport: "on_batch_end", EpochReport: "on_epoch_end", ChangeEvent: "on_change"}

    def dispatch(report: BatchReport | EpochReport | ChangeEvent) -> None:
        if verbose and isinstance(report, EpochReport):
            val = (f"  val_loss {report.val_loss:.4f}  val_acc {report.val_accuracy:.4f}"
                   if report.val_loss is not None else "")
            print(f"epoch {report.epoch + 1}  loss {report.loss:.4f}  acc {report.accuracy:.4f}{val}  "
                  f"({report.seconds:.1f} s)")
        for cb in callbacks:
            hook = getattr(cb, method[type(report)], None)
            if hook is not None:
                hook(report)
            elif callable(cb):
                cb(report)

    result = drive(gen, dispatch)
    for cb in callbacks:
        hook = getattr(cb, "on_train_end", None)
        if hook is not None:
            hook(result)
    if result.status == "diverged" and raise_on_divergence:
        raise TrainingError(result.message)
    return network.history


# Network.fit runs this loop. The network never imports this module (training uses the
# network, not the reverse), so the loop is handed to it here; ``import core`` always
# imports this module, so the hand-over has happened before anyone can call ``fit``.
use_training_loop(fit)
