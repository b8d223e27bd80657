"""Pen-drawn digits: real handwriting as pen strokes, rendered exactly as the Draw canvas
shows a drawing to a network.

- :mod:`.unipen`: :func:`read_unipen` parses a UNIPEN text file into :class:`PenDigit` s
  (label, writer, sample, tablet strokes), refusing a malformed file with a DataError that
  names the line;
- :mod:`.bundled`: :func:`pen_digits_path` / :func:`load_pen_digits` (the UCI pendigits
  training writers, bundled in resources/data/pendigits/);
- :mod:`.render`: :func:`place_on_canvas` (tablet strokes -> mouse-like canvas strokes, with
  the variation between people and screens), :func:`render_pen_digits` (through
  :mod:`core.data.brush` and :mod:`core.data.drawing`: network inputs), :func:`writer_split`
  and :data:`HELD_OUT_WRITERS`;
- :mod:`.cache`: the catalogue's renderings kept on disk per mode (keyed by the bundled
  file's SHA-256, :data:`~core.data.pen.render.RENDER_VERSION` and the mode), so only the
  very first load renders.
"""

from __future__ import annotations

from core.data.pen.bundled import PEN_DIGITS_ATTRIBUTION, PEN_DIGITS_RESOURCE, load_pen_digits, pen_digits_path
from core.data.pen.render import HELD_OUT_WRITERS, Placement, place_on_canvas, render_pen_digits, writer_split
from core.data.pen.unipen import MAX_PEN_BYTES, PenDigit, read_unipen

__all__ = [
    "HELD_OUT_WRITERS",
    "MAX_PEN_BYTES",
    "PEN_DIGITS_ATTRIBUTION",
    "PEN_DIGITS_RESOURCE",
    "PenDigit",
    "Placement",
    "load_pen_digits",
    "pen_digits_path",
    "place_on_canvas",
    "read_unipen",
    "render_pen_digits",
    "writer_split",
]
