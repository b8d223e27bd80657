"""``predict MODEL.nnz --idx IMAGES [LABELS] | --csv FILE``: predicted classes (and
probabilities) for the samples of an IDX or CSV file."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.analysis.evaluation import as_class_probabilities
from core.cli.errors import EXIT_OK, CliError
from core.cli.fit import fit_inputs, output_classes, stored_class_names
from core.cli.spec_files import read_text
from core.layers.base import format_shape
from core.network import Network
from core.saving import load_model


def cmd_predict(args: argparse.Namespace) -> int:
    network = load_model(args.model)
    k = output_classes(network)
    class_names = stored_class_names(network, k, args.model) or [str(i) for i in range(k)]
    preprocessing = None if args.no_preprocessing else stored_preprocessing(network, args.model)
    if args.idx:
        raw, labels, source = _read_idx_inputs(args.idx, k)
    else:
        raw, labels, source = _read_csv_inputs(args.csv, args.label_column, args.no_labels, class_names,
                                               int(np.prod(network.input_shape or ())))
    _check_sample_size(network, raw, source, csv=bool(args.csv) and not args.no_labels)
    if preprocessing:
        from core.data import apply_preprocessing

        with np.errstate(over="ignore"):  # an overflow becomes inf, refused just below
            x = apply_preprocessing(raw, preprocessing)
    else:
        x = np.asarray(raw, dtype=np.float32)
    _check_finite(x, source, scaled=bool(preprocessing))
    x = fit_inputs(network, x)
    scores, logits = network.scores(x)
    pred = network.classes_from_scores(scores, logits=logits)
    probabilities = (as_class_probabilities(network.loss.outputs_from_logits(scores) if logits else scores)
                     if args.proba else None)
    print(prediction_text(pred, labels, class_names, probabilities, args.limit,
                          f"predictions of {Path(args.model).name} for {source} ({len(pred):,} samples)"))
    return EXIT_OK


def prediction_text(pred: np.ndarray, labels: np.ndarray | None, class_names: Sequence[str],
                    probabilities: np.ndarray | None, limit: int | None, title: str) -> str:
    """One line per sample (predicted class, label, class probabilities), then the accuracy.

    pred: (n,) class indices; labels: (n,) class indices, -1 where a label is not a class of
    the model, or None; probabilities: (n, k) rows summing to 1, or None; limit: how many
    sample lines (None: all).
    """
    shown = len(pred) if limit is None else max(0, min(limit, len(pred)))
    head = "sample  predicted" + ("  label" if labels is not None else "")
    widths: list[int] = []
    if probabilities is not None:
        headers = [f"P({name})" for name in class_names]
        widths = [max(len(h), 5) for h in headers]
        head += "  " + " ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))
    lines = [title, head]
    for i in range(shown):
        line = f"{i:>6}  {_name(class_names, pred[i]):>9}"
        if labels is not None:
            line += f"  {_name(class_names, labels[i]) if labels[i] >= 0 else '?':>5}"
        if probabilities is not None:
            line += "  " + " ".join(f"{p:.3f}".rjust(w) for p, w in zip(probabilities[i], widths, strict=False))
        lines.append(line)
    if shown < len(pred):
        lines.append(f"... {len(pred) - shown:,} more (use --limit)")
    if labels is not None:
        known = labels >= 0
        if known.any():
            correct = int(np.sum(pred[known] == labels[known]))
            lines.append(f"accuracy {correct / int(known.sum()):.4f} ({correct:,} of {int(known.sum()):,})")
        if not known.all():
            lines.append(f"{int((~known).sum()):,} label(s) are not classes of this model and were not scored")
    return "\n".join(lines)


def stored_preprocessing(network: Network, model: str) -> dict[str, Any] | None:
    """The model's stored preprocessing (how raw inputs become network inputs), checked so that
    a damaged value is a CliError naming it; None when the model stores none."""
    stored = network.metadata.get("preprocessing")
    if stored is None or stored == {}:
        return None
    problem = _preprocessing_problem(stored)
    if problem:
        raise CliError(f"{model}: the model's stored preprocessing cannot be used: {problem}; if your inputs "
                       "are already scaled as the network expects, pass --no-preprocessing")
    return stored


def _preprocessing_problem(stored: dict[str, Any]) -> str | None:
    """Why ``stored`` is not preprocessing that ``core.data.apply_preprocessing`` can apply; None if it is.

    load_model has already refused preprocessing that is not an object, a scale that is not
    a finite non-zero number of at most 1e30, a layout that is not a text and an image_shape
    that is not a list of up to 3 positive integers. What it lets through and the CLI cannot
    use: a negative scale or one too small for float32 (it would flip or zero the inputs), and
    an image dimension far beyond any image.
    """
    scale = stored.get("scale", 1.0)
    if not float(np.finfo(np.float32).tiny) <= float(scale):  # a positive, normal float32
        return f"'scale' must be a positive number, not {_short(scale)}"
    shape = stored.get("image_shape", [])
    if not all(d <= 100_000 for d in shape):
        return f"'image_shape' must be a list of up to 3 whole numbers from 1 to 100,000, not {_short(shape)}"
    return None


def _short(value: Any, limit: int = 40) -> str:
    """repr of a value from a file, cut to ``limit`` characters (a hostile value can be huge)."""
    try:
        text = repr(value)
    except ValueError:  # an int too long to print
        return "a number with thousands of digits"
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _check_finite(x: np.ndarray, source: str, scaled: bool) -> None:
    """CliError naming the first sample of ``x`` (n, ...) that holds NaN or an infinity."""
    finite = np.isfinite(x.reshape(len(x), -1)).all(axis=1)
    if not finite.all():
        first = int(np.argmin(finite))
        after = " after the model's preprocessing" if scaled else ""
        raise CliError(f"{source}: sample {first} holds NaN or infinite values{after}; every input must be "
                       f"a finite number ({int((~finite).sum()):,} sample(s) affected)")


def _check_sample_size(network: Network, raw: np.ndarray, source: str, csv: bool) -> None:
    """CliError unless each sample of ``raw`` (n, ...) holds as many values as the network's input."""
    have = int(np.prod(raw.shape[1:]))
    need = int(np.prod(network.known_input_shape()))
    if have != need:
        hint = " (if the file has no label column, pass --no-labels)" if csv and have + 1 == need else ""
        raise CliError(f"{source} has {have:,} values per sample but the network takes {need:,} "
                       f"{format_shape(tuple(network.known_input_shape()))}{hint}")


