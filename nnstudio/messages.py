"""Sentences for the message bar built from an action and the error that stopped it, and
``reports_errors``: the guard every GUI slot that opens, saves or starts training wears, so
no exception ever escapes a slot (where the user would see nothing, and Qt only prints it).
"""

from __future__ import annotations

import functools
import logging
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

import core
from core.data import DataError

__all__ = ["USER_ERRORS", "describe_failure", "failure_message", "reports_errors"]

#: The documented error types: their message is a sentence written for the user.
USER_ERRORS: tuple[type[BaseException], ...] = (core.ModelFileError, core.SpecError, core.TrainingError, DataError,
                                                OSError)

_log = logging.getLogger("nnstudio")
_Method = TypeVar("_Method", bound=Callable[..., Any])


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


def describe_failure(action: str, error: BaseException, name: str = "") -> tuple[str, str]:
    """(sentence, details) for the message bar. A documented error (``USER_ERRORS``) is the
    reason itself, with no details; anything else is a bug: the sentence says so and the
    details hold the traceback for a report."""
    if isinstance(error, USER_ERRORS):
        return failure_message(action, name, error), ""
    details = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    reason = str(error) or "no description"
    return (f"{action}: an unexpected error occurred ({type(error).__name__}: {reason}). Nothing was changed. "
            "Details has the information for a bug report."), details


def reports_errors(action: str | Callable[..., str], failed: Any = None) -> Callable[[_Method], _Method]:
    """Decorator for a GUI-thread method (a slot, or what one calls) that opens, saves or
    starts something: any exception it raises becomes one message (``describe_failure``)
    and the method returns ``failed`` instead.

    ``action`` is the start of the sentence ("Could not save"), or a function of the
    method's arguments that makes it (``lambda path: f"Could not open {Path(path).name}"``).
    The message goes to ``self.show_message(text, level, details)`` when the object has it,
    else to ``self.document.notify`` / ``self._document.notify``. Unexpected errors are also
    logged with their traceback (the log file, for a bug report).
    """

    def decorate(method: _Method) -> _Method:
        @functools.wraps(method)
        def guarded(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except Exception as exc:  # broad on purpose: the point: nothing escapes to Qt
                try:
                    what = action(*args, **kwargs) if callable(action) else action
                except Exception:  # broad on purpose: a bad argument must not hide the real error
                    what = "The action failed"
                text, details = describe_failure(what, exc, _name_in(args))
                if details:
                    _log.error("%s failed unexpectedly", method.__qualname__, exc_info=exc)
                _notifier(self)(text, "error", details)
                return failed

        return guarded  # type: ignore[return-value]

    return decorate


def _name_in(args: tuple) -> str:
    """The file name of a path among the arguments (core's errors start with it)."""
    from pathlib import Path

    for arg in args:
        if isinstance(arg, (str, Path)) and str(arg):
            return Path(arg).name
    return ""


def _notifier(owner: Any) -> Callable[[str, str, str], None]:
    show = getattr(owner, "show_message", None)
    if callable(show):
        return show
    document = getattr(owner, "document", None) or getattr(owner, "_document", None)
    if document is None:
        raise TypeError(f"{type(owner).__name__} has neither show_message nor a document to notify")
    return document.notify
