"""The main window: composition and wiring only (no maths, no file parsing).

Every connection between panels, and from a panel to the training controller, is made
here (``_wire_panels``, ``wire_training_commands``): a panel emits what the user asked for
and shows what the document and the controller it observes tell it; it never calls
another panel or sends the controller a command itself.

Left: the network (layer editor). Centre: tabs Start / Train / Step through / Draw / Evaluate. Right:
dataset and training settings. File handling (new, presets, open, save, recent, drag and
drop) and the unsaved-changes guard live here; all questions go through ``Dialogs``.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QEvent, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import QMainWindow, QScrollArea, QTabWidget, QVBoxLayout, QWidget

import core
from nnstudio.controllers.export_controller import ExportController
from nnstudio.controllers.training_controller import TrainingController
from nnstudio.dialogs import Dialogs
from nnstudio.messages import reports_errors
from nnstudio.settings import app_settings
from nnstudio.shortcuts import key_sequences
from nnstudio.state.document import Document
from nnstudio.widgets.common.message_bar import MessageBar
from nnstudio.widgets.common.side_panels import SidePanelSplitter
from nnstudio.widgets.common.start_page import StartPage
from nnstudio.widgets.data.dataset_panel import DatasetPanel
from nnstudio.widgets.draw.draw_panel import DrawPanel
from nnstudio.widgets.evaluate.evaluation_panel import EvaluationPanel
from nnstudio.widgets.network.layer_editor import LayerEditor
from nnstudio.widgets.stepthrough.step_through_view import StepThroughView
from nnstudio.widgets.train.training_dashboard import TrainingDashboard
from nnstudio.widgets.train.training_settings_panel import TrainingSettingsPanel

MAX_RECENT = 8
MODEL_SUFFIX = ".nnz"
#: Width of the network panel (left) and of the settings panel (right) when there is room.
SIDE_WIDTHS = (330, 310)
#: The default window size, and the smallest the layout is made for (every tab usable).
DEFAULT_SIZE = (1400, 860)
MINIMUM_SIZE = (900, 600)


def wire_training_commands(dashboard, controller) -> None:
    """Connect the Train tab's commands (buttons, Training menu, Space) to ``controller``."""
    dashboard.trainRequested.connect(controller.start)
    dashboard.pauseRequested.connect(controller.pause)
    dashboard.resumeRequested.connect(controller.resume)
    dashboard.stepBatchRequested.connect(controller.step_batch)
    dashboard.stepEpochRequested.connect(controller.step_epoch)
    dashboard.stopRequested.connect(controller.stop)
    dashboard.resetWeightsRequested.connect(controller.reset_weights)


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
        self._guard_undo_while_training()
        self._watch_export_actions()
        self._watch_training_readiness()
        self.statusBar().showMessage("Ready")

        self.document.pathChanged.connect(self._update_title)
        self.document.modifiedChanged.connect(self._update_title)
        self.document.datasetUnavailable.connect(self._on_document_dataset_unavailable)
        self._update_title()
        self._restore_geometry()

    # -- composition -------------------------------------------------------------------------
    def _build_panels(self) -> None:
        doc = self.document
        self.controller = TrainingController(doc, self)
        self.exports = ExportController(doc, self)
        self.layer_editor = LayerEditor(doc)
        self.dataset_panel = DatasetPanel(doc, self.dialogs)
        self.training_settings = TrainingSettingsPanel(doc)
        self.dashboard = TrainingDashboard(doc, self.controller, self.dialogs)
        self.draw_panel = DrawPanel(doc)
        self.evaluation_panel = EvaluationPanel(doc, self.controller, self.dialogs)
        self.step_view = StepThroughView(doc, self.controller)
        self.start_page = StartPage()
        self._wire_panels()

        self.tabs = QTabWidget()
        self.tabs.setObjectName("mainTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.start_page, "Start")
        self.tabs.addTab(self.dashboard, "Train")
        self.tabs.addTab(self.step_view, "Step through")
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
        layout.addWidget(self.splitter, 1)
        self.setCentralWidget(central)
        # Floats over the top of the central area: a message never pushes the panels down.
        self.message_bar.float_over(central)

    def _wire_panels(self) -> None:
        """Connections between panels, and from panels to the controller (each panel only
        knows the document, and observes the controller it is given)."""
        self.start_page.presetChosen.connect(self.new_from_preset)
        wire_training_commands(self.dashboard, self.controller)
        # Learning rate and batch size stay live while training: the controller applies
        # them at the next batch.
        self.training_settings.learningRateRequested.connect(self.controller.set_learning_rate)
        self.training_settings.batchSizeRequested.connect(self.controller.set_batch_size)
        self.dashboard.statusText.connect(self._on_dashboard_status_text)
        self.evaluation_panel.sampleChosen.connect(self._on_evaluation_panel_sample_chosen)
        # The Evaluate tab shows the activations of whatever the Draw tab feeds the network.
        self.draw_panel.networkInputChanged.connect(self.evaluation_panel.set_probe_input)
        self.draw_panel.drawingAdded.connect(self._on_draw_panel_drawing_added)
        # The Step-through tab can trace the Draw tab's drawing.
        self.draw_panel.canvas.imageChanged.connect(self._on_draw_canvas_image_changed)

    def _on_draw_canvas_image_changed(self) -> None:
        self.step_view.set_drawing(self.draw_panel.canvas.image_array())

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
        results = [self.controller.shutdown(), self.dataset_panel.shutdown(), self.evaluation_panel.shutdown(),
                   self.step_view.controller.shutdown(), self.draw_panel.shutdown(),
                   self.document.wait_for_dataset(10_000), self.exports.runner.wait(30_000)]
        return all(results)

    def _build_actions(self) -> None:
        def action(text, slot, shortcut=None, name=None, tip=""):
            a = QAction(text, self)
            if shortcut is not None:
                # Every binding of a standard key on this platform, each key once.
                a.setShortcuts(key_sequences(*(shortcut if isinstance(shortcut, tuple) else (shortcut,))))
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
        # Quit has no standard key on some platforms (offscreen, Windows): Ctrl+Q everywhere.
        self.quit_action = action("&Quit", self.close, (QKeySequence.StandardKey.Quit, "Ctrl+Q"), "quitAction")
        self.undo_action = self.document.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcuts(key_sequences(QKeySequence.StandardKey.Undo))
        self.undo_action.setObjectName("undoAction")
        self.redo_action = self.document.undo_stack.createRedoAction(self, "&Redo")
        # StandardKey.Redo already is Ctrl+Shift+Z on Linux desktops: binding it twice made
        # the key ambiguous, so it did nothing. key_sequences adds it only where it is missing.
        self.redo_action.setShortcuts(key_sequences(QKeySequence.StandardKey.Redo, "Ctrl+Shift+Z"))
        self.redo_action.setObjectName("redoAction")
        self.export_actions = {
            "onnx": action("&ONNX…", lambda: self.export_dialog("onnx"), None, "exportOnnxAction",
                           "Export the trained network as an ONNX model, checked with onnxruntime"),
            "pytorch": action("&PyTorch project…", lambda: self.export_dialog("pytorch"), None,
                              "exportPytorchAction", "Export a PyTorch project (model.py, train.py, weights) "
                                                     "to a folder, checked with PyTorch"),
            "numpy": action("&NumPy script…", lambda: self.export_dialog("numpy"), None, "exportNumpyAction",
                            "Export a NumPy-only predict.py and weights.npz to a folder, checked here"),
        }
        self.import_weights_action = action("&Import trained weights…", self.import_weights_dialog, None,
                                            "importWeightsAction", "Load weights (.npz, e.g. written by an "
                                                                   "exported train.py) into this network")
        self.evaluate_action = action("&Evaluate on test set", self._on_evaluate_action_triggered, "Ctrl+E",
                                      "evaluateAction", "Run the trained network on the held-out test samples")
        self._watch_evaluate_button()
        self.shortcuts_action = action("&Keyboard shortcuts", self.show_shortcuts, None, "shortcutsAction",
                                       "Every keyboard shortcut of this window")
        self.guide_action = action("User &guide", self.show_user_guide, QKeySequence.StandardKey.HelpContents,
                                   "userGuideAction", "A short guide to nnstudio")
        from nnstudio.help import guide_markdown

        guide_markdown()  # read now: a reinstall while the app runs must not take the guide away
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
        from nnstudio.state.presets import load_presets

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
        self.export_menu = file_menu.addMenu("&Export")
        self.export_menu.setObjectName("exportMenu")
        self.export_menu.addActions(list(self.export_actions.values()))
        file_menu.addAction(self.import_weights_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit_menu = bar.addMenu("&Edit")
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.redo_action)
        view_menu = bar.addMenu("&View")
        view_menu.setObjectName("viewMenu")
        view_menu.addAction(self.show_network_panel_action)
        view_menu.addAction(self.show_settings_panel_action)
        view_menu.addSeparator()
        self._build_theme_menu(view_menu)  # one View menu: the panel toggles and View ▸ Theme
        for title, widget in (("&Network", self.layer_editor), ("&Training", self.dashboard)):
            actions = getattr(widget, "menu_actions", lambda: [])()
            if actions:
                menu = bar.addMenu(title)
                menu.addActions(actions)
                if widget is self.dashboard:
                    menu.addSeparator()
                    menu.addAction(self.evaluate_action)
        help_menu = bar.addMenu("&Help")
        help_menu.setObjectName("helpMenu")
        help_menu.addAction(self.guide_action)
        help_menu.addAction(self.shortcuts_action)
        help_menu.addSeparator()
        help_menu.addAction(self.about_action)

    def _guard_undo_while_training(self) -> None:
        """Undo/Redo go through the document, which refuses them while training runs (the
        worker trains the network of the current spec); the actions are disabled meanwhile
        and say why. Runs after the stack's own connections, so it has the last word."""
        stack = self.document.undo_stack
        for action, slot in ((self.undo_action, self.document.undo), (self.redo_action, self.document.redo)):
            action.triggered.disconnect()  # the stack's own undo()/redo() would bypass the rule
            action.triggered.connect(slot)
        stack.canUndoChanged.connect(self._update_undo_actions)
        stack.canRedoChanged.connect(self._update_undo_actions)
        self.document.trainingActiveChanged.connect(self._update_undo_actions)
        self._update_undo_actions()

    def _update_undo_actions(self, *_args) -> None:
        training = self.document.training_active
        why = "Undo and Redo are not available while training runs: stop the run first" if training else ""
        self.undo_action.setEnabled(self.document.can_undo())
        self.redo_action.setEnabled(self.document.can_redo())
        for action, tip in ((self.undo_action, "Undo the last edit"), (self.redo_action, "Redo the edit just undone")):
            action.setStatusTip(why or tip)
            action.setToolTip(why)  # empty: Qt's default, the action's text ("Undo Set units")

    # -- help and shortcuts -------------------------------------------------------------------------
    def shortcut_entries(self) -> list:
        """Every key this window reacts to, read from the live actions (``nnstudio.shortcuts``)."""
        from nnstudio.shortcuts import window_shortcuts

        entries = window_shortcuts(self)
        # In menu order (File, Edit, Network, Training, Help); keys outside the menus last.
        order: dict[int, int] = {}

        def visit(actions) -> None:
            for a in actions:
                order.setdefault(id(a), len(order))
                if a.menu() is not None:
                    visit(a.menu().actions())

        visit(self.menuBar().actions())
        return sorted(entries, key=lambda e: order.get(id(e.owner), len(order)))

    def show_shortcuts(self) -> None:
        """Help ▸ Keyboard shortcuts: a non-modal window listing the live actions' keys."""
        from nnstudio.help import ShortcutsWindow

        if getattr(self, "shortcuts_window", None) is None:
            self.shortcuts_window = ShortcutsWindow(self.shortcut_entries, self)
        self.shortcuts_window.refresh()
        self.shortcuts_window.show()
        self.shortcuts_window.raise_()
        self.shortcuts_window.activateWindow()

    def show_user_guide(self) -> None:
        """Help ▸ User guide: the bundled guide in a non-modal window."""
        from nnstudio.help import UserGuideWindow

        if getattr(self, "guide_window", None) is None:
            self.guide_window = UserGuideWindow(self)
        self.guide_window.show()
        self.guide_window.raise_()
        self.guide_window.activateWindow()

    def _watch_evaluate_button(self) -> None:
        """The Evaluate action mirrors the Evaluate tab's button (enabled state) and the
        button's tooltip names the shortcut, whatever text the panel gives it."""
        self.evaluation_panel.evaluate_button.installEventFilter(self)
        self._sync_evaluate_action()

    def _sync_evaluate_action(self) -> None:
        from nnstudio.shortcuts import with_shortcut

        button = self.evaluation_panel.evaluate_button
        self.evaluate_action.setEnabled(button.isEnabled())
        tip = with_shortcut(button.toolTip(), self.evaluate_action)
        if tip != button.toolTip():
            button.setToolTip(tip)

    def eventFilter(self, watched, event) -> bool:
        if watched is getattr(getattr(self, "evaluation_panel", None), "evaluate_button", None) and \
                event.type() in (QEvent.Type.EnabledChange, QEvent.Type.ToolTipChange):
            self._sync_evaluate_action()
        return super().eventFilter(watched, event)

    def _on_evaluate_action_triggered(self) -> None:
        button = self.evaluation_panel.evaluate_button
        if button.isEnabled():
            self.tabs.setCurrentWidget(self.evaluation_panel)
            button.click()

    # -- can a run start ---------------------------------------------------------------------------
    def _watch_training_readiness(self) -> None:
        """Train is enabled only when the network fits the data; a message about a failed
        run goes away once its cause is fixed (it would otherwise contradict the window)."""
        self._run_failure_text = ""
        self.controller.failed.connect(self._on_controller_failed)
        for signal in (self.document.specChanged, self.document.datasetChanged):
            signal.connect(self._update_training_readiness)
        self._update_training_readiness()

    def _update_training_readiness(self) -> None:
        from nnstudio.state.readiness import blocked_reason, repair_for, training_problems

        problems = training_problems(self.document)
        fix = repair_for(self.document, problems[0]) if problems else None
        self.dashboard.controls.set_blocked(blocked_reason(problems, fix))
        failure = self._run_failure_text
        if not problems and failure and self.message_bar.isVisibleTo(self) and self.message_bar.text == failure:
            self.message_bar.dismiss()  # the network changed and now fits: the failure is stale
        if not problems:
            self._run_failure_text = ""

    def _on_controller_failed(self, _kind: str, message: str, _details: str) -> None:
        self._run_failure_text = message

    # -- theme ---------------------------------------------------------------------------------------
    def _build_theme_menu(self, view_menu) -> None:
        """View ▸ Theme: System / Light / Dark, one checked, remembered by ``nnstudio.theme``."""
        from PySide6.QtGui import QActionGroup

        from nnstudio.theme import THEMES, theme_manager

        self.theme_menu = view_menu.addMenu("&Theme")
        self.theme_menu.setObjectName("themeMenu")
        group = QActionGroup(self)
        group.setExclusive(True)
        manager = theme_manager()
        self.theme_actions = {}
        for name, text in THEMES.items():
            a = self.theme_menu.addAction(text)
            a.setObjectName(f"theme{name.capitalize()}Action")
            a.setCheckable(True)
            a.setChecked(name == manager.choice)
            a.setStatusTip("Follow the desktop's light or dark setting" if name == "system"
                           else f"Use the {name} theme whatever the desktop uses")
            a.triggered.connect(lambda _checked=False, n=name: theme_manager().apply(n))
            group.addAction(a)
            self.theme_actions[name] = a

    # -- export and import ----------------------------------------------------------------------------
    def _watch_export_actions(self) -> None:
        """Exports need trained weights and no run in progress; importing needs no run."""
        self._export_tips = {option: a.statusTip() for option, a in self.export_actions.items()}
        self.document.snapshotChanged.connect(self._update_export_actions)
        self.document.trainingActiveChanged.connect(self._update_export_actions)
        self.exports.busyChanged.connect(self._update_export_actions)
        self._update_export_actions()

    def _update_export_actions(self, *_args) -> None:
        why = self.exports.can_export()
        for option, a in self.export_actions.items():
            a.setEnabled(not why)
            a.setStatusTip(why or self._export_tips[option])
        training = self.document.training_active
        self.import_weights_action.setEnabled(not training)
        self.import_weights_action.setStatusTip(
            "Weights cannot be imported while training runs: stop the run first" if training
            else "Load weights (.npz, e.g. written by an exported train.py) into this network")

    def export_dialog(self, option: str) -> None:
        """Ask where (a file for ONNX, a folder otherwise), then export in the background."""
        if self.exports.can_export():
            return
        target = self.exports.target(option)
        if target.folder:
            # A new folder beside the model file (or in the home folder), named after it.
            where = self.document.path.parent if self.document.path else Path.home()
            stem = self.document.path.stem if self.document.path else "model"
            path = self.dialogs.new_folder_path(f"Export a {target.title}: name the folder to write",
                                                str(where / f"{stem}_{target.option}"))
        else:
            suggestion = (self.document.path.with_suffix(target.suffix).name if self.document.path
                          else f"model{target.suffix}")
            path = self.dialogs.save_file_path(f"Export an {target.title}", suggestion,
                                               f"{target.title}s (*{target.suffix});;All files (*)")
            if path and not Path(path).suffix:
                path += target.suffix
        if path:
            self.exports.export(option, path)

    def import_weights_dialog(self) -> None:
        """Ask for an .npz and, when trained weights would be replaced, for a confirmation
        (training results cannot be undone)."""
        paths = self.dialogs.open_data_paths("Import trained weights", "NumPy weights (*.npz);;All files (*)")
        if not paths:
            return
        if self.document.network is not None and not self.dialogs.confirm(
                "Replace the trained weights?",
                f"Importing {Path(paths[0]).name} replaces the weights this network has learned. "
                "This cannot be undone (save the model first to keep them). Continue?"):
            return
        self.exports.import_weights(paths[0])

    # -- messages ----------------------------------------------------------------------------------
    def show_message(self, text: str, level: str = "error", details: str = "", actions: dict | None = None) -> None:
        """Show a message in the bar at the top; ``actions`` maps button text -> callable."""
        if text.startswith("Training cannot start"):
            self._run_failure_text = text  # cleared with the cause (_update_training_readiness)
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
        """True when the current document may be replaced or closed: nothing is unsaved, or
        the user answered Save (and saving worked) or Discard.

        A run in progress counts as unsaved work: the user is asked first, and the run is
        stopped only after the answer (Cancel keeps it running), before saving, so the file
        holds what the run has trained so far.
        """
        if not self.document.modified:
            return True
        if self.document.training_active:
            answer = self.dialogs.ask_save_changes(self._display_name(), detail="Training is still running: Save or "
                                                   "Discard stop it, Cancel keeps it running.")
        else:
            answer = self.dialogs.ask_save_changes(self._display_name())
        if answer not in ("save", "discard"):
            return False
        if not self._stop_training():
            self.show_message("Training did not stop in time; try again in a moment.", "warning")
            return False
        if answer == "save":
            return self.save()
        return True

    def _stop_training(self) -> bool:
        return self.controller.shutdown() if self.document.training_active else True

    @reports_errors("Could not start a new network", failed=None)
    def new_document(self) -> None:
        if self._confirm_discard():
            from nnstudio.state.document import initial_state

            self.document.reset(initial_state())
            self.statusBar().showMessage("New network", 4000)

    @reports_errors(lambda preset: f"The preset “{preset.title}” could not be loaded", failed=None)
    def new_from_preset(self, preset) -> None:
        if not self._confirm_discard():
            return
        try:
            state = preset.state()
        except Exception as exc:  # broad on purpose: a broken preset must not take the window down
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

    @reports_errors(lambda path: f"Could not open {Path(path).name}", failed=False)
    def open_path(self, path: str | Path) -> bool:
        """Open a model file; on any problem show why and keep the current document.

        Reads only the model file here: the data it was trained on is re-opened in the
        background, or a message offers to locate it (``_on_document_dataset_unavailable``).
        """
        path = Path(path)
        if not self._confirm_discard():
            return False
        self.message_bar.dismiss()  # an old message must not look like this file's
        self.document.open_file(path)
        self._add_recent(path)
        self.statusBar().showMessage(f"Opened {path.name}", 4000)
        return True

    def _on_document_dataset_unavailable(self, text: str) -> None:
        """The opened model's data could not be re-opened: say so; imported files can be located."""
        locate = {"Locate…": self.dataset_panel.locate_dataset} if self.document.dataset_choice.files() else None
        self.show_message(text, "warning", actions=locate)

    def save(self) -> bool:
        if self.document.path is None:
            return self.save_as()
        return self._save_to(self.document.path)

    def save_as(self) -> bool:
        suggestion = str(self.document.path) if self.document.path else "untitled.nnz"
        path = self.dialogs.save_model_path(suggestion)
        return bool(path) and self._save_to(Path(path))

    @reports_errors(lambda path: f"Could not save {Path(path).name}", failed=False)
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
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._dropped_model(event) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
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

    def closeEvent(self, event: QCloseEvent) -> None:
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
