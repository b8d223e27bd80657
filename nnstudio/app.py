"""Application start-up: read the command line, check the engine and the system libraries Qt
needs, create the QApplication, show the main window."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from nnstudio.platform_check import platform_problem, qt_import_problem


def check_core() -> str | None:
    """None if the importable ``core`` is nnstudio's engine, else a message saying what to do.

    ``core`` is a generic top-level name another distribution could also install.
    """
    try:
        import core
    except Exception as exc:  # broad on purpose: any failure here means the same thing to the user
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


#: Qt's own command-line options that take a value (``-style fusion`` or ``-style=fusion``) and
#: that are flags; they are handed to QApplication, everything else is nnstudio's.
QT_OPTIONS_WITH_VALUE = ("-platform", "-platformtheme", "-platformpluginpath", "-plugin", "-style", "-stylesheet",
                         "-qwindowgeometry", "-geometry", "-qwindowtitle", "-qwindowicon", "-display", "-session")
QT_FLAGS = ("-reverse", "-widgetcount", "-nograb", "-dograb", "-sync")


def _split_qt_arguments(args: Sequence[str]) -> tuple[list[str], list[str]]:
    """(nnstudio's arguments, Qt's arguments) from the command line after the program name."""
    ours: list[str] = []
    qt: list[str] = []
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        name = arg.split("=", 1)[0]
        if name in QT_OPTIONS_WITH_VALUE:
            qt.append(arg)
            if "=" not in arg and rest:
                qt.append(rest.pop(0))
        elif arg in QT_FLAGS:
            qt.append(arg)
        else:
            ours.append(arg)
    return ours, qt


def _version() -> str:
    """nnstudio's version, without importing Qt (the engine's, or the installed distribution's)."""
    if check_core() is None:
        import core

        return str(core.__version__)
    try:
        from importlib.metadata import version

        return version("nnstudio")
    except Exception:  # broad on purpose: a version string must never stop --version
        return "(unknown version)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nnstudio",
        description="Build, train and understand neural networks visually. Opens the nnstudio window, "
                    "and FILE in it if given.",
        epilog="Qt's own options (-style NAME, -platform NAME, -reverse ...) are passed to Qt. Without a screen, "
               "use the command line: nnstudio-cli --help (or python -m core --help).")
    parser.add_argument("file", nargs="?", metavar="FILE", help="a model file (.nnz) to open")
    parser.add_argument("--version", action="version", version=f"nnstudio {_version()}")
    return parser


def _write_ready_time(path: str) -> None:
    import time

    now = time.time()
    with open(path + ".part", "w", encoding="utf-8") as file:  # the reader never sees half a line
        file.write(f"{now:.6f}\n")
    os.replace(path + ".part", path)


def main(argv: Sequence[str] | None = None) -> int:
    """Start the app; ``argv`` (``sys.argv`` by default: the program name first) may name a
    model file to open. ``--help`` and ``--version`` print and exit 0, an unknown option
    prints the usage and exits 2, and none of the three opens a window.

    ``NNSTUDIO_QUIT_AFTER_MS`` (a test hook) closes the window that many milliseconds after
    it is shown, through the normal close path, so a smoke test can run the real launch.
    ``NNSTUDIO_READY_FILE`` (a measuring hook, benchmarks/bench_startup.py) names a file the
    app writes the wall-clock time to (``time.time()``) once the first window is shown and
    the event loop has gone idle.
    """
    argv = list(sys.argv if argv is None else argv)
    ours, qt_args = _split_qt_arguments(argv[1:])
    try:
        args = build_parser().parse_args(ours)
    except SystemExit as exc:  # --help / --version (0) or a usage error (2), already printed
        return int(exc.code or 0)
    problem = check_core() or platform_problem(qt_args=qt_args)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    try:
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication
    except ImportError as exc:  # a system library Qt needs is missing
        print(qt_import_problem(exc), file=sys.stderr)
        return 2

    from nnstudio.settings import configure_application_names
    from nnstudio.state.document import Document, initial_state

    configure_application_names()
    app = QApplication.instance() or QApplication([argv[0] if argv else "nnstudio", *qt_args])
    document = Document(initial_state())
    if not args.file:
        # The start dataset (MNIST: ~0.3 s to decode) is read on a worker thread while the
        # window's modules import, instead of in the layer editor's first check.
        document.preload_dataset()
    from nnstudio.main_window import MainWindow

    _setup_logging()
    from nnstudio.theme import apply_saved_theme

    apply_saved_theme(app)  # View ▸ Theme (System / Light / Dark), remembered in the settings
    from nnstudio.icons import app_icon

    app.setWindowIcon(app_icon())
    document.finish_preload()  # the first window shows the data, as when it was read synchronously
    window = MainWindow(document=document)
    window.show()
    if args.file:
        window.open_path(args.file)
    ready_file = os.environ.get("NNSTUDIO_READY_FILE")
    if ready_file:
        QTimer.singleShot(0, lambda: _write_ready_time(ready_file))  # runs once the queued events are done
    quit_after = os.environ.get("NNSTUDIO_QUIT_AFTER_MS")
    if quit_after:
        QTimer.singleShot(int(quit_after), window.close)
    return app.exec()
