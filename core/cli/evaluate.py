"""``evaluate MODEL.nnz [--dataset NAME] [--split PART]``: accuracy, loss, per-class report
and confusion matrix on the model's own (or another) dataset."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from core.analysis.metrics import classification_report, confusion_matrix
from core.cli.datasets import DEFAULT_TEST_SPLIT, load_named_dataset
from core.cli.errors import EXIT_OK, CliError
from core.cli.fit import check_compatible, fit_inputs, stored_class_names
from core.network import Network
from core.saving import load_model


def cmd_evaluate(args: argparse.Namespace) -> int:
    network = load_model(args.model)
    meta = network.metadata
    stored_dataset = meta.get("dataset")
    stored: dict[str, Any] = stored_dataset if isinstance(stored_dataset, dict) else {}
    name = args.dataset or stored.get("name")
    if not name:  # (load_model refuses a stored name that is not a non-empty string)
        raise CliError(f"{args.model}: the model does not say which dataset it was trained on; pass --dataset NAME")
    same = name == stored.get("name")
    stored_options = stored.get("params") if same and isinstance(stored.get("params"), dict) else None
    dataset, _ = load_named_dataset(name, args.dataset_option, args.download, stored_options)
    check_compatible(network, dataset, trained=True)
    if same and stored.get("fingerprint") and stored["fingerprint"] != dataset.fingerprint():
        print(f"note: dataset {name!r} differs from the one the model was trained on", file=sys.stderr)
    x, y = _evaluation_part(network, dataset, args.split, same, args.model)
    x = fit_inputs(network, x)
    class_names = stored_class_names(network, dataset.n_classes, args.model) or list(dataset.class_names)
    print(evaluation_text(network, x, y, class_names, f"{dataset.name} ({args.split}, {len(y):,} samples)"))
    return EXIT_OK


def _evaluation_part(network: Network, dataset: Any, part: str, same_dataset: bool,
                     model: str) -> tuple[np.ndarray, np.ndarray]:
    """The samples of ``part`` of ``dataset``: x (n, *input_shape), y (n,), split as the model
    file ``model`` stores it when it was trained on this dataset."""
    from core.data import DataError

    if part == "all":
        return dataset.x, dataset.y
    split = network.metadata.get("split") if same_dataset else None
    if isinstance(split, dict):
        seed, vf, tf = split.get("seed", network.seed), split.get("validation_fraction", 0.1), split.get(
            "test_fraction", DEFAULT_TEST_SPLIT)
    else:
        seed, vf, tf = network.seed, 0.1, DEFAULT_TEST_SPLIT
    try:
        s = dataset.split(seed, vf, tf)
    except DataError as exc:
        if not isinstance(split, dict):
            raise
        # load_model checks each value of the stored split; this is a split whose values are each
        # fine but that this dataset cannot make (fractions that leave nothing to train on)
        raise CliError(f"{model}: the model's stored split cannot be used ({exc}); use --split all") from None
    x, y = {"test": (s.x_test, s.y_test), "validation": (s.x_val, s.y_val), "train": (s.x_train, s.y_train)}[part]
    if len(y) == 0:
        raise CliError(f"the {part} part of dataset {dataset.name!r} is empty for this model's split; "
                       "use --split all")
    return x, y


def evaluation_text(network: Network, x: np.ndarray, y: np.ndarray, class_names: Sequence[str], title: str) -> str:
    """Accuracy, loss, the per-class report and the confusion matrix as text.

    x: (n, *input_shape); y: (n,) int labels.
    """
    metrics = network.evaluate(x, y)
    pred = network.predict_classes(x)
    k = len(class_names)
    report = classification_report(y, pred, class_names=list(class_names))
    cm = confusion_matrix(y, pred, k)
    return "\n".join([
        f"evaluation on {title}",
        f"accuracy {metrics['accuracy']:.4f}   loss {metrics['loss']:.6g}",
        "",
        report.to_text().rstrip("\n"),
        "",
        "confusion matrix (rows: true class, columns: predicted class)",
        format_confusion(cm, class_names),
    ])


def format_confusion(cm: np.ndarray, class_names: Sequence[str]) -> str:
    """(k, k) counts as an aligned table with class names on both axes."""
    names = [str(n) for n in class_names]
    width = max(max(len(n) for n in names), len(str(int(cm.max()) if cm.size else 0)))
    label_w = max(len(n) for n in names)
    head = " " * label_w + "  " + " ".join(n.rjust(width) for n in names)
    rows = [names[i].rjust(label_w) + "  " + " ".join(str(int(v)).rjust(width) for v in cm[i])
            for i in range(len(names))]
    return "\n".join([head, *rows])
