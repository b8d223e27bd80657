"""Application start-up: check the engine, create the QApplication, show the main window."""

from __future__ import annotations

import sys
from typing import Sequence


def check_core() -> str | None:
    """None if the importable ``core`` is nnstudio's engine, else a message saying what to do.

    ``core`` is a generic top-level name another distribution could also install.
    """
    try:
        import core
    except Exception as exc:  # noqa: BLE001 - any failure here means the same thing to the user
        return f"nnstudio's engine (the 'core' package) could not be imported: {exc}"
    if not getattr(core, "__nnstudio_core__", False):
        where = getattr(core, "__file__", "an unknown place")
        return (f"The 'core' package found at {where} is not nnstudio's engine (another package uses the "
                "same name). Install nnstudio in its own virtual environment (python -m venv, or pipx).")
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Start the app; ``argv`` may name a model file to open."""
    argv = list(sys.argv if argv is None else argv)
    problem = check_core()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow
    from .settings import configure_application_names

    configure_application_names()
    app = QApplication.instance() or QApplication(argv)
    window = MainWindow()
    window.show()
    files = [a for a in argv[1:] if not a.startswith("-")]
    if files:
        window.open_path(files[0])
    return app.exec()
