"""Fixtures shared by the GUI tests (pytest-qt, offscreen; see tests/conftest.py)."""

from __future__ import annotations

import pytest

from nnstudio.state.document import Document


class FakeDialogs:
    """Answers every question without a modal dialog; tests set the answers."""

    def __init__(self):
        self.open_path: str | None = None
        self.save_path: str | None = None
        self.data_paths: list[str] = []
        self.folder: str | None = None
        self.folder_suggestions: list[str] = []
        self.save_changes_answer = "discard"
        self.confirm_answer = True
        self.asked: list[str] = []
        self.save_changes_details: list[str] = []

    def open_model_path(self, folder=""):
        self.asked.append("open")
        return self.open_path

    def save_model_path(self, suggestion=""):
        self.asked.append("save")
        return self.save_path

    def open_data_paths(self, title, file_filter, multiple=False):
        self.asked.append("data")
        return list(self.data_paths)

    def save_file_path(self, title, suggestion, file_filter):
        self.asked.append("export")
        return self.save_path

    def choose_folder(self, title):
        self.asked.append("folder")
        return self.folder

    def new_folder_path(self, title, suggestion):
        self.asked.append("folder")
        self.folder_suggestions.append(suggestion)
        return self.folder

    def ask_save_changes(self, name, detail=""):
        self.asked.append("save_changes")
        self.save_changes_details.append(detail)
        return self.save_changes_answer

    def confirm(self, title, text):
        self.asked.append("confirm")
        return self.confirm_answer


@pytest.fixture
def dialogs() -> FakeDialogs:
    return FakeDialogs()


@pytest.fixture
def document(qtbot) -> Document:
    """A fresh default document (8×8 digits MLP)."""
    return Document()


@pytest.fixture
def open_main_window(qtbot, dialogs):
    """Factory for shown main windows: ``open_main_window(size=(1200, 800), active=False)``.

    ``active=True`` also makes it the active window (window-wide keyboard shortcuts only
    reach an active window). After the test every window made is shut down cleanly: every
    background thread finished (training stopped), nothing left to ask about on close.
    """
    from PySide6.QtWidgets import QApplication

    from nnstudio.main_window import MainWindow

    windows = []

    def make(size: tuple[int, int] = (1200, 800), active: bool = False) -> MainWindow:
        w = MainWindow(dialogs=dialogs)
        qtbot.addWidget(w)
        w.resize(*size)
        w.show()
        qtbot.waitExposed(w)
        if active:
            w.activateWindow()
            qtbot.waitUntil(lambda: QApplication.activeWindow() is w, timeout=2000)
        windows.append(w)
        return w

    yield make
    for w in windows:
        # Every background thread (training, evaluation, step-through, drawing, export, dataset):
        # a job still running when the test process exits dies in Qt's thread pool with "Qt
        # Concurrent has caught an exception thrown from a worker thread".
        assert w._shutdown_workers()
        w.document.undo_stack.clear()
        w.document._unsaved_training = False


@pytest.fixture
def one_blas_thread():
    """Training runs with one BLAS thread (the setting a 2-core machine gets), so tests that
    train in the window's worker do not compete with the GUI thread for cores."""
    from nnstudio.controllers.training_controller import BLAS_THREADS_KEY
    from nnstudio.settings import app_settings

    app_settings().setValue(BLAS_THREADS_KEY, 1)
    yield
    app_settings().remove(BLAS_THREADS_KEY)
