"""Import a labelled table of numbers from a CSV file (optionally gzip-compressed).

One row per sample: numeric feature columns plus one label column. Labels may be integers
or text; they become class indices 0..k-1 in sorted order (numeric order for integers,
alphabetical for text) and the original values are kept as class names. Labels that are
already exactly 0..k-1 therefore keep their values.

Rules:
- The delimiter is ``,`` unless the first line holds more ``;`` or tab characters
  (auto-detection), or it is given explicitly. With a detected ``;`` or tab delimiter a
  comma is read as a decimal comma (``1,5`` = 1.5), as spreadsheets write it in many locales.
- Blank lines are skipped. Quoted fields are allowed but may not span several lines.
- A header row is detected when at least half of the first row's feature cells are text
  (or when only its label cell is text while the next row's label is a number); pass
  ``has_header`` to decide explicitly (needed when the header's names are numbers).
- Every error names the file, and the line and column (both 1-based) where relevant.

Large purely numeric files take a fast path (``np.loadtxt``); anything unusual goes through a
row-by-row path that finds the exact culprit.
"""

from __future__ import annotations

import csv
import math
import os
import re
from pathlib import Path

import numpy as np

from core.data._files import count, read_text_bytes, size_text
from core.data.errors import DataError

__all__ = ["MAX_CLASSES", "MAX_CSV_BYTES", "MAX_INT_LABEL", "load_csv", "parse_csv_text"]

#: More distinct labels than this is almost certainly a wrong label column.
MAX_CLASSES = 1000

#: Largest CSV text nnstudio imports (unpacked when gzip): 256 MiB, more than twice MNIST
#: written as CSV. Parsing needs several times the text's size in memory; a bigger file, or a
#: gzip file that unpacks to more (a gzip bomb), is refused before more is read.
MAX_CSV_BYTES = 256 * 1024 * 1024

#: Integer labels must lie within ±2**53: beyond, a float64 cannot tell neighbours apart
#: ("1e19" and "10000000000000000001" would be the same class) and int64 may overflow.
MAX_INT_LABEL = 2**53

_KIND = "a CSV file"

_DELIMITERS = (",", ";", "\t")


def _short(cell: str, limit: int = 40) -> str:
    return repr(cell if len(cell) <= limit else cell[: limit - 1] + "…")


