"""The layer list editor (left column): palette, layer list, problems and quick fix, totals,
and the selected layer's settings form.

Every edit goes through ``document.change`` with a text saying what Undo will undo ("Add
Dense", "Delete layer 3 (Dropout)", "Move layer 2 up", "Insert Flatten"); the list follows
the document through ``LayerListModel``. The stack arithmetic (insert, move, quick fixes)
is ``core.spec.edit``; shapes and counts are ``core.analyze``.

Keyboard (while the palette, buttons or list have focus — scoped there so the settings
form keeps Delete, Alt+Down and friends for its own inputs): Insert adds the palette's
current type below the selected layer, Delete removes the selected layer, Ctrl+D duplicates
it, Alt+Up / Alt+Down move it. The same actions are offered to the main window's Network
menu by ``menu_actions()``. While training runs the editor is read-only: a notice takes
the palette's place (same height, so the list neither moves nor repaints when a run starts).
"""

from __future__ import annotations

import html

from PySide6.QtCore import QModelIndex, QSize, Qt
from PySide6.QtGui import QAction, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidgetItem,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.data import DataError
from core.layers import format_shape
from core.spec.analysis import layer_label
from core.spec.dataset_fit import DatasetFit, app_problems
from core.spec.edit import default_layer, duplicate_layer, insert_layer, move_layer, remove_layer
from core.spec.fixes import QuickFix
from nnstudio.models.layer_list_model import LayerListModel, shape_text
from nnstudio.state.document import Document
from nnstudio.state.readiness import choice_with_layout, dataset_facts, repair_for
from nnstudio.widgets.network.layer_list_view import LayerDelegate, LayerListView
from nnstudio.widgets.network.layer_palette import CATEGORY_COLORS, LayerPalette, category_color, type_color
from nnstudio.widgets.network.layer_problem_banner import LayerProblemBanner
from nnstudio.widgets.network.layer_tool_icons import tool_icon
from nnstudio.widgets.network.param_form import ParamForm

# Moved to their own modules; importable from here as before.
__all__ = ["CATEGORY_COLORS", "LayerDelegate", "LayerEditor", "LayerListView", "LayerPalette", "LayerProblemBanner",
           "category_color", "type_color"]


