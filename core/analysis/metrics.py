"""Classification metrics on integer labels: accuracy, confusion matrix, per-class report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of equal labels; y_true, y_pred: (n,) ints."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.size == 0:
        raise ValueError("accuracy needs two label arrays of the same non-zero length, "
                         f"got {y_true.shape} and {y_pred.shape}")
    return float(np.mean(y_true == y_pred))


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int | None = None) -> np.ndarray:
    """(k, k) int64 counts; row = true class, column = predicted class."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if n_classes is None:
        n_classes = int(max(y_true.max(initial=-1), y_pred.max(initial=-1)) + 1)
    flat = y_true * n_classes + y_pred
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


@dataclass(frozen=True)
class ClassificationReport:
    """Per-class precision, recall, F1 and support (arrays of length k) plus averages."""

    class_names: tuple[str, ...]
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray
    accuracy: float

    @property
    def macro_avg(self) -> tuple[float, float, float]:
        return float(self.precision.mean()), float(self.recall.mean()), float(self.f1.mean())

    @property
    def weighted_avg(self) -> tuple[float, float, float]:
        w = self.support / max(self.support.sum(), 1)
        return float(self.precision @ w), float(self.recall @ w), float(self.f1 @ w)

    def rows(self) -> list[tuple[str, float, float, float, int]]:
        return [(name, float(p), float(r), float(f), int(s)) for name, p, r, f, s in
                zip(self.class_names, self.precision, self.recall, self.f1, self.support, strict=True)]

    def to_text(self, digits: int = 2) -> str:
        """The table seed 2 prints (scikit-learn's layout)."""
        width = max(len("weighted avg"), *(len(n) for n in self.class_names))
        head = " " * width + "  precision    recall  f1-score   support\n\n"
        fmt = f"{{:>{width}}}  {{:>9.{digits}f}} {{:>9.{digits}f}} {{:>9.{digits}f}} {{:>9}}\n"
        body = "".join(fmt.format(*row) for row in self.rows())
        total = int(self.support.sum())
        acc = f"\n{'accuracy':>{width}}  {'':>9} {'':>9} {self.accuracy:>9.{digits}f} {total:>9}\n"
        acc += fmt.format("macro avg", *self.macro_avg, total)
        acc += fmt.format("weighted avg", *self.weighted_avg, total)
        return head + body + acc

    def to_csv(self) -> str:
        lines = ["class,precision,recall,f1,support"]
        lines += [f"{n},{p:.6f},{r:.6f},{f:.6f},{s}" for n, p, r, f, s in self.rows()]
        return "\n".join(lines) + "\n"


def classification_report(y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str] | None = None,
                          n_classes: int | None = None) -> ClassificationReport:
    """Per-class precision/recall/F1/support. A class never predicted gets precision 0
    (scikit-learn's zero_division=0), one absent from y_true gets recall 0."""
    if class_names is not None:
        n_classes = len(class_names)
    cm = confusion_matrix(y_true, y_pred, n_classes).astype(np.float64)
    k = cm.shape[0]
    names = tuple(class_names) if class_names is not None else tuple(str(i) for i in range(k))
    tp = np.diag(cm)
    predicted = cm.sum(axis=0)
    support = cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros(k), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros(k), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros(k), where=denom > 0)
    acc = float(tp.sum() / max(cm.sum(), 1))
    return ClassificationReport(names, precision, recall, f1, support.astype(np.int64), acc)
