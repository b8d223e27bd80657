"""Evaluate a trained network on a labelled split: predictions, probabilities, loss,
confusion matrix, per-class report, the samples behind each confusion cell, CSV text.

Pure NumPy (plus ``csv`` / ``io`` from the standard library). The GUI's evaluation view
shows what this module computes and computes nothing itself.

Shapes: ``x`` (n, *input_shape); labels (n,) int; probabilities (n, k) with k the number
of classes (a single sigmoid / tanh output unit becomes two columns [1 - p, p]).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.analysis.metrics import ClassificationReport, classification_report, confusion_matrix
from core.data.validate import check_labels
from core.network import Network, labels_of
from core.spec.dataset_fit import check_compatibility

__all__ = [
    "Evaluation",
    "as_class_probabilities",
    "class_probabilities",
    "confusion_csv",
    "evaluate",
    "evaluation_csv",
    "normalize_rows",
    "report_csv",
    "samples_for_cell",
]


@dataclass(frozen=True, eq=False)
class Evaluation:
    """A network's results on one labelled split.

    y_true, y_pred: int64 (n,); probabilities: float64 (n, k) (rows sum to 1);
    confidence: float64 (n,) probability of the predicted class; confusion: int64 (k, k)
    (row = true class, column = predicted class); loss: the network's own loss, exactly as
    ``Network.evaluate`` computes it; accuracy: fraction correct.
    """

    y_true: np.ndarray
    y_pred: np.ndarray
    probabilities: np.ndarray
    confidence: np.ndarray
    confusion: np.ndarray
    report: ClassificationReport
    class_names: tuple[str, ...]
    loss: float
    accuracy: float

    @property
    def n_samples(self) -> int:
        return int(self.y_true.shape[0])

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def samples_for_cell(self, true: int, predicted: int) -> np.ndarray:
        """Indices (m,) of the samples of class ``true`` predicted as ``predicted``, most
        confident (in the predicted class) first; see :func:`samples_for_cell`."""
        return samples_for_cell(self.y_true, self.y_pred, self.confidence, true, predicted)

    def normalized_confusion(self) -> np.ndarray:
        """float64 (k, k): each row divided by its total (the recall of each prediction)."""
        return normalize_rows(self.confusion)

    def to_csv(self) -> str:
        """The confusion matrix and the per-class report as one CSV text."""
        return evaluation_csv(self)


def class_probabilities(network: Network, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """float64 (n, k) class probabilities of ``network`` on ``x`` (n, *input_shape).

    Uses the network's fused output activation when its loss has one (softmax / sigmoid on
    logits), else its raw outputs made into a distribution by :func:`as_class_probabilities`.
    """
    scores, fused = _scores(network, x, batch_size)
    return as_class_probabilities(network.loss.outputs_from_logits(scores) if fused else scores)


def as_class_probabilities(outputs: np.ndarray) -> np.ndarray:
    """Network outputs (n, k) -> float64 (n, max(k, 2)) rows that sum to 1.

    One output unit (a sigmoid, or tanh trained with MSE on 0/1 targets) is the probability
    of class 1: clipped to [0, 1] and returned as [1 - p, p]. Several outputs that already
    form a distribution are kept; other scores (MSE on one-hot targets) are clipped at 0 and
    rescaled to sum to 1 (uniform when all are <= 0), so the argmax is preserved whenever any
    score is positive.
    """
    out = np.asarray(outputs, dtype=np.float64)
    if out.ndim != 2 or out.shape[1] < 1:
        raise ValueError(f"outputs must be (n, k) scores, not shape {out.shape}")
    if out.shape[1] == 1:
        p = np.clip(out[:, 0], 0.0, 1.0)
        return np.stack([1.0 - p, p], axis=1)
    if out.size and out.min() >= 0 and np.allclose(out.sum(axis=1), 1.0, atol=1e-4):
        return out / out.sum(axis=1, keepdims=True)
    clipped = np.clip(out, 0.0, None)
    total = clipped.sum(axis=1, keepdims=True)
    uniform = np.full_like(clipped, 1.0 / out.shape[1])
    return np.divide(clipped, total, out=uniform, where=total > 0)


def _scores(network: Network, x: np.ndarray, batch_size: int) -> tuple[np.ndarray, bool]:
    """(n, k) scores that rank the classes, and whether they are logits of the fused loss
    (``Network.scores``: the same computation ``Network.evaluate`` uses)."""
    return network.scores(x, batch_size)


def evaluate(network: Network, x: np.ndarray, y: np.ndarray, class_names: Sequence[str] | None = None,
             batch_size: int = 512) -> Evaluation:
    """Run ``network`` on ``x`` (n, *input_shape) with labels ``y`` (n,) (or one-hot (n, k)).

    One forward pass gives predictions, probabilities and the loss. ``class_names`` (k,)
    default to "0".."k-1" for the network's outputs. Raises ValueError for an empty split or
    a network that does not fit the data (the message says why and what to do).
    """
    x = np.asarray(x)
    units = network.output_shape[0] if len(network.output_shape) == 1 else 0
    check_labels(y, len(class_names) if class_names is not None else max(units, 2))
    labels = labels_of(y)
    if x.shape[0] == 0 or labels.shape[0] != x.shape[0]:
        raise ValueError(f"cannot evaluate on {x.shape[0]} samples with {labels.shape[0]} labels: "
                         "the split needs at least one labelled sample")
    units = network.output_shape[0]
    k = len(class_names) if class_names is not None else max(units, 2)
    # The one network↔dataset check (core.spec.dataset_fit), as the GUI and the CLI make it.
    problems = check_compatibility(network.to_spec(), x.shape[1:], k, trained=True)
    problem = str(problems[0]) if problems else None
    if problem is None and labels.max() >= k:
        problem = f"labels go up to {int(labels.max())} but there are only {k} class names"
    if problem is not None:
        raise ValueError(problem)
    names = tuple(str(c) for c in class_names) if class_names is not None else tuple(str(i) for i in range(k))
    scores, fused = _scores(network, x, batch_size)
    targets = network.targets(labels)
    # The loss exactly as Network.evaluate computes it (per batch, weighted by batch size).
    total = 0.0
    for i in range(0, x.shape[0], batch_size):
        sb, tb = scores[i:i + batch_size], targets[i:i + batch_size]
        value = network.loss.value_from_logits(sb, tb) if fused else network.loss.value(sb, tb)
        total += value * sb.shape[0]
    loss = total / x.shape[0]
    y_pred = network.classes_from_scores(scores, logits=fused).astype(np.int64)
    probabilities = as_class_probabilities(network.loss.outputs_from_logits(scores) if fused else scores)
    confidence = probabilities[np.arange(len(y_pred)), y_pred]
    cm = confusion_matrix(labels, y_pred, k)
    report = classification_report(labels, y_pred, names)
    for a in (labels, y_pred, probabilities, confidence, cm):
        a.flags.writeable = False
    return Evaluation(labels, y_pred, probabilities, confidence, cm, report, names, float(loss), report.accuracy)


def samples_for_cell(y_true: np.ndarray, y_pred: np.ndarray, confidence: np.ndarray, true: int,
                     predicted: int) -> np.ndarray:
    """int64 (m,): indices i with y_true[i] == true and y_pred[i] == predicted, sorted by
    confidence (n,) (the probability given to the predicted class) descending: for an
    off-diagonal cell the most confidently wrong sample first. Ties keep index order."""
    y_true, y_pred, confidence = np.asarray(y_true), np.asarray(y_pred), np.asarray(confidence)
    members = np.flatnonzero((y_true == true) & (y_pred == predicted))
    order = np.argsort(-confidence[members], kind="stable")
    return members[order].astype(np.int64)


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    """float64 (k, k): each row divided by its sum; rows summing to 0 stay 0."""
    m = np.asarray(matrix, dtype=np.float64)
    totals = m.sum(axis=1, keepdims=True)
    return np.divide(m, totals, out=np.zeros_like(m), where=totals > 0)


def _write(rows: list[list]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def confusion_csv(matrix: np.ndarray, class_names: Sequence[str], normalized: bool = False) -> str:
    """CSV text of a (k, k) confusion matrix: a header row of predicted classes, then one row
    per true class. Counts as integers; ``normalized`` writes row fractions (6 decimals)."""
    m = normalize_rows(matrix) if normalized else np.asarray(matrix)
    names = [str(c) for c in class_names]
    if m.shape != (len(names), len(names)):
        raise ValueError(f"a confusion matrix of shape {m.shape} does not fit {len(names)} class names")
    rows: list[list] = [["true \\ predicted", *names]]
    for name, row in zip(names, m, strict=False):
        rows.append([name, *(f"{v:.6f}" if normalized else str(int(v)) for v in row)])
    return _write(rows)


def report_csv(report: ClassificationReport) -> str:
    """CSV text of the per-class report plus accuracy, macro and weighted averages."""
    total = int(report.support.sum())
    rows: list[list] = [["class", "precision", "recall", "f1", "support"]]
    rows += [[n, f"{p:.6f}", f"{r:.6f}", f"{f:.6f}", s] for n, p, r, f, s in report.rows()]
    rows.append(["accuracy", "", "", f"{report.accuracy:.6f}", total])
    rows.append(["macro avg", *(f"{v:.6f}" for v in report.macro_avg), total])
    rows.append(["weighted avg", *(f"{v:.6f}" for v in report.weighted_avg), total])
    return _write(rows)


def evaluation_csv(evaluation: Evaluation) -> str:
    """One CSV text: the confusion matrix (counts), a blank line, the per-class report."""
    return (confusion_csv(evaluation.confusion, evaluation.class_names) + "\n"
            + report_csv(evaluation.report))
