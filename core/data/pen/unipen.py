"""Read pen-drawn digits from a UNIPEN text file (the UCI *pendigits* "orig" files).

The format, as the UCI files use it (see resources/data/pendigits/README.md):

- ``.PEN_DOWN`` … ``.PEN_UP`` encloses one stroke: one ``x y`` pair of tablet coordinates
  a line (y points up). Strokes are numbered 0, 1, 2, … in file order.
- ``.SEGMENT DIGIT a ? "L"`` or ``.SEGMENT DIGIT a-b ? "L"``: strokes a to b (inclusive)
  form one digit with label L (a digit 0-9).
- ``.COMMENT L W N`` after a segment: its label again, the writer and the writer's sample
  number.
- Other keywords (``.INCLUDE``, ``.LEXICON``, ``.HIERARCHY``, ``.DT`` …) carry nothing
  needed here and are skipped.

Anything else is refused with a :class:`~core.data.errors.DataError` naming the file and
the (1-based) line: a coordinate that is not a number, coordinates outside a stroke, a
segment naming strokes the file does not have, a label that is not a digit, a comment whose
label disagrees with its segment, an empty file, a file that is not text or gzip. Files
larger than :data:`MAX_PEN_BYTES` (unpacked) are refused before they are held in memory.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.data._files import count, read_text_bytes, size_text
from core.data.errors import DataError

__all__ = ["MAX_PEN_BYTES", "PenDigit", "read_unipen"]

#: Largest UNIPEN text nnstudio reads (unpacked); the UCI training file is 3.6 MB.
MAX_PEN_BYTES = 64 * 2**20
_KIND = "a UNIPEN pen-stroke file"

_SEGMENT = re.compile(r'^\.SEGMENT\s+(\S+)\s+(\d+)(?:\s*-\s*(\d+))?\s+\S+\s+"([^"]*)"\s*$')


@dataclass(frozen=True, eq=False)
class PenDigit:
    """One pen-drawn digit: its label (0-9), its writer's id and the writer's sample number,
    and its strokes in writing order, each (n, 2) float64 tablet coordinates (x, y) as in
    the file (y points up). The arrays are read-only."""

    label: int
    writer: int
    sample: int
    strokes: tuple[np.ndarray, ...]


@dataclass
class _Segment:
    line: int
    first: int
    last: int
    label: int
    writer: int | None = None
    sample: int | None = None


def _read_text(path: Path) -> str:
    """The file's text, unpacked when it is gzip; never more than MAX_PEN_BYTES held."""
    name = path.name
    too_large = (f"{name}: the file holds more than {size_text(MAX_PEN_BYTES)} of text; nnstudio reads "
                 f"pen-stroke files of up to {size_text(MAX_PEN_BYTES)}")
    data = read_text_bytes(path, _KIND, MAX_PEN_BYTES, too_large)
    if b"\0" in data:
        raise DataError(f"{name}: this is not a text file (it contains NUL bytes); choose a UNIPEN "
                        f"text file (.gz or plain)")
    try:
        return data.decode("ascii")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise DataError(f"{name}, line {count(line)}: this is not a UNIPEN text file (byte "
                        f"0x{data[e.start]:02x} is not ASCII text)") from None


def _digit_label(text: str, name: str, line: int) -> int:
    if len(text) != 1 or text not in "0123456789":
        raise DataError(f"{name}, line {count(line)}: the label {text!r} is not a digit 0-9")
    return int(text)


def _integers(words: list[str], name: str, line: int, what: str) -> list[int]:
    try:
        return [int(word) for word in words]
    except ValueError:
        bad = next(w for w in words if not re.fullmatch(r"[+-]?\d+", w))
        raise DataError(f"{name}, line {count(line)}: {bad!r} is not a whole number ({what})") from None


def _point(text: str, name: str, line: int) -> tuple[float, float]:
    words = text.split()
    if len(words) != 2:
        raise DataError(f"{name}, line {count(line)}: a stroke point must be two numbers 'x y', "
                        f"not {text.strip()[:40]!r}")
    try:
        x, y = float(words[0]), float(words[1])
    except ValueError:
        bad = words[0] if not _is_number(words[0]) else words[1]
        raise DataError(f"{name}, line {count(line)}: {bad[:40]!r} is not a number (a stroke point "
                        f"must be 'x y')") from None
    if not (np.isfinite(x) and np.isfinite(y)):
        raise DataError(f"{name}, line {count(line)}: a stroke point must be finite, not {text.strip()!r}")
    return x, y


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def _stroke(lines: list[str], numbers: list[int], name: str) -> np.ndarray:
    """The point lines of one stroke (at line ``numbers``) -> read-only (n, 2) float64. All
    lines are converted at once; when that fails, line by line, to name the culprit's line."""
    try:
        stroke = np.array([line.split() for line in lines], dtype=np.float64)
        fine = stroke.shape == (len(lines), 2) and bool(np.all(np.isfinite(stroke)))
    except ValueError:  # a word that is not a number, or lines of different lengths
        fine = False
    if not fine:
        stroke = np.array([_point(line, name, number) for line, number in zip(lines, numbers, strict=True)])
    stroke.flags.writeable = False
    return stroke