def _read_text(path: Path) -> str:
    """The file's text, unpacked when it is gzip; never more than ``MAX_CSV_BYTES`` held."""
    name = path.name
    too_large = (f"{name}: the file holds more than {size_text(MAX_CSV_BYTES)} of text; nnstudio imports "
                 f"CSV files of up to {size_text(MAX_CSV_BYTES)}: use a smaller file (fewer rows)")
    data = read_text_bytes(path, _KIND, MAX_CSV_BYTES, too_large)
    if b"\0" in data[:65536]:
        raise DataError(f"{name}: this is not a text file (it contains NUL bytes); choose a CSV file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Spreadsheet programs on Windows often save in a legacy 8-bit encoding; numbers are
        # ASCII either way, only header and label text could be affected.
        return data.decode("latin-1")


def _is_number(cell: str) -> bool:
    cell = cell.strip()
    if not cell or "_" in cell:
        return False
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _detect_delimiter(first_line: str) -> str:
    unquoted = re.sub(r'"[^"]*"', "", first_line)  # a quoted '"size, cm"' holds no delimiter
    counts = [(unquoted.count(d), -i, d) for i, d in enumerate(_DELIMITERS)]
    best = max(counts)
    return best[2] if best[0] > 0 else ","


def _split(line: str, delimiter: str) -> list[str]:
    if '"' in line:
        return next(csv.reader([line], delimiter=delimiter), [])
    return line.split(delimiter)


def load_csv(
    path: str | os.PathLike,
    label_column: int | str = -1,
    has_header: bool | None = None,
    delimiter: str | None = None,
    *,
    min_classes: int = 2,
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Load a CSV file of samples: returns ``(x, y, class_names)``.

    x: float32 ``(n, features)``; y: int64 ``(n,)`` class indices 0..k-1; class_names: the
    k original label values as text, ``class_names[y[i]]`` is row i's label.

    ``label_column`` is a 0-based column index (negative counts from the end, default the last
    column) or a header name. ``has_header`` ``None`` detects a header row. ``delimiter``
    ``None`` detects one of ``,`` ``;`` tab. Raises DataError naming the file (and line and
    column) for: an empty file, a cell that is not a number, NaN or infinite values, rows of
    different lengths, a label column out of range, fewer than ``min_classes`` classes.
    ``min_classes`` is 2 for training data (one class cannot teach a classifier anything);
    pass 1 for samples to predict, where rows that all share one label are normal.
    """
    path = Path(path)
    return parse_csv_text(
        _read_text(path), path.name, label_column=label_column, has_header=has_header,
        delimiter=delimiter, min_classes=min_classes,
    )


def parse_csv_text(
    text: str,
    name: str,
    label_column: int | str = -1,
    has_header: bool | None = None,
    delimiter: str | None = None,
    *,
    min_classes: int = 2,
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Like :func:`load_csv` but on already-read ``text``; ``name`` is used in messages."""
    numbered = [(i + 1, line) for i, line in enumerate(text.splitlines()) if line.strip()]
    if not numbered:
        raise DataError(f"{name}: the file is empty; a CSV file needs one row per sample")
    decimal_comma = False
    if delimiter is None:
        delimiter = _detect_delimiter(numbered[0][1])
        # ';' or tab separated with decimal commas ("1,5"), as spreadsheets write them in many
        # locales. Only numbers are read that way: a label or header name keeps its commas.
        decimal_comma = delimiter != "," and "," in text
    elif not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in '"\r\n':
        raise DataError(f"the delimiter must be a single character such as ',' (got {delimiter!r})")

    first = [c.strip() for c in _split(numbered[0][1], delimiter)]
    width = len(first)
    if width < 2:
        raise DataError(
            f"{name}, line {numbered[0][0]}: only one column was found (delimiter {delimiter!r}); "
            f"a CSV needs at least one feature column and a label column"
        )

    # Resolve the label column (header names need the header).
    if isinstance(label_column, str):
        if has_header is False:
            raise DataError(
                f"{name}: the label column is given by name ({label_column!r}) but has_header is "
                f"False; give its index instead, or let the header be read"
            )
        has_header = True
        wanted = label_column.strip()
        matches = [i for i, c in enumerate(first) if c == wanted]
        if not matches:
            matches = [i for i, c in enumerate(first) if c.lower() == wanted.lower()]
        if len(matches) != 1:
            shown = ", ".join(_short(c, 20) for c in first[:12]) + (", …" if width > 12 else "")
            how = "no" if not matches else "more than one"
            raise DataError(f"{name}: the header has {how} column named {label_column!r} (columns: {shown})")
        label_index = matches[0]
    elif isinstance(label_column, (int, np.integer)) and not isinstance(label_column, bool):
        label_index = int(label_column)
        if not -width <= label_index < width:
            raise DataError(
                f"{name}: label column {label_index} is out of range: the rows have {width} "
                f"columns, so use 0..{width - 1} (or -{width}..-1 counting from the end)"
            )
        label_index %= width
    else:
        raise DataError(f"label_column must be a column index or a header name, not {label_column!r}")

    if has_header is None:
        # A header when most feature cells are text (a data row with one typo is not a header).
        feature_cells = [c for i, c in enumerate(first) if i != label_index]
        text_cells = sum(1 for c in feature_cells if c and not _is_number(_numeric(c, decimal_comma)))
        feature_text = 2 * text_cells >= len(feature_cells)
        label_text = not _is_number(_numeric(first[label_index], decimal_comma))
        next_label_number = False
        if label_text and len(numbered) > 1:
            second = _split(numbered[1][1], delimiter)
            next_label_number = len(second) == width and _is_number(_numeric(second[label_index], decimal_comma))
        has_header = feature_text or (label_text and next_label_number)
    header = first if has_header else None
    rows = numbered[1:] if has_header else numbered
    if not rows:
        raise DataError(f"{name}: the file has a header line but no data rows")
    reference = "the header has" if has_header else f"line {numbered[0][0]} has"

    result = None
    if '"' not in text:
        result = _fast_path([(n, _numeric(line, decimal_comma)) for n, line in rows] if decimal_comma else rows,
                            delimiter, width, label_index)
    if result is None:
        result = _slow_path(name, rows, delimiter, width, label_index, reference, decimal_comma)
    features, label_cells = result

    _check_finite(name, features, rows, delimiter, label_index)
    with np.errstate(over="ignore"):
        x = features.astype(np.float32)
    if not np.isfinite(x).all():
        _check_finite(name, x, rows, delimiter, label_index, too_large=True)
    y, class_names = _encode_labels(name, label_cells, rows, label_index, header, decimal_comma,
                                    min_classes)
    return np.ascontiguousarray(x), y, class_names


def _fast_path(rows, delimiter, width, label_index):
    """Numeric files without quotes: np.loadtxt. None when anything needs the careful path."""
    counts = [line.count(delimiter) for _, line in rows]
    if min(counts) != width - 1 or max(counts) != width - 1:
        return None
    try:
        table = np.loadtxt(
            [line for _, line in rows], delimiter=delimiter, dtype=np.float64, ndmin=2,
            comments=None,
        )
    except (ValueError, TypeError):
        return None
    if table.shape != (len(rows), width):
        return None
    labels = table[:, label_index]
    if not (np.isfinite(labels).all() and (labels == np.round(labels)).all()
            and np.abs(labels).max() < MAX_INT_LABEL):  # 2**53 + 1 reads as 2**53: check its text
        return None  # text, fractional or huge labels: the careful path keeps their text or names the line
    features = np.delete(table, label_index, axis=1)
    return features, labels.astype(np.int64)


def _numeric(text: str, decimal_comma: bool) -> str:
    """``text`` as a number is written: "1,5" -> "1.5" in a file with decimal commas."""
    return text.replace(",", ".") if decimal_comma else text


def _slow_path(name, rows, delimiter, width, label_index, reference, decimal_comma):
    features = np.empty((len(rows), width - 1), dtype=np.float64)
    labels: list[str] = []
    feature_cols = [c for c in range(width) if c != label_index]
    for r, (line_no, line) in enumerate(rows):
        cells = _split(line, delimiter)
        if len(cells) != width:
            raise DataError(
                f"{name}, line {line_no} has {len(cells)} values but {reference} {width}"
            )
        values = [_numeric(cells[c], decimal_comma) for c in feature_cols]
        try:
            if any("_" in v for v in values):
                raise ValueError
            features[r] = np.array(values, dtype=np.float64)
        except ValueError:
            for c in feature_cols:
                if not _is_number(_numeric(cells[c], decimal_comma)):
                    what = "is empty" if not cells[c].strip() else "is not a number"
                    shown = "the value" if not cells[c].strip() else _short(cells[c].strip())
                    raise DataError(f"{name}, line {line_no}, column {c + 1}: {shown} {what}") from None
            raise DataError(f"{name}, line {line_no}: a value could not be read as a number") from None
        label = cells[label_index].strip()
        if not label:
            raise DataError(f"{name}, line {line_no}, column {label_index + 1}: the label is empty")
        labels.append(label)
    return features, labels


def _locate(features: np.ndarray, label_index: int) -> tuple[int, int]:
    r, c = (int(v) for v in np.argwhere(~np.isfinite(features))[0])
    return r, c + (1 if c >= label_index else 0)


def _check_finite(name, features, rows, delimiter, label_index, too_large=False) -> None:
    if np.isfinite(features).all():
        return
    r, col = _locate(features, label_index)
    line_no, line = rows[r]
    cell = _split(line, delimiter)[col].strip()
    if too_large:
        problem = "is too large for 32-bit floats (largest about 3.4e38)"
    else:
        problem = "is not a finite number (NaN and infinity are not allowed)"
    raise DataError(f"{name}, line {line_no}, column {col + 1}: {_short(cell)} {problem}")


def _int_label(text: str) -> int | None:
    """The whole number ``text`` holds ("3", "3.0", "1e3"), else None. Exact for long digit
    strings (no float rounding); may be larger than ``MAX_INT_LABEL``."""
    if not _is_number(text):
        return None
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    value = float(text)
    if not math.isfinite(value) or value != int(value):
        return None
    return int(value)


def _encode_labels(name, label_cells, rows, label_index, header,
                   decimal_comma=False, min_classes: int = 2) -> tuple[np.ndarray, tuple[str, ...]]:
    column = (f"the label column {_short(header[label_index])}" if header
              else f"the label column (column {label_index + 1})")
    if isinstance(label_cells, np.ndarray):  # integers from the fast path
        values, y = np.unique(label_cells, return_inverse=True)
        names = tuple(str(int(v)) for v in values)
    else:
        ints = [_int_label(_numeric(c, decimal_comma)) for c in label_cells]
        whole = [v for v in ints if v is not None]
        if len(whole) == len(ints):
            for r, v in enumerate(whole):
                if abs(v) > MAX_INT_LABEL:
                    raise DataError(
                        f"{name}, line {rows[r][0]}, column {label_index + 1}: the label "
                        f"{_short(label_cells[r])} is too large for a class number (whole-number labels "
                        f"must lie between -2**53 and 2**53, about ±9.0e15); use small numbers or "
                        f"text as class labels"
                    )
            values, y = np.unique(np.array(whole, dtype=np.int64), return_inverse=True)
            names = tuple(str(int(v)) for v in values)
        else:
            names_array, y = np.unique(np.array(label_cells, dtype=object).astype(str), return_inverse=True)
            names = tuple(str(v) for v in names_array)
    if len(names) < min_classes:
        only = names[0] if names else ""
        raise DataError(
            f"{name}: all {count(len(rows))} rows have the same label {only!r} in {column}; "
            f"a classifier needs at least two classes (is the label column right?)"
        )
    if len(names) > MAX_CLASSES:
        raise DataError(
            f"{name}: {column} has {count(len(names))} different values in {count(len(rows))} rows; "
            f"that is too many classes (at most {MAX_CLASSES:,}): choose the column that holds "
            f"the class label"
        )
    return y.reshape(-1).astype(np.int64), names
