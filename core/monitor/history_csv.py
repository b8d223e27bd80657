"""Training history as CSV text (stdlib only): one table per epoch, one per batch.

Pure functions returning text, so they are tested without files and the GUI only writes
the result. Missing values (no validation set) are empty cells; numbers keep full
precision (``repr`` of the float) so the file round-trips exactly.
"""

from __future__ import annotations

import csv
import io

from core.training.loop import History

__all__ = ["BATCH_COLUMNS", "EPOCH_COLUMNS", "batches_csv", "epochs_csv"]

EPOCH_COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds",
                 "samples_per_second")
BATCH_COLUMNS = ("step", "progress_epochs", "loss", "accuracy", "learning_rate", "batch_size")


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _table(header: tuple[str, ...], rows) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()


def epochs_csv(history: History) -> str:
    """One row per completed epoch (1-based ``epoch``), columns ``EPOCH_COLUMNS``."""
    return _table(EPOCH_COLUMNS, ((e.epoch + 1, float(e.loss), float(e.accuracy),
                                   None if e.val_loss is None else float(e.val_loss),
                                   None if e.val_accuracy is None else float(e.val_accuracy),
                                   float(e.learning_rate), float(e.seconds), float(e.samples_per_second))
                                  for e in history.epochs))


def batches_csv(history: History) -> str:
    """One row per batch (1-based ``step``), columns ``BATCH_COLUMNS``. ``progress_epochs``
    is the fractional number of epochs done after the batch. Columns of unequal length (a
    history being appended to) are cut to the shortest, so every row is complete."""
    b = history.batches
    keys = ("progress", "loss", "accuracy", "learning_rate", "batch_size")
    n = min(len(b[k]) for k in keys)
    return _table(BATCH_COLUMNS, ((i + 1, float(b["progress"][i]), float(b["loss"][i]), float(b["accuracy"][i]),
                                   float(b["learning_rate"][i]), int(b["batch_size"][i])) for i in range(n)))
