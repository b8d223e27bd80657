"""Datasets from the user's files (IDX, CSV) and from arrays already in memory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from core.data.csv_import import MAX_CLASSES, load_csv
from core.data.dataset import Dataset
from core.data.errors import DataError
from core.data.idx import load_idx
from core.data.preprocessing import apply_preprocessing, image_preprocessing
from core.data.settings import float_param
from core.data.validate import InvalidInputError, check_labels


def _classes_from_labels(labels: np.ndarray, where: str) -> tuple[np.ndarray, tuple[str, ...]]:
    values, y = np.unique(labels, return_inverse=True)
    if len(values) < 2:
        raise DataError(f"{where}: every label is {values[0] if len(values) else '?'}; "
                        f"a classifier needs at least two classes")
    return y.reshape(-1).astype(np.int64), tuple(str(int(v)) for v in values)


def dataset_from_idx(images: str | os.PathLike, labels: str | os.PathLike, layout: str = "flat",
                     name: str | None = None) -> Dataset:
    """A dataset from an IDX images file and its labels file (raw or gzip).

    Images uint8 ``(n, rows, cols)`` are scaled by 1/255 to float32 and laid out as
    ``(n, rows*cols)`` (``layout="flat"``) or ``(n, 1, rows, cols)`` (``"image"``). Labels
    become class indices in sorted order (0..9 stay 0..9); the values are the class names.
    """
    x_raw, labels_raw = load_idx(images, labels)
    y, names = _classes_from_labels(labels_raw, str(labels))
    pre = image_preprocessing(1 / 255, x_raw.shape[1:], (0, 255), layout)
    x = apply_preprocessing(x_raw, pre)
    return Dataset(
        name=name or Path(images).name, x=x, y=y, class_names=names, input_shape=x.shape[1:],
        description=f"Imported from {Path(images).name} and {Path(labels).name}",
        preprocessing=pre,
    )


def dataset_from_csv(path: str | os.PathLike, label_column: int | str = -1, has_header: bool | None = None,
                     delimiter: str | None = None, scale: float = 1.0, name: str | None = None) -> Dataset:
    """A dataset from a CSV file (see :func:`core.data.csv_import.load_csv`).

    x float32 ``(n, features)`` multiplied by ``scale`` (default 1: values as in the file).
    """
    x_raw, y, names = load_csv(path, label_column=label_column, has_header=has_header, delimiter=delimiter)
    scale = float_param("scale", scale, 1e-30, 1e30)
    pre = {"scale": scale, "layout": "table"}
    x = apply_preprocessing(x_raw, pre)
    if not np.isfinite(x).all():
        raise DataError(f"{Path(path).name}: scaling by {scale:g} makes values overflow 32-bit floats")
    return Dataset(
        name=name or Path(path).name, x=x, y=y, class_names=names, input_shape=x.shape[1:],
        description=f"Imported from {Path(path).name}", preprocessing=pre,
    )


def dataset_from_arrays(name: str, x: np.ndarray, y: np.ndarray, class_names: tuple[str, ...] | None = None,
                        **kwargs: Any) -> Dataset:
    """A dataset from arrays already in memory: x ``(n, *input_shape)`` (cast to float32),
    y ``(n,)`` integer labels 0..k-1. ``class_names`` default to ``"0".."k-1"``."""
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y)
    if y.dtype.kind not in "iuf":
        raise DataError(f"dataset {name!r}: labels must be integers, not {y.dtype}")
    # Whole-number float labels (2.0) are classes; 2.7, NaN or -1 are refused with a sentence.
    try:
        check_labels(y.reshape(-1), len(class_names) if class_names is not None else 2**31)
    except InvalidInputError as e:
        raise DataError(f"dataset {name!r}: {e}") from None
    y = y.astype(np.int64)
    if class_names is None:
        if y.size and y.max() >= MAX_CLASSES:
            raise DataError(f"dataset {name!r}: labels go up to {int(y.max()):,}, more than {MAX_CLASSES:,} "
                            f"classes; labels must be class indices 0 … n-1")
        class_names = tuple(str(i) for i in range(int(y.max()) + 1 if y.size else 0))
    return Dataset(name=name, x=x, y=y, class_names=tuple(class_names), input_shape=x.shape[1:], **kwargs)