def read_unipen(path: str | os.PathLike[str]) -> list[PenDigit]:
    """The digits of the UNIPEN file ``path`` (``.gz`` or plain text), in file order.
    Raises DataError naming the line for a malformed file (see the module docs)."""
    path = Path(path)
    name = path.name
    text = _read_text(path)
    strokes: list[np.ndarray] = []
    segments: list[_Segment] = []
    points: list[str] | None = None  # the open stroke's point lines
    numbers: list[int] = []  # and their line numbers
    down_line = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if not line.startswith("."):
            if points is None:
                raise DataError(f"{name}, line {count(number)}: {line[:40]!r} is outside a stroke "
                                f"(points belong between .PEN_DOWN and .PEN_UP)")
            points.append(line)
            numbers.append(number)
            continue
        keyword = line.split(None, 1)[0]
        if keyword == ".PEN_DOWN":
            if points is not None:
                raise DataError(f"{name}, line {count(number)}: .PEN_DOWN inside a stroke (the stroke "
                                f"begun on line {count(down_line)} has no .PEN_UP)")
            points, numbers, down_line = [], [], number
        elif keyword == ".PEN_UP":
            if points is None:
                raise DataError(f"{name}, line {count(number)}: .PEN_UP without a .PEN_DOWN before it")
            if not points:
                raise DataError(f"{name}, line {count(number)}: the stroke begun on line "
                                f"{count(down_line)} has no points")
            strokes.append(_stroke(points, numbers, name))
            points = None
        elif points is not None:
            raise DataError(f"{name}, line {count(number)}: {keyword} inside a stroke (the stroke begun on "
                            f"line {count(down_line)} has no .PEN_UP)")
        elif keyword == ".SEGMENT":
            segments.append(_parse_segment(line, name, number))
        elif keyword == ".COMMENT":
            _parse_comment(line, segments, name, number)
    if points is not None:
        raise DataError(f"{name}, line {count(down_line)}: the stroke begun here has no .PEN_UP "
                        f"(the file ends inside it)")
    if not segments:
        raise DataError(f"{name}: the file holds no digits (no .SEGMENT lines); choose a UNIPEN pen-stroke file")
    digits = []
    for segment in segments:
        if segment.last >= len(strokes):
            have = f"only {count(len(strokes))} strokes (0-{count(len(strokes) - 1)})" if strokes else "no strokes"
            raise DataError(f"{name}, line {count(segment.line)}: the segment names strokes "
                            f"{segment.first}-{segment.last} but the file has {have}")
        if segment.writer is None or segment.sample is None:
            raise DataError(f"{name}, line {count(segment.line)}: the segment has no .COMMENT line "
                            f"'label writer sample' after it")
        digits.append(PenDigit(segment.label, segment.writer, segment.sample,
                               tuple(strokes[segment.first:segment.last + 1])))
    return digits


def _parse_segment(line: str, name: str, number: int) -> _Segment:
    match = _SEGMENT.match(line)
    if match is None:
        raise DataError(f"{name}, line {count(number)}: a .SEGMENT line must read "
                        f"'.SEGMENT DIGIT a[-b] ? \"label\"', not {line[:60]!r}")
    first = int(match.group(2))
    last = int(match.group(3)) if match.group(3) is not None else first
    if last < first:
        raise DataError(f"{name}, line {count(number)}: the segment names strokes {first}-{last}, "
                        f"which end before they begin")
    return _Segment(number, first, last, _digit_label(match.group(4), name, number))


def _parse_comment(line: str, segments: list[_Segment], name: str, number: int) -> None:
    words = line.split()[1:]
    if not segments or segments[-1].writer is not None:
        raise DataError(f"{name}, line {count(number)}: a .COMMENT must follow its .SEGMENT line "
                        f"(one comment per segment)")
    if len(words) != 3:
        raise DataError(f"{name}, line {count(number)}: a .COMMENT line must read 'label writer sample', "
                        f"not {line[:60]!r}")
    label = _digit_label(words[0], name, number)
    writer, sample = _integers(words[1:], name, number, "writer and sample numbers")
    segment = segments[-1]
    if label != segment.label:
        raise DataError(f"{name}, line {count(number)}: the comment says label {label} but its segment "
                        f"(line {count(segment.line)}) says {segment.label}")
    segment.writer, segment.sample = writer, sample
