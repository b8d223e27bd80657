"""Every question the app asks the user, behind one replaceable object.

The main window never opens a modal dialog directly: it calls these methods, so tests
substitute answers (no modal dialog on a tested path) and the app shows real dialogs.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

MODEL_FILTER = "nnstudio models (*.nnz);;All files (*)"


class Dialogs:
    """Real dialogs. Tests pass a subclass or a stub with the same methods."""

    def __init__(self, parent: QWidget | None = None):
        self.parent = parent

    def open_model_path(self, folder: str = "") -> str | None:
        path, _ = QFileDialog.getOpenFileName(self.parent, "Open model", folder, MODEL_FILTER)
        return path or None

    def save_model_path(self, suggestion: str = "") -> str | None:
        path, _ = QFileDialog.getSaveFileName(self.parent, "Save model as", suggestion, MODEL_FILTER)
        if path and not Path(path).suffix:
            path += ".nnz"
        return path or None

    def open_data_paths(self, title: str, file_filter: str, multiple: bool = False) -> list[str]:
        if multiple:
            paths, _ = QFileDialog.getOpenFileNames(self.parent, title, "", file_filter)
            return list(paths)
        path, _ = QFileDialog.getOpenFileName(self.parent, title, "", file_filter)
        return [path] if path else []

    def save_file_path(self, title: str, suggestion: str, file_filter: str) -> str | None:
        """A path to export to (PNG, CSV…)."""
        path, _ = QFileDialog.getSaveFileName(self.parent, title, suggestion, file_filter)
        return path or None

    def choose_folder(self, title: str) -> str | None:
        return QFileDialog.getExistingDirectory(self.parent, title) or None

    def new_folder_path(self, title: str, suggestion: str) -> str | None:
        """A folder to write an export into, typed as a name like Save As (it need not exist:
        the export creates it); ``suggestion`` is the proposed path."""
        path, _ = QFileDialog.getSaveFileName(self.parent, title, suggestion, "Folders (*)",
                                              options=QFileDialog.Option.DontConfirmOverwrite)
        return path or None

    def ask_save_changes(self, name: str, detail: str = "") -> str:
        """"save", "discard" or "cancel". ``detail``: a second sentence (e.g. that a training
        run is still going)."""
        box = QMessageBox(QMessageBox.Icon.Warning, "Unsaved changes",
                          f"Save the changes to {name} before closing it?",
                          QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                          | QMessageBox.StandardButton.Cancel, self.parent)
        if detail:
            box.setInformativeText(detail)
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        answer = box.exec()
        return {QMessageBox.StandardButton.Save: "save",
                QMessageBox.StandardButton.Discard: "discard"}.get(QMessageBox.StandardButton(answer), "cancel")

    def confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self.parent, title, text)
        return answer == QMessageBox.StandardButton.Yes
