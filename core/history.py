"""What a training run records: the immutable reports the loop yields and the History
a network keeps (``Network.history``, saved in model files).

Its own module, below both ``core.network`` (which owns a History) and ``core.training.loop``
(which fills it), so that the import direction stays one-way: training -> network -> history.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["BatchReport", "ChangeEvent", "EpochReport", "History", "TrainingResult"]


@dataclass(frozen=True)
class BatchReport:
    """After one batch. ``epoch`` is 0-based; ``progress`` = epoch + fraction of it done."""

    epoch: int
    batch: int
    batches: int
    progress: float
    loss: float
    accuracy: float
    learning_rate: float
    batch_size: int
    samples_seen: int


@dataclass(frozen=True)
class EpochReport:
    """After one full epoch: training means (weighted by batch size) and validation metrics."""

    epoch: int
    loss: float
    accuracy: float
    val_loss: float | None
    val_accuracy: float | None
    learning_rate: float
    seconds: float
    samples_per_second: float


@dataclass(frozen=True)
class ChangeEvent:
    """A hyperparameter change applied between batches, at ``progress`` (epochs)."""

    progress: float
    name: str
    old: float
    new: float

    def label(self) -> str:
        short = {"learning_rate": "lr", "batch_size": "batch"}.get(self.name, self.name)
        return f"{short} {self.old:g} → {self.new:g}"


@dataclass(frozen=True)
class TrainingResult:
    """How a run ended: ``status`` is "finished", "stopped" or "diverged"."""

    status: str
    message: str
    epochs_done: int


@dataclass
class History:
    """Everything a run recorded. JSON-able through ``to_dict`` / ``from_dict``.

    ``batches``: column lists progress, loss, accuracy, learning_rate, batch_size.
    ``epochs``: one EpochReport per completed epoch. ``events``: hyperparameter changes.
    ``history`` gives the Keras-style dict of per-epoch lists.
    """

    batches: dict[str, list[float]] = field(default_factory=lambda: {
        "progress": [], "loss": [], "accuracy": [], "learning_rate": [], "batch_size": []})
    epochs: list[EpochReport] = field(default_factory=list)
    events: list[ChangeEvent] = field(default_factory=list)

    def add_batch(self, r: BatchReport) -> None:
        b = self.batches
        b["progress"].append(r.progress)
        b["loss"].append(r.loss)
        b["accuracy"].append(r.accuracy)
        b["learning_rate"].append(r.learning_rate)
        b["batch_size"].append(r.batch_size)

    @property
    def history(self) -> dict[str, list[float | None]]:
        keys = ("loss", "accuracy", "val_loss", "val_accuracy")
        return {k: [getattr(e, k) for e in self.epochs] for k in keys}

    def to_dict(self) -> dict[str, Any]:
        return {
            "batches": {k: list(v) for k, v in self.batches.items()},
            "epochs": [asdict(e) for e in self.epochs],
            "events": [asdict(e) for e in self.events],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        h = cls()
        for k in h.batches:
            cast = int if k == "batch_size" else float
            h.batches[k] = [cast(v) for v in data.get("batches", {}).get(k, [])]
        h.epochs = [EpochReport(**e) for e in data.get("epochs", [])]
        h.events = [ChangeEvent(**e) for e in data.get("events", [])]
        return h
