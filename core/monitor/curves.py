"""Plot-ready curves of one training run, built from reports or a saved History (NumPy only).

The dashboard hands every report the worker sends to ``TrainingCurves.add``; it appends to
growable buffers and smooths only the new batch points, so the cost of a plot tick depends
on what arrived, not on how long the run is. The widget just passes the series' ``x`` / ``y``
views to its curves.

Coordinates: x is in epochs. A batch point sits at ``BatchReport.progress`` (fractional
epochs done after that batch); an epoch point at ``epoch + 1`` (the end of that epoch).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from core.monitor.series import GrowableSeries, nearest_index
from core.monitor.smoothing import EmaSmoother, smoothing_span
from core.training.loop import BatchReport, ChangeEvent, EpochReport, History

__all__ = [
    "SERIES",
    "Readout",
    "TrainingCurves",
    "run_label",
    "trained_position",
    "trained_text",
    "weights_text",
]

#: Every series a run has. ``batch_*`` follow the batches, ``epoch_*`` / ``val_*`` the epochs.
SERIES = ("batch_loss", "batch_loss_smooth", "batch_accuracy", "batch_accuracy_smooth",
          "epoch_loss", "epoch_accuracy", "val_loss", "val_accuracy")


@dataclass(frozen=True)
class Readout:
    """The data nearest to a cursor position, for one metric ("loss" or "accuracy").

    ``x``: exact position (epochs) of the nearest batch point, or of the nearest epoch point
    when the run has no batch points; ``batch`` / ``smoothed``: that batch's raw and smoothed
    value. ``epoch``: 1-based number of the nearest epoch end within half an epoch of the
    cursor, with its training (``train``) and validation (``val``) values.
    """

    metric: str
    x: float | None = None
    batch: float | None = None
    smoothed: float | None = None
    epoch: int | None = None
    train: float | None = None
    val: float | None = None


class TrainingCurves:
    """The series of one run (see ``SERIES``) and its hyperparameter change events.

    ``span``: the smoothed lines' largest span in batches (``core.monitor.smoothing.smoothing_span``);
    it grows to that from a few batches as the run goes (``EmaSmoother.growing``).
    """

    def __init__(self, span: float = 20):
        self.span = float(span)
        self.series: dict[str, GrowableSeries] = {name: GrowableSeries() for name in SERIES}
        self.events: list[ChangeEvent] = []
        #: Batch x values only grow (False after a stopped epoch was re-run from its start,
        #: which core does on Continue: its batches then overlap the stopped ones).
        self.batches_sorted = True
        # The span grows with the batches seen, up to ``span``: the smoothed line follows
        # the steep first descent instead of lagging far above it (core.monitor.smoothing).
        self._smooth_loss = EmaSmoother.growing(span)
        self._smooth_accuracy = EmaSmoother.growing(span)
        #: The learning rates and batch sizes the batches used, each value once per stretch
        #: in order ([0.001, 0.01] after one change): a run's real settings, for its label.
        self.learning_rates: list[float] = []
        self.batch_sizes: list[float] = []

    def _note_settings(self, learning_rates: Iterable[float], batch_sizes: Iterable[float]) -> None:
        for values, seen in ((learning_rates, self.learning_rates), (batch_sizes, self.batch_sizes)):
            for v in values:
                if not seen or seen[-1] != v:
                    seen.append(v)

    def __getitem__(self, name: str) -> GrowableSeries:
        return self.series[name]

    @property
    def empty(self) -> bool:
        return all(len(s) == 0 for s in self.series.values()) and not self.events

    @property
    def last_x(self) -> float | None:
        """Largest x of any point so far (None when empty)."""
        ends = [s.x[-1] for s in self.series.values() if len(s)]
        return float(max(ends)) if ends else None

    # -- feeding --------------------------------------------------------------------------------
    def add(self, reports: Iterable[BatchReport | EpochReport | ChangeEvent]) -> frozenset[str]:
        """Append reports in run order; returns the names of the series that changed (and
        "events" when change events arrived)."""
        bx: list[float] = []
        bl: list[float] = []
        ba: list[float] = []
        ex: list[float] = []
        el: list[float] = []
        ea: list[float] = []
        vx: list[float] = []
        vl: list[float] = []
        va: list[float] = []
        events: list[ChangeEvent] = []
        rates: list[float] = []
        sizes: list[float] = []
        for r in reports:
            if isinstance(r, BatchReport):
                bx.append(r.progress)
                bl.append(r.loss)
                ba.append(r.accuracy)
                rates.append(r.learning_rate)
                sizes.append(r.batch_size)
            elif isinstance(r, EpochReport):
                ex.append(r.epoch + 1.0)
                el.append(r.loss)
                ea.append(r.accuracy)
                if r.val_loss is not None:
                    vx.append(r.epoch + 1.0)
                    vl.append(r.val_loss)
                    va.append(r.val_accuracy if r.val_accuracy is not None else np.nan)
            elif isinstance(r, ChangeEvent):
                events.append(r)
        self._note_settings(rates, sizes)
        return self._append(bx, bl, ba, ex, el, ea, vx, vl, va, events)

    def _append(self, bx, bl, ba, ex, el, ea, vx, vl, va, events) -> frozenset[str]:
        changed: set[str] = set()
        s = self.series
        if len(bx):
            bx = np.asarray(bx, dtype=np.float64)
            bl = np.asarray(bl, dtype=np.float64)
            ba = np.asarray(ba, dtype=np.float64)
            if self.batches_sorted:
                prev = s["batch_loss"].x
                self.batches_sorted = bool(np.all(np.diff(bx) >= 0) and (len(prev) == 0 or bx[0] >= prev[-1]))
            s["batch_loss"].append(bx, bl)
            s["batch_loss_smooth"].append(bx, self._smooth_loss.add(bl))
            s["batch_accuracy"].append(bx, ba)
            s["batch_accuracy_smooth"].append(bx, self._smooth_accuracy.add(ba))
            changed.update(("batch_loss", "batch_loss_smooth", "batch_accuracy", "batch_accuracy_smooth"))
        if len(ex):
            s["epoch_loss"].append(ex, el)
            s["epoch_accuracy"].append(ex, ea)
            changed.update(("epoch_loss", "epoch_accuracy"))
        if len(vx):
            s["val_loss"].append(vx, vl)
            s["val_accuracy"].append(vx, va)
            changed.update(("val_loss", "val_accuracy"))
        if events:
            self.events.extend(events)
            changed.add("events")
        return frozenset(changed)

    @classmethod
    def from_history(cls, history: History, span: float | None = None) -> TrainingCurves:
        """Curves of everything a network's History recorded (e.g. a model opened from a
        file). ``span`` None: suited to the history's batches per epoch (``smoothing_span``)."""
        b = history.batches
        n = min(len(b["progress"]), len(b["loss"]), len(b["accuracy"]))
        if span is None:
            n_epochs = max(float(b["progress"][n - 1]), 1e-9) if n else 1.0
            span = smoothing_span(round(n / n_epochs) if n else 1)
        curves = cls(span)
        epochs = list(history.epochs)
        with_val = [e for e in epochs if e.val_loss is not None]
        curves._append(
            b["progress"][:n], b["loss"][:n], b["accuracy"][:n],
            [e.epoch + 1.0 for e in epochs], [e.loss for e in epochs], [e.accuracy for e in epochs],
            [e.epoch + 1.0 for e in with_val], [e.val_loss for e in with_val],
            [e.val_accuracy if e.val_accuracy is not None else np.nan for e in with_val],
            list(history.events))
        curves._note_settings(b.get("learning_rate", [])[:n], b.get("batch_size", [])[:n])
        return curves

    # -- reading ------------------------------------------------------------------------------------
    def readout(self, x: float, metric: str = "loss") -> Readout | None:
        """What lies nearest to position ``x`` (epochs) for ``metric`` "loss" or "accuracy";
        None when the run has no points."""
        if metric not in ("loss", "accuracy"):
            raise ValueError(f"metric must be 'loss' or 'accuracy', not {metric!r}")
        raw = self.series[f"batch_{metric}"]
        smooth = self.series[f"batch_{metric}_smooth"]
        train = self.series[f"epoch_{metric}"]
        val = self.series[f"val_{metric}"]
        out: dict = {}
        if self.batches_sorted:
            i = nearest_index(raw.x, x)
        else:  # overlapping x after a re-run epoch: the latest of the nearest points
            i = None if len(raw) == 0 or not np.isfinite(x) else int(len(raw) - 1 - np.argmin(np.abs(raw.x[::-1] - x)))
        if i is not None:
            out.update(x=float(raw.x[i]), batch=float(raw.y[i]), smoothed=float(smooth.y[i]))
        j = nearest_index(train.x, x)
        if j is not None and abs(train.x[j] - x) <= 0.5:
            ex = float(train.x[j])
            out.update(epoch=round(ex), train=float(train.y[j]))
            if i is None:
                out["x"] = ex
            k = nearest_index(val.x, ex)
            if k is not None and val.x[k] == ex:
                out["val"] = float(val.y[k])
        if not out:
            return None
        return Readout(metric, **out)

    def copy(self) -> TrainingCurves:
        """An independent copy (e.g. to keep a run as a comparison while it continues)."""
        out = TrainingCurves(self.span)
        out.series = {name: s.copy() for name, s in self.series.items()}
        out.events = list(self.events)
        out.batches_sorted = self.batches_sorted
        out.learning_rates = list(self.learning_rates)
        out.batch_sizes = list(self.batch_sizes)
        out._smooth_loss.__dict__.update(self._smooth_loss.__dict__)
        out._smooth_accuracy.__dict__.update(self._smooth_accuracy.__dict__)
        return out


