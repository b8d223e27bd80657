"""The main window: composition and wiring only (no maths, no file parsing).

Left: the network (layer editor). Centre: tabs Start / Train / Draw / Evaluate. Right:
dataset and training settings. File handling (new, presets, open, save, recent, drag and
drop) and the unsaved-changes guard live here; all questions go through ``Dialogs``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import QMainWindow, QScrollArea, QTabWidget, QVBoxLayout, QWidget

import core

from .dialogs import Dialogs
from .document import Document
from .messages import failure_message
from .settings import app_settings
from .widgets.message_bar import MessageBar
from .widgets.side_panels import SidePanelSplitter

MAX_RECENT = 8
MODEL_SUFFIX = ".nnz"
#: Width of the network panel (left) and of the settings panel (right) when there is room.
SIDE_WIDTHS = (330, 310)
#: The default window size, and the smallest the layout is made for (every tab usable).
DEFAULT_SIZE = (1400, 860)
MINIMUM_SIZE = (900, 600)


class MainWindow(QMainWindow):
    """One window, one Document for its whole life (New/Open replace its contents)."""

    def __init__(self, dialogs: Dialogs | None = None, document: Document | None = None):
        super().__init__()
        self.setObjectName("mainWindow")
        self.dialogs = dialogs or Dialogs(self)
        self.document = document or Document(parent=self)
        self.document.setParent(self)
        self.settings = app_settings()
        self.setAcceptDrops(True)
        self.setMinimumSize(*MINIMUM_SIZE)

        self.message_bar = MessageBar()
        self.message_bar.actionTriggered.connect(self._on_message_bar_action_triggered)
        self._message_actions: dict[str, object] = {}
        self._panel_actions: dict[int, QAction] = {}  # View menu: side panel index -> action
        self.document.message.connect(self.show_message)

        self._build_panels()
        self._build_actions()
        self._build_menus()
        self.statusBar().showMessage("Ready")

        self.document.pathChanged.connect(self._update_title)
        self.document.modifiedChanged.connect(self._update_title)
        self._update_title()
        self._restore_geometry()

    # -- composition -------------------------------------------------------------------------
    def _panel(self, module: str, cls: str, *args):
        mod = importlib.import_module(f"nnstudio.{module}")
        return getattr(mod, cls)(*args)

    def _build_panels(self) -> None:
        doc = self.document
        self.controller = self._panel("training_controller", "TrainingController", doc, self)
        self.layer_editor = self._panel("widgets.layer_editor", "LayerEditor", doc)
        self.dataset_panel = self._panel("widgets.dataset_panel", "DatasetPanel", doc, self.dialogs)
        self.training_settings = self._panel("widgets.training_settings_panel", "TrainingSettingsPanel", doc)
        self.dashboard = self._panel("widgets.training_dashboard", "TrainingDashboard", doc, self.controller,
                                     self.dialogs)
        self.draw_panel = self._panel("widgets.draw_panel", "DrawPanel", doc)
        self.evaluation_panel = self._panel("widgets.evaluation_panel", "EvaluationPanel", doc, self.controller,
                                            self.dialogs)
        self.start_page = self._panel("widgets.start_page", "StartPage")
        self._wire_panels()

        self.tabs = QTabWidget()
        self.tabs.setObjectName("mainTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.start_page, "Start")
        self.tabs.addTab(self.dashboard, "Train")
        self.tabs.addTab(self.draw_panel, "Draw")
        self.tabs.addTab(self.evaluation_panel, "Evaluate")
        self.tabs.setCurrentWidget(self.dashboard)

        settings_column = QWidget()
        column = QVBoxLayout(settings_column)
        column.addWidget(self.dataset_panel)
        column.addWidget(self.training_settings)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setObjectName("settingsScroll")
        scroll.setWidgetResizable(True)
        scroll.setWidget(settings_column)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # Side columns keep a usable width; the centre (plots, canvas) absorbs resizing.
        scroll.setMinimumWidth(280)
        self.layer_editor.setMinimumWidth(250)

        # The side panels keep their width (and can be collapsed); the centre absorbs resizing
        # and, in a narrow window, the side panels give way to it first (SidePanelSplitter).
        self.splitter = SidePanelSplitter(self.layer_editor, self.tabs, scroll, SIDE_WIDTHS)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.panelToggled.connect(self._on_splitter_panel_toggled)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.message_bar)
        layout.addWidget(self.splitter, 1)
        self.setCentralWidget(central)

    def _wire_panels(self) -> None:
        """Connections between panels (each panel only knows the document)."""
        self.start_page.presetChosen.connect(self.new_from_preset)
        # Learning rate and batch size stay live while training: the controller applies
        # them at the next batch.
        self.training_settings.learningRateRequested.connect(self.controller.set_learning_rate)
        self.training_settings.batchSizeRequested.connect(self.controller.set_batch_size)
        self.dashboard.statusText.connect(self._on_dashboard_status_text)
        self.evaluation_panel.sampleChosen.connect(self._on_evaluation_panel_sample_chosen)
        # The Evaluate tab shows the activations of whatever the Draw tab feeds the network.
        self.draw_panel.networkInputChanged.connect(self.evaluation_panel.set_probe_input)
        self.draw_panel.drawingAdded.connect(self._on_draw_panel_drawing_added)

    def _on_dashboard_status_text(self, text: str) -> None:
        self.statusBar().showMessage(text)

    def _on_evaluation_panel_sample_chosen(self, image, caption: str) -> None:
        self.draw_panel.show_sample(image, caption)
        self.tabs.setCurrentWidget(self.draw_panel)

    def _on_draw_panel_drawing_added(self, _count: int) -> None:
        if self.document.dataset_choice.params.get("include_drawings"):
            self.document.drop_loaded_datasets()  # the next run must see the new drawing
        self.dataset_panel.drawings_changed()

    def _shutdown_workers(self) -> bool:
        """Stop every background thread (training, download, evaluation); True when none is left."""
        results = [self.controller.shutdown(), self.dataset_panel.shutdown(), self.evaluation_panel.shutdown()]
        return all(results)

    def _build_actions(self) -> None:
        def action(text, slot, shortcut=None, name=None, tip=""):
            a = QAction(text, self)
            if shortcut is not None:
                a.setShortcut(shortcut)
            if name:
                a.setObjectName(name)
            a.setStatusTip(tip)
            a.triggered.connect(slot)
            return a

        self.new_action = action("&New", self.new_document, QKeySequence.StandardKey.New, "newAction",
                                 "Start a new network (an MLP on MNIST if it is on this computer, else on the "
                                 "8×8 digits)")
        self.open_action = action("&Open…", self.open_dialog, QKeySequence.StandardKey.Open, "openAction")
        self.save_action = action("&Save", self.save, QKeySequence.StandardKey.Save, "saveAction")
        self.save_as_action = action("Save &As…", self.save_as, QKeySequence.StandardKey.SaveAs, "saveAsAction")
        self.quit_action = action("&Quit", self.close, QKeySequence.StandardKey.Quit, "quitAction")
        self.undo_action = self.document.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.undo_action.setObjectName("undoAction")
        self.redo_action = self.document.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence.StandardKey.Redo])
        self.redo_action.setObjectName("redoAction")
        self.about_action = action("&About nnstudio", self._show_about, None, "aboutAction")
        self.show_network_panel_action = self._panel_action("&Network panel", "showNetworkPanelAction", 0,
                                                            "Show or hide the layer list on the left")
        self.show_settings_panel_action = self._panel_action("&Settings panel", "showSettingsPanelAction", 2,
                                                             "Show or hide the dataset and training settings "
                                                             "on the right")

    def _panel_action(self, text: str, name: str, index: int, tip: str) -> QAction:
        """A checkable View-menu action showing side panel ``index`` of the main splitter."""
        a = QAction(text, self)
        a.setObjectName(name)
        a.setCheckable(True)
        a.setChecked(self.splitter.panel_shown(index))
        a.setStatusTip(tip)
        a.setToolTip(tip)
        a.toggled.connect(lambda shown, i=index: self.splitter.set_panel_shown(i, shown))
        self._panel_actions[index] = a
        return a

    def _on_splitter_panel_toggled(self, index: int, shown: bool) -> None:
        action = self._panel_actions.get(index)  # the menu follows a drag to the edge and back
        if action is not None and action.isChecked() != shown:
            action.setChecked(shown)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.new_action)
        self.preset_menu = file_menu.addMenu("New from &preset")
        self.preset_menu.setObjectName("presetMenu")
        from .presets import load_presets

        for preset in load_presets():
            a = self.preset_menu.addAction(preset.title)
            a.setStatusTip(preset.description)
            a.triggered.connect(lambda _=False, p=preset: self.new_from_preset(p))
        file_menu.addAction(self.open_action)
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.recent_menu.setObjectName("recentMenu")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addSeparator()
        file_menu.addAction(self.save_action)
        file_menu.addAction(self.save_as_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit_menu = bar.addMenu("&Edit")
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.redo_action)
        view_menu = bar.addMenu("&View")
        view_menu.setObjectName("viewMenu")
        view_menu.addAction(self.show_network_panel_action)
        view_menu.addAction(self.show_settings_panel_action)
        for title, widget in (("&Network", self.layer_editor), ("&Training", self.dashboard)):
            actions = getattr(widget, "menu_actions", lambda: [])()
            if actions:
                menu = bar.addMenu(title)
                menu.addActions(actions)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.about_action)

    # -- messages ----------------------------------------------------------------------------------
    def show_message(self, text: str, level: str = "error", details: str = "", actions: dict | None = None) -> None:
        """Show a message in the bar at the top; ``actions`` maps button text -> callable."""
        self._message_actions = dict(actions or {})
        self.message_bar.show_message(text, level, details, tuple(self._message_actions))
        self.statusBar().showMessage(text.split("\n")[0], 8000)

    def _on_message_bar_action_triggered(self, name: str) -> None:
        callback = self._message_actions.get(name)
        self.message_bar.dismiss()
        if callable(callback):
            callback()

    # -- files ----------------------------------------------------------------------------------------
    def _confirm_discard(self) -> bool:
        """True when the current document may be replaced (saved, discarded or unmodified)."""
        if not self.document.modified:
            return True
        answer = self.dialogs.ask_save_changes(self._display_name())
        if answer == "save":
            return self.save()
        return answer == "discard"

    def _stop_training(self) -> bool:
        return self.controller.shutdown() if self.document.training_active else True

    def new_document(self) -> None:
        if self._stop_training() and self._confirm_discard():
            from .document import initial_state

            self.document.reset(initial_state())
            self.statusBar().showMessage("New network", 4000)

    def new_from_preset(self, preset) -> None:
        if not (self._stop_training() and self._confirm_discard()):
            return
        try:
            state = preset.state()
        except Exception as exc:  # noqa: BLE001 - a broken preset must not take the window down
            self.show_message(f"The preset “{preset.title}” could not be loaded: {exc}")
            return
        self.document.reset(state)
        self.tabs.setCurrentWidget(self.dashboard)
        self.statusBar().showMessage(f"New network from preset “{preset.title}”", 4000)

    def open_dialog(self) -> None:
        folder = str(self.document.path.parent) if self.document.path else ""
        path = self.dialogs.open_model_path(folder)
        if path:
            self.open_path(path)

    def open_path(self, path: str | Path) -> bool:
        """Open a model file; on any problem show why and keep the current document."""
        path = Path(path)
        if not (self._stop_training() and self._confirm_discard()):
            return False
        try:
            self.document.open_file(path)
        except (core.ModelFileError, OSError) as exc:
            self.show_message(failure_message(f"Could not open {path.name}", path.name, exc))
            return False
        self._add_recent(path)
        self.message_bar.dismiss()
        self.statusBar().showMessage(f"Opened {path.name}", 4000)
        return True

    def save(self) -> bool:
        if self.document.path is None:
            return self.save_as()
        return self._save_to(self.document.path)

    def save_as(self) -> bool:
        suggestion = str(self.document.path) if self.document.path else "untitled.nnz"
        path = self.dialogs.save_model_path(suggestion)
        return bool(path) and self._save_to(Path(path))

    def _save_to(self, path: Path) -> bool:
        if self.document.training_active:
            self.show_message("Pause or stop training before saving, so the file holds one consistent state.",
                              "warning")
            return False
        try:
            self.document.save(path)
        except (core.ModelFileError, core.SpecError, OSError) as exc:
            self.show_message(f"Could not save {path.name}: {exc}. The previous file, if any, is unchanged.")
            return False
        self._add_recent(path)
        self.statusBar().showMessage(f"Saved {path.name}", 4000)
        return True

    # -- recent files ------------------------------------------------------------------------------------
    def recent_files(self) -> list[str]:
        value = self.settings.value("recentFiles", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def _add_recent(self, path: Path) -> None:
        path_text = str(Path(path).resolve())
        files = [path_text] + [f for f in self.recent_files() if f != path_text]
        self.settings.setValue("recentFiles", files[:MAX_RECENT])

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        files = self.recent_files()
        for f in files:
            a = self.recent_menu.addAction(Path(f).name)
            a.setStatusTip(f)
            a.setEnabled(Path(f).exists())
            a.triggered.connect(lambda _=False, p=f: self.open_path(p))
        if not files:
            self.recent_menu.addAction("No recent files").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list", lambda: self.settings.setValue("recentFiles", []))

    # -- drag and drop ----------------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt's name
        if self._dropped_model(event) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt's name
        path = self._dropped_model(event)
        if path is not None:
            event.acceptProposedAction()
            # Open after the drop returns: the source application is waiting on us.
            QTimer.singleShot(0, lambda: self.open_path(path))

    @staticmethod
    def _dropped_model(event) -> Path | None:
        mime = event.mimeData()
        if not mime.hasUrls():
            return None
        for url in mime.urls():
            if url.isLocalFile() and url.toLocalFile().lower().endswith(MODEL_SUFFIX):
                return Path(url.toLocalFile())
        return None

    # -- title, geometry, close ---------------------------------------------------------------------------
    def _display_name(self) -> str:
        return self.document.path.name if self.document.path else "Untitled"

    def _update_title(self, *_args) -> None:
        self.setWindowTitle(f"{self._display_name()}[*] — nnstudio")
        self.setWindowModified(self.document.modified)

    def _restore_geometry(self) -> None:
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(*DEFAULT_SIZE)
        state = self.settings.value("window/sidePanels")
        if state is not None:
            self.splitter.restore_state(state)

    def _save_geometry(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/sidePanels", self.splitter.state())
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        if not self._confirm_discard():
            event.ignore()
            return
        if not self._shutdown_workers():
            self.show_message("A background task did not stop in time; try closing again.", "warning")
            event.ignore()
            return
        self._save_geometry()
        event.accept()

    def _show_about(self) -> None:
        self.show_message(f"nnstudio {core.__version__} — build, train and understand neural networks. "
                          "Engine: NumPy, from scratch. Data: 8×8 digits (CC BY 4.0), MNIST (CC BY-SA 3.0).",
                          "info")
