"""Application start-up: check the engine, create the QApplication, show the main window."""

from __future__ import annotations

import logging
import os
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


def _setup_logging() -> None:
    """Log to a file in the user's data folder (a GUI script on Windows has no console) and
    route Qt's own warnings there too."""
    from PySide6.QtCore import QtMsgType, qInstallMessageHandler

    from core.data import user_data_dir

    handlers: list[logging.Handler] = [logging.StreamHandler()]
    try:
        folder = user_data_dir()
        folder.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(folder / "nnstudio.log", encoding="utf-8"))
    except OSError:
        pass  # a read-only home must not stop the app
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        handlers=handlers)
    qt_log = logging.getLogger("qt")
    levels = {QtMsgType.QtDebugMsg: logging.DEBUG, QtMsgType.QtInfoMsg: logging.INFO,
              QtMsgType.QtWarningMsg: logging.WARNING, QtMsgType.QtCriticalMsg: logging.ERROR,
              QtMsgType.QtFatalMsg: logging.CRITICAL}

    def handler(kind, _context, message):
        qt_log.log(levels.get(kind, logging.WARNING), message)

    qInstallMessageHandler(handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Start the app; ``argv`` may name a model file to open.

    ``NNSTUDIO_QUIT_AFTER_MS`` (a test hook) closes the window that many milliseconds after
    it is shown, through the normal close path, so a smoke test can run the real launch.
    """
    argv = list(sys.argv if argv is None else argv)
    problem = check_core()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from .document import Document, initial_state
    from .main_window import MainWindow
    from .settings import configure_application_names

    configure_application_names()
    app = QApplication.instance() or QApplication(argv)
    _setup_logging()
    from .theme import apply_saved_theme

    apply_saved_theme(app)  # View ▸ Theme (System / Light / Dark), remembered in the settings
    from .icons import app_icon

    app.setWindowIcon(app_icon())
    window = MainWindow(document=Document(initial_state()))
    window.show()
    files = [a for a in argv[1:] if not a.startswith("-")]
    if files:
        window.open_path(files[0])
    quit_after = os.environ.get("NNSTUDIO_QUIT_AFTER_MS")
    if quit_after:
        QTimer.singleShot(int(quit_after), window.close)
    return app.exec()