# -- where training stands ------------------------------------------------------------------------------
def trained_position(history: History, epochs_done: int) -> tuple[int, int]:
    """(complete epochs, batches trained into the next epoch) of a network whose ``history``
    is given: ``epochs_done`` and the batches recorded after its last epoch end.

    A stopped epoch is re-run from its start on Continue, so the history may hold an older
    partial pass of the same epoch: only the last pass counts (the trailing run of batch
    positions beyond ``epochs_done`` that only grow).
    """
    progress = history.batches["progress"]
    batches = 0
    later = math.inf
    for x in reversed(progress):
        if not (epochs_done < x < later):
            break
        batches += 1
        later = x
    return int(epochs_done), batches


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'s' if n != 1 else ''}"


def trained_text(epochs: int, batches: int) -> str:
    """How much a network trained: "Trained 17 epochs and 40 batches", "Trained 3 batches",
    "Trained 2 epochs", or "Not trained yet"."""
    parts = [_plural(epochs, "epoch")] if epochs else []
    if batches:
        parts.append(_plural(batches, "batch").replace("batchs", "batches"))
    return "Trained " + " and ".join(parts) if parts else "Not trained yet"


def weights_text(epochs: int, batches: int) -> str:
    """Which weights these are: "weights after epoch 17", "weights at epoch 18, batch 40"
    (40 batches into epoch 18), or "initial weights" (never trained)."""
    if batches:
        return f"weights at epoch {epochs + 1:,}, batch {batches:,}"
    return f"weights after epoch {epochs:,}" if epochs else "initial weights"


def run_label(optimizer: str, learning_rates: Sequence[float], batch_sizes: Sequence[float]) -> str:
    """The settings a run really used, for a legend: "Adam lr 0.001 → 0.01, batch 32".

    ``learning_rates`` / ``batch_sizes``: the values in the order the run used them (see
    ``TrainingCurves.learning_rates``). More than four values show the first two, "…" and
    the last ("lr 0.1 → 0.05 → … → 0.001").
    """
    def chain(values: Sequence[float]) -> str:
        texts = [f"{v:g}" for v in values]
        if len(texts) > 4:
            texts = [*texts[:2], "…", texts[-1]]
        return " → ".join(texts)

    return f"{optimizer} lr {chain(learning_rates)}, batch {chain(batch_sizes)}"
