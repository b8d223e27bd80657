"""Dataset choices the panel offers besides the built-in sets: importing IDX or CSV files and
locating an import's files after they moved (asked through the app's ``Dialogs``, never a
modal of our own), plus the names and checks every dataset choice shares."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from core.data import DATASETS, DataError, find_mnist, load_mnist
from nnstudio.state.document import DatasetChoice, Document

IMPORT_IDX = "import-idx"
IMPORT_CSV = "import-csv"
_CSV_FILTER = "CSV files (*.csv *.txt *.tsv);;All files (*)"
_IDX_FILTER = "IDX files (*-ubyte *-ubyte.gz *.idx* *.gz);;All files (*)"


def dataset_title(choice: DatasetChoice) -> str:
    """Short name for messages: "Digits 8×8", "MNIST", "data.csv"."""
    if choice.name == IMPORT_CSV:
        return Path(str(choice.params.get("path", "CSV file"))).name
    if choice.name == IMPORT_IDX:
        return Path(str(choice.params.get("images", "IDX files"))).name
    info = DATASETS.get(choice.name)
    return info.title.split(" (")[0] if info is not None else choice.name


def validate_choice(document: Document, choice: DatasetChoice) -> None:
    """Raise DataError when ``choice`` cannot be loaded. For MNIST only the raw files are
    decoded (shared in-memory cache), so the document's own load then costs little."""
    if choice.name == "mnist":
        location = find_mnist()
        if location is None:
            raise DataError("MNIST was not found on this computer")
        load_mnist(location)
        return
    document.load_dataset(choice)  # cached: the switch that follows does not load it again


@contextlib.contextmanager
def busy() -> Iterator[None]:
    """A wait cursor while a dataset loads."""
    QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
    try:
        yield
    finally:
        QGuiApplication.restoreOverrideCursor()


def idx_pair(paths: list[str]) -> tuple[str, str] | None:
    """(images, labels) from two chosen paths: the labels file names "label" or "idx1"."""
    if len(paths) != 2:
        return None

    def is_labels(p: str) -> bool:
        name = Path(p).name.lower()
        return "label" in name or "idx1" in name

    first, second = (str(p) for p in paths)
    return (second, first) if is_labels(first) and not is_labels(second) else (first, second)


def ask_import(dialogs: Any, kind: str, layout: str) -> DatasetChoice | None:
    """Ask for the files of an import (``IMPORT_CSV`` or ``IMPORT_IDX``; IDX images laid out
    as ``layout``). None when the user cancels; DataError saying what to select when the
    chosen files cannot be an IDX pair."""
    if kind == IMPORT_CSV:
        paths = dialogs.open_data_paths("Import CSV", _CSV_FILTER)
        return DatasetChoice(IMPORT_CSV, {"path": str(paths[0])}) if paths else None
    paths = dialogs.open_data_paths("Import IDX: choose the images file and the labels file", _IDX_FILTER,
                                    multiple=True)
    if not paths:
        return None
    pair = idx_pair(paths)
    if pair is None:
        raise DataError(f"Import IDX needs two files, the images (idx3) and the labels (idx1); {len(paths)} "
                        f"{'was' if len(paths) == 1 else 'were'} chosen. Select both files at once.")
    return DatasetChoice(IMPORT_IDX, {"images": pair[0], "labels": pair[1], "layout": layout})


def ask_located(dialogs: Any, choice: DatasetChoice) -> DatasetChoice | None:
    """Ask where the files of the imported ``choice`` are now; the import's settings are kept.
    None when the user cancels; DataError when the IDX files were not chosen together."""
    if choice.name == IMPORT_CSV:
        paths = dialogs.open_data_paths(f"Locate {dataset_title(choice)}", _CSV_FILTER)
        return DatasetChoice(IMPORT_CSV, {**choice.params, "path": str(paths[0])}) if paths else None
    paths = dialogs.open_data_paths(f"Locate {dataset_title(choice)}: choose the images file and the labels file",
                                    _IDX_FILTER, multiple=True)
    if not paths:
        return None
    pair = idx_pair(paths)
    if pair is None:
        raise DataError("Locate the IDX data by selecting both files at once: the images (idx3) and the labels "
                        "(idx1).")
    return DatasetChoice(IMPORT_IDX, {**choice.params, "images": pair[0], "labels": pair[1]})