class LayerEditor(QWidget):
    """Edit the document's layer stack. See the module docstring."""

    def __init__(self, document: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("layerEditor")
        self.document = document
        self.model = LayerListModel(document, self)
        self._fix: QuickFix | DatasetFit | None = None
        self._pending_select: int | None = None

        # -- widgets ----------------------------------------------------------------------------
        title = QLabel("Layers")
        title_font = title.font()
        title_font.setBold(True)
        title_font.setPointSizeF(title_font.pointSizeF() * 1.1)
        title.setFont(title_font)
        self.input_label = QLabel()
        self.input_label.setObjectName("layerInputShape")
        self.input_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.palette_view = LayerPalette()
        self.palette_view.itemActivated.connect(self._on_palette_view_item_activated)
        self.palette_view.currentItemChanged.connect(self._on_palette_view_current_item_changed)

        self.list_view = LayerListView()
        self.list_view.setObjectName("layerList")
        self.list_view.setAccessibleName("Layers")
        self.list_view.setModel(self.model)
        self.list_view.setItemDelegate(LayerDelegate(self.list_view))
        self.list_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list_view.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.list_view.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.list_view.setDropIndicatorShown(True)
        self.list_view.setDragDropOverwriteMode(False)
        self.list_view.setUniformItemSizes(True)
        self.list_view.setResizeMode(QListView.ResizeMode.Adjust)
        self.list_view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list_view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list_view.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.list_view.setMinimumHeight(120)
        self.list_view.selectionModel().currentRowChanged.connect(self._on_selection_current_row_changed)
        self.model.layersEdited.connect(self._on_model_layers_edited)

        self.problem_frame = LayerProblemBanner()
        self.problem_label = self.problem_frame.label
        self.fix_button = self.problem_frame.fix_button
        self.fix_button.clicked.connect(self._on_fix_button_clicked)

        self.totals_label = QLabel()
        self.totals_label.setObjectName("layerTotals")
        self.totals_label.setWordWrap(True)
        self.totals_label.setTextFormat(Qt.TextFormat.RichText)
        self.totals_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.read_only_label = QLabel("Training is running: the network is read-only until it stops.")
        self.read_only_label.setObjectName("layerReadOnlyNotice")
        self.read_only_label.setWordWrap(True)
        self.read_only_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.read_only_label.setStyleSheet(
            "#layerReadOnlyNotice { background: palette(alternate-base); border: 1px solid palette(mid);"
            " border-radius: 4px; padding: 2px 6px; }")
        # The notice takes the palette's place (of no use while training), at the palette's
        # size: below the list it would shrink the list, which then lays out and paints again
        # while the first batches run (GUI time the training thread waits for). The hidden
        # palette keeps its size, the notice takes whatever height the cell has.
        self.read_only_label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Ignored)
        self.read_only_label.hide()
        policy = self.palette_view.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        self.palette_view.setSizePolicy(policy)
        self.palette_cell = QWidget()
        self.palette_cell.setObjectName("layerPaletteCell")
        cell = QGridLayout(self.palette_cell)
        cell.setContentsMargins(0, 0, 0, 0)
        cell.addWidget(self.palette_view, 0, 0)
        cell.addWidget(self.read_only_label, 0, 0)

        self.form = ParamForm(document)

        # -- actions ---------------------------------------------------------------------------
        icon_color = self.palette().color(QPalette.ColorRole.WindowText)

        def action(name: str, text: str, icon: str, slot, shortcut: QKeySequence | str | None) -> QAction:
            a = QAction(tool_icon(icon, icon_color), text, self)
            a.setObjectName(name)
            if shortcut is not None:
                a.setShortcut(QKeySequence(shortcut))
            a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            a.triggered.connect(slot)
            return a

        self.add_action = action("layerAddAction", "&Add", "insert_below", self._on_add_action_triggered,
                                 QKeySequence(Qt.Key.Key_Insert))
        self.insert_above_action = action("layerInsertAboveAction", "Insert &above", "insert_above",
                                          self._on_insert_above_action_triggered, None)
        self.duplicate_action = action("layerDuplicateAction", "D&uplicate layer", "duplicate",
                                       self._on_duplicate_action_triggered, "Ctrl+D")
        self.delete_action = action("layerDeleteAction", "&Delete layer", "delete",
                                    self._on_delete_action_triggered, QKeySequence(Qt.Key.Key_Delete))
        self.move_up_action = action("layerMoveUpAction", "Move layer &up", "up", self._on_move_up_action_triggered,
                                     "Alt+Up")
        self.move_down_action = action("layerMoveDownAction", "Move layer do&wn", "down",
                                       self._on_move_down_action_triggered, "Alt+Down")
        self._separator = QAction(self)
        self._separator.setSeparator(True)
        self._actions = [self.add_action, self.insert_above_action, self.duplicate_action, self.delete_action,
                         self.move_up_action, self.move_down_action]

        toolbar = QHBoxLayout()
        toolbar.setSpacing(2)
        self.tool_buttons: dict[str, QToolButton] = {}
        for a in self._actions:
            if a is self.delete_action:
                toolbar.addSpacing(6)
            if a is self.move_up_action:
                toolbar.addSpacing(6)
            button = QToolButton()
            button.setDefaultAction(a)
            button.setAutoRaise(True)
            button.setIconSize(QSize(18, 18))
            button.setObjectName(a.objectName().replace("Action", "Button"))
            toolbar.addWidget(button)
            self.tool_buttons[a.objectName()] = button
        toolbar.addStretch(1)
        for a in (self.add_action, self.insert_above_action, self.duplicate_action, self.delete_action,
                  self._separator, self.move_up_action, self.move_down_action):
            self.list_view.addAction(a)

        # -- layout ----------------------------------------------------------------------------
        # The keyboard shortcuts belong to this part (palette, buttons, list), not to the form.
        self.list_panel = QWidget()
        self.list_panel.setObjectName("layerListPanel")
        self.list_panel.setAccessibleName("Layer list")  # also names the shortcuts' scope in Help
        for a in self._actions:
            self.list_panel.addAction(a)
        top = QVBoxLayout(self.list_panel)
        top.setContentsMargins(0, 0, 0, 0)
        top.setSpacing(4)
        header = QHBoxLayout()
        header.addWidget(title)
        header.addStretch(1)
        header.addWidget(self.input_label)
        top.addLayout(header)
        top.addWidget(self.palette_cell)
        top.addLayout(toolbar)
        top.addWidget(self.list_view, 1)
        top.addWidget(self.problem_frame)
        top.addWidget(self.totals_label)

        form_panel = QWidget()
        form_layout = QVBoxLayout(form_panel)
        form_layout.setContentsMargins(0, 6, 0, 0)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        form_layout.addWidget(line)
        form_layout.addWidget(self.form)
        form_layout.addStretch(1)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("layerEditorSplitter")
        self.splitter.setChildrenCollapsible(False)
        # The form scrolls rather than being squeezed when the column is short.
        form_scroll = QScrollArea()
        form_scroll.setObjectName("layerSettingsScroll")
        form_scroll.setWidgetResizable(True)
        form_scroll.setFrameShape(QFrame.Shape.NoFrame)
        form_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        form_scroll.setWidget(form_panel)
        self._form_panel = form_panel
        self._sized = False
        self.splitter.addWidget(self.list_panel)
        self.splitter.addWidget(form_scroll)
        # Extra height goes to the list; the form keeps the height its fields need.
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.splitter)
        self.setMinimumWidth(260)

        document.trainingActiveChanged.connect(self._on_document_training_active_changed)
        document.datasetChanged.connect(self._on_document_dataset_changed)
        self._on_palette_view_current_item_changed()
        if self.model.rowCount():
            self.select_row(0)
        self._on_document_training_active_changed(document.training_active)
        self._update_all()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._sized:
            # First show: give the form the height its fields need (up to 45%), the list the rest.
            self._sized = True
            total = sum(self.splitter.sizes())
            if total > 0:
                form = min(self._form_panel.sizeHint().height() + 4, int(total * 0.45))
                self.splitter.setSizes([total - form, form])

    # -- public API ----------------------------------------------------------------------------------
    def menu_actions(self) -> list[QAction]:
        """Actions for the main window's Network menu (shortcuts scoped to the editor)."""
        return [self.add_action, self.insert_above_action, self.duplicate_action, self.delete_action,
                self._separator, self.move_up_action, self.move_down_action]

    def current_type(self) -> str:
        """The palette's current layer type (what Insert and the add buttons add)."""
        return self.palette_view.current_type()

    def selected_row(self) -> int | None:
        """The layer the user is on: the list's current row (None when there is none).

        The current index, not ``selectedRows()``: during a mouse press the view moves the
        current index first and updates the selection afterwards, so slots reacting to the
        press would otherwise see the previous row (the form was one click behind)."""
        selection = self.list_view.selectionModel()
        index = selection.currentIndex()
        if index.isValid():
            return index.row()
        rows = selection.selectedRows()
        return rows[0].row() if rows else None

    def select_row(self, row: int | None) -> None:
        selection = self.list_view.selectionModel()
        if row is None or not 0 <= row < self.model.rowCount():
            selection.clearSelection()
            selection.setCurrentIndex(QModelIndex(), selection.SelectionFlag.Clear)
            self._on_selection_changed()
            return
        index = self.model.index(row)
        selection.setCurrentIndex(index, selection.SelectionFlag.ClearAndSelect)
        self.list_view.scrollTo(index)
        self._on_selection_changed()

    def add_layer(self, type_name: str | None = None, *, above: bool = False) -> None:
        """Add a default layer of ``type_name`` (palette's current type) below the selected
        layer (at the end when none is selected), or above it."""
        if self.document.training_active:
            return
        type_name = type_name or self.current_type()
        row = self.selected_row()
        spec = self.document.spec
        if above and row is not None:
            self._change(f"Insert {type_name} above layer {row + 1}", insert_layer(spec, row, default_layer(type_name)),
                         row)
        else:
            at = len(spec.layers) if row is None else row + 1
            self._change(f"Add {type_name}", insert_layer(spec, at, default_layer(type_name)), at)

    def duplicate_selected(self) -> None:
        row = self._editable_row()
        if row is not None:
            label = layer_label(row, self.document.spec.layers[row].type)
            self._change(f"Duplicate {label}", duplicate_layer(self.document.spec, row), row + 1)

    def delete_selected(self) -> None:
        row = self._editable_row()
        if row is not None:
            label = layer_label(row, self.document.spec.layers[row].type)
            spec = remove_layer(self.document.spec, row)
            self._change(f"Delete {label}", spec, min(row, len(spec.layers) - 1))

    def move_selected(self, delta: int) -> None:
        """Move the selected layer up (``delta`` -1) or down (+1)."""
        row = self._editable_row()
        if row is None or not 0 <= row + delta < self.model.rowCount():
            return
        direction = "up" if delta < 0 else "down"
        moved = move_layer(self.document.spec, row, row + delta)
        if moved == self.document.spec:
            # Two identical neighbours: nothing to undo, but the highlight should still move.
            self.select_row(row + delta)
            return
        self._change(f"Move layer {row + 1} {direction}", moved, row + delta)

    def quick_fix(self) -> QuickFix | DatasetFit | None:
        """The fix the "Fix: …" button applies now, or None."""
        return self._fix

    def apply_quick_fix(self) -> None:
        fix = self._fix
        if fix is None or self.document.training_active:
            return
        if isinstance(fix, DatasetFit):
            self._apply_dataset_fit(fix)
            return
        self._change(fix.label, fix.spec, fix.row)

    def _apply_dataset_fit(self, fit: DatasetFit) -> None:
        """Network and dataset layout in one undo step; the new layout is loaded first, so a
        failure leaves everything as it was."""
        choice = choice_with_layout(self.document.dataset_choice, fit.layout)
        if choice != self.document.dataset_choice:
            try:
                self.document.load_dataset(choice)
            except DataError as exc:
                self.document.notify(f"{fit.label} failed: {exc}", "error")
                return
        row = self.selected_row()
        self._pending_select = row
        try:
            self.document.change(fit.label, spec=fit.spec,
                                 dataset=choice if choice != self.document.dataset_choice else None)
        finally:
            self._pending_select = None

    def _change(self, text: str, spec, select: int | None) -> None:
        """Push an edit and then select ``select``: the editor knows which layer the user
        means even where the edit alone is ambiguous (e.g. deleting one of two twins)."""
        self._pending_select = select
        try:
            self.document.change(text, spec=spec)
        finally:
            self._pending_select = None

    def _editable_row(self) -> int | None:
        if self.document.training_active:
            return None
        row = self.selected_row()
        return row if row is not None and 0 <= row < self.model.rowCount() else None

    # -- slots ------------------------------------------------------------------------------------------
    def _on_palette_view_item_activated(self, item: QListWidgetItem) -> None:
        self.add_layer(item.data(Qt.ItemDataRole.UserRole))

    def _on_palette_view_current_item_changed(self, *_args) -> None:
        name = self.current_type()
        self.add_action.setText(f"&Add {name}")
        self.add_action.setToolTip(f"Add {name} below the selected layer (Insert)")
        self.insert_above_action.setText(f"Insert {name} &above")
        self.insert_above_action.setToolTip(f"Insert {name} above the selected layer")

    def _on_add_action_triggered(self) -> None:
        self.add_layer()

    def _on_insert_above_action_triggered(self) -> None:
        self.add_layer(above=True)

    def _on_duplicate_action_triggered(self) -> None:
        self.duplicate_selected()

    def _on_delete_action_triggered(self) -> None:
        self.delete_selected()

    def _on_move_up_action_triggered(self) -> None:
        self.move_selected(-1)

    def _on_move_down_action_triggered(self) -> None:
        self.move_selected(+1)

    def _on_fix_button_clicked(self) -> None:
        self.apply_quick_fix()

    def _on_selection_current_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        # Use the index the signal hands over: the selection may still hold the old row.
        self._on_selection_changed(current.row() if current.isValid() else None)

    def _on_selection_changed(self, row: int | None = None) -> None:
        self.form.set_layer(row if row is not None else self.selected_row())
        self._update_problem()
        self._update_actions()

    def _on_model_layers_edited(self, diff) -> None:
        count = self.model.rowCount()
        current = self.selected_row()
        if self._pending_select is not None:
            row = self._pending_select
        elif diff.kind == "insert":
            row = diff.index
        elif diff.kind == "remove":
            row = min(diff.index, count - 1)
        elif diff.kind == "move":
            # The selection model followed the rows; keep it, or show the moved layer.
            row = current if current is not None else diff.to
        elif diff.kind in ("update", "replace"):
            # Show the layer the edit (or the undo) changed, so its new values are visible.
            row = min(diff.index, count - 1) if diff.index is not None else current
        else:
            row = current
        self.select_row(row if count else None)
        self._update_all()

    def _on_document_training_active_changed(self, active: bool) -> None:
        self.palette_view.setEnabled(not active)
        self.list_view.setDragDropMode(QAbstractItemView.DragDropMode.NoDragDrop if active
                                       else QAbstractItemView.DragDropMode.DragDrop)
        self.palette_view.setVisible(not active)
        self.read_only_label.setVisible(active)
        self._update_problem()
        self._update_actions()

    def _on_document_dataset_changed(self) -> None:
        self._update_problem()  # the network may fit the new dataset, or no longer fit it

    # -- refresh ------------------------------------------------------------------------------------------
    def _update_all(self) -> None:
        spec = self.document.spec
        analysis = self.model.analysis
        shape = format_shape(spec.input_shape)
        axes = {1: "features", 2: "height, width", 3: "channels, height, width"}.get(len(spec.input_shape), "")
        self.input_label.setText(f"Input {shape}")
        self.input_label.setToolTip(
            f"Each sample the network sees has shape {shape} ({axes}). The input shape follows the dataset: "
            "choose another dataset or layout in the data settings to change it.")
        output = shape_text(analysis.output_shape) if analysis.ok else "unknown"
        known = "" if analysis.ok else " so far"
        rows = (("Parameters", f"{analysis.total_params:,}{known}"),
                ("Multiply-adds per sample", f"{analysis.total_macs:,}{known}"),
                ("Output", output))
        self.totals_label.setText(
            "<table width='100%' cellspacing='0' cellpadding='0'>"
            + "".join(f"<tr><td>{html.escape(k)}</td><td align='right'><b>{html.escape(v)}</b></td></tr>"
                      for k, v in rows)
            + "</table>")
        self.totals_label.setToolTip("Parameters: weights and biases the network learns. Multiply-adds: the work "
                                     "one forward pass does for one sample.")
        self._update_problem()
        self._update_actions()

    def _update_problem(self) -> None:
        # The spec's own problems and, once it is valid, the dataset's (output units, input,
        # image layers fed flat rows), with advice naming actions that exist in the app.
        info = dataset_facts(self.document)
        all_problems = app_problems(self.document.spec, info)
        row = self.selected_row()
        here = [p for p in all_problems if row is not None and p.layer_index == row]
        problem = here[0] if here else (all_problems[0] if all_problems else None)
        if problem is None:
            self._fix = None
            self.problem_frame.hide()
            return
        text = str(problem)
        text = text[:1].upper() + text[1:]
        others = len(all_problems) - 1
        if others > 0:
            text += f" ({others} more problem{'s' if others > 1 else ''})"
        self._fix = repair_for(self.document, problem, info)
        self.problem_frame.show_problem(text, self._fix.label if self._fix is not None else None,
                                        fix_enabled=not self.document.training_active)

    def _update_actions(self) -> None:
        editable = not self.document.training_active
        row = self.selected_row()
        count = self.model.rowCount()
        has_row = row is not None and 0 <= row < count
        self.add_action.setEnabled(editable)
        self.insert_above_action.setEnabled(editable and has_row)
        self.duplicate_action.setEnabled(editable and has_row)
        self.delete_action.setEnabled(editable and has_row)
        self.move_up_action.setEnabled(editable and has_row and row > 0)
        self.move_down_action.setEnabled(editable and has_row and row < count - 1)
        where = f"layer {row + 1}" if has_row else "the selected layer"
        self.duplicate_action.setToolTip(f"Duplicate {where} (Ctrl+D)")
        self.delete_action.setToolTip(f"Delete {where} (Delete)")
        self.move_up_action.setToolTip(f"Move {where} up (Alt+Up)")
        self.move_down_action.setToolTip(f"Move {where} down (Alt+Down)")
