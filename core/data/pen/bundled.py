"""The bundled pen-drawn digits: resources/data/pendigits/pendigits-orig.tra.gz (UCI
pendigits, 30 writers, CC BY 4.0; see the README beside it)."""

from __future__ import annotations

import functools
from pathlib import Path

from core.data.errors import DataError
from core.data.pen.unipen import PenDigit, read_unipen

__all__ = ["PEN_DIGITS_ATTRIBUTION", "PEN_DIGITS_RESOURCE", "load_pen_digits", "pen_digits_path"]

#: The bundled file, relative to resources/.
PEN_DIGITS_RESOURCE = "data/pendigits/pendigits-orig.tra.gz"

PEN_DIGITS_ATTRIBUTION = (
    "Pen-Based Recognition of Handwritten Digits, by E. Alpaydin and F. Alimoglu (Bogazici "
    "University), 1998. UCI Machine Learning Repository, "
    "https://archive.ics.uci.edu/dataset/81/pen+based+recognition+of+handwritten+digits, "
    "DOI 10.24432/C5MG6K. Licensed CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/). "
    "Bundled: the 30 training writers' original UNIPEN file."
)


def pen_digits_path() -> Path:
    """The bundled UNIPEN file on disk. Raises DataError when it is missing (a damaged
    install) or not a plain file (resources inside a zip)."""
    from core.resource_files import resource_path

    try:
        node = resource_path(PEN_DIGITS_RESOURCE)
    except FileNotFoundError as e:
        raise DataError(str(e)) from None
    if not isinstance(node, Path):
        raise DataError(f"the bundled pen digits ({PEN_DIGITS_RESOURCE}) are not a file on disk; "
                        "install nnstudio as a folder, not a zip")
    return node


@functools.lru_cache(maxsize=1)
def load_pen_digits() -> tuple[PenDigit, ...]:
    """The bundled digits (7,494 by 30 writers), parsed once per process (about 0.5 s)."""
    return tuple(read_unipen(pen_digits_path()))