def _name(class_names: Sequence[str], index: int) -> str:
    return class_names[index] if 0 <= index < len(class_names) else str(int(index))


def _read_idx_inputs(files: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray | None, str]:
    """IDX images (n, ...) and, if a labels file follows, labels (n,) as class indices
    (-1 for a label that is not one of the model's ``k`` classes)."""
    from core.data import load_idx, read_idx

    if len(files) > 2:
        raise CliError("--idx takes an images file and optionally its labels file, not more")
    if len(files) == 2:
        x, y = load_idx(files[0], files[1])
        labels = np.asarray(y, dtype=np.int64)
        return x, np.where((labels >= 0) & (labels < k), labels, -1), Path(files[0]).name
    x = read_idx(files[0])
    if x.ndim < 2:
        raise CliError(f"{files[0]}: holds a 1-D array (labels?), not images")
    return x, None, Path(files[0]).name


def _read_csv_inputs(path: str, label_column: str | None, no_labels: bool, class_names: Sequence[str],
                     n_inputs: int) -> tuple[np.ndarray, np.ndarray | None, str]:
    """CSV rows -> raw inputs (n, features) and labels mapped onto the model's classes (-1 if unknown).

    Rows that all share one label are fine here (a file of one digit's samples): prediction,
    unlike training, needs no second class. ``n_inputs`` is the network's input size, used to
    suggest --no-labels when a file the label reader refuses has exactly that many columns.
    """
    if no_labels:
        if label_column is not None:
            raise CliError("--label-column and --no-labels cannot be used together")
        return _read_feature_csv(path), None, Path(path).name
    from core.data import DataError, load_csv

    column: int | str = (-1 if label_column is None
                         else int(label_column) if _is_int_text(label_column) else label_column)
    try:
        x, y, csv_names = load_csv(path, label_column=column, min_classes=1)
    except DataError as exc:
        if label_column is None and _feature_columns(path) == n_inputs:
            raise CliError(f"{exc}; the file has {n_inputs:,} columns, as many as the network's inputs: if it has "
                           "no label column, pass --no-labels") from None
        raise
    index = {name: i for i, name in enumerate(class_names)}
    mapping = np.array([index.get(str(name), -1) for name in csv_names], dtype=np.int64)
    return x, mapping[y], Path(path).name


def _feature_columns(path: str) -> int | None:
    """Columns per row when ``path`` reads as a table of numbers only, else None."""
    try:
        return int(_read_feature_csv(path).shape[1])
    except CliError:
        return None


def _is_int_text(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


#: ``predict --csv --no-labels`` reads at most this much text (MNIST's 60,000 training images
#: as CSV are about 110 MB).
MAX_FEATURE_CSV_BYTES = 256 * 1024 * 1024


def _read_feature_csv(path: str) -> np.ndarray:
    """A CSV of numbers only (optionally a header row): float32 (n, columns)."""
    text = read_text(path, "CSV file", MAX_FEATURE_CSV_BYTES)
    lines = [line for line in text.splitlines() if line.strip()]
    if lines and not all(_is_number(c) for c in lines[0].split(",")):
        lines = lines[1:]
    if not lines:
        raise CliError(f"{path}: holds no rows of numbers")
    rows = []
    for number, line in enumerate(lines, 1):
        cells = line.split(",")
        if not all(_is_number(c) for c in cells):
            raise CliError(f"{path}: row {number} holds something that is not a number")
        rows.append([float(c) for c in cells])
    if len({len(r) for r in rows}) != 1:
        raise CliError(f"{path}: rows have different numbers of columns")
    x = np.array(rows, dtype=np.float32)
    if not np.isfinite(x).all():
        raise CliError(f"{path}: holds NaN or infinite values")
    return x


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
