"""Sentences for the message bar built from an action and the error that stopped it."""

from __future__ import annotations

__all__ = ["failure_message"]


def failure_message(action: str, name: str, error: BaseException) -> str:
    """``"{action}: {reason}"``, where the reason is ``error``'s sentence without a leading
    ``"{name}: "`` or ``"{name}, "``: core's file errors begin with the file's name (the CLI
    needs it), and ``action`` (e.g. "Could not open model.nnz") already says it.

    >>> failure_message("Could not import bad.csv", "bad.csv", ValueError("bad.csv, line 3: 'x' is not a number"))
    "Could not import bad.csv: line 3: 'x' is not a number"
    """
    reason = str(error)
    for separator in (": ", ", "):
        if name and reason.startswith(name + separator):
            reason = reason[len(name) + len(separator):]
            break
    return f"{action}: {reason}"
