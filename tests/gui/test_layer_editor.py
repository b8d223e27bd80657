"""LayerEditor and LayerListModel: rows, structural edits with undo/redo, keyboard, drag and
drop, inline problems and quick fixes, read-only while training, model conformance."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtCore import QEvent, QMimeData, QModelIndex, QObject, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QLineEdit, QVBoxLayout, QWidget

from core import NetworkSpec, analyze
from core.registry import layer_types
from core.spec.edit import PALETTE_TYPES
from nnstudio.models.layer_list_model import LAYER_ROW_MIME, LAYER_TYPE_MIME, LayerListModel
from nnstudio.state.document import DatasetChoice, default_state
from nnstudio.widgets.network.layer_editor import LayerEditor

CNN_LAYERS = [
    {"type": "Conv2D", "filters": 8, "kernel_size": 3, "padding": "same"},
    {"type": "Activation", "function": "relu"},
    {"type": "MaxPool2D", "pool_size": 2},
    {"type": "Flatten"},
    {"type": "Dense", "units": 10},
    {"type": "Activation", "function": "softmax"},
]


#: The dataset whose samples have each input shape (the app keeps the two in step; the
#: editor reports a network that does not fit its dataset).
DATASET_FOR_SHAPE = {(1, 28, 28): DatasetChoice("mnist", {"layout": "image"}),
                     (1, 8, 8): DatasetChoice("digits8x8", {"layout": "image"}),
                     (64,): DatasetChoice("digits8x8", {})}


def set_spec(document, layers, input_shape=(1, 28, 28)):
    spec = NetworkSpec.from_dict({"input_shape": list(input_shape), "layers": layers})
    state = replace(default_state(), spec=spec)
    document.reset(replace(state, dataset=DATASET_FOR_SHAPE.get(tuple(input_shape), state.dataset)))


def types(document):
    return [layer.type for layer in document.spec.layers]


@pytest.fixture
def host(qtbot, document):
    """The editor in a window beside another input (to check shortcut scoping), shown and
    active so keyboard shortcuts work."""
    window = QWidget()
    layout = QVBoxLayout(window)
    other = QLineEdit()
    other.setObjectName("otherPanelInput")
    editor = LayerEditor(document)
    layout.addWidget(other)
    layout.addWidget(editor)
    qtbot.addWidget(window)
    window.resize(340, 860)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2000)
    window.editor = editor
    window.other = other
    return window


@pytest.fixture
def editor(host):
    return host.editor


@pytest.fixture
def cnn(document, editor):
    set_spec(document, CNN_LAYERS)
    editor.select_row(0)
    return editor


def row_rect_center(view, row):
    return view.visualRect(view.model().index(row)).center()


def simulate_drop(view, mime, pos, action):
    """What a real drag does at the target: enter, move, drop (Qt routes the drop to the
    widget that accepted the enter)."""
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(pos, action, mime, buttons, mods)
    QApplication.sendEvent(view.viewport(), enter)
    move = QDragMoveEvent(pos, action, mime, buttons, mods)
    QApplication.sendEvent(view.viewport(), move)
    drop = QDropEvent(QPointF(pos), action, mime, buttons, mods)
    QApplication.sendEvent(view.viewport(), drop)
    return enter.isAccepted(), drop.isAccepted()


def test_rows_show_position_type_settings_shape_and_params(editor, document):
    model = editor.model
    assert model.rowCount() == 4  # default document: Dense 64, relu, Dense 10, softmax on (64,)
    first = model.index(0)
    assert first.data(Qt.ItemDataRole.DisplayRole) == "1. Dense 64 → (64,), 4,160 params"
    assert first.data(LayerListModel.OutputShapeRole) == (64,)
    assert first.data(LayerListModel.ParamCountRole) == 64 * 64 + 64
    assert model.index(1).data(LayerListModel.CaptionRole) == "Activation relu"
    assert model.index(3).data(LayerListModel.ProblemRole) == ""
    totals = editor.totals_label.text()
    assert "4,810" in totals and "(10,)" in totals and "Multiply-adds" in totals
    assert editor.input_label.text() == "Input (64,)"
    assert "follows the dataset" in editor.input_label.toolTip()
    assert editor.findChild(QWidget, "layerList") is editor.list_view
    assert editor.findChild(QWidget, "layerPalette") is editor.palette_view
    assert editor.findChild(QWidget, "layerSettings") is editor.form
    assert editor.findChild(QWidget, "layerTotals") is editor.totals_label
    assert not editor.problem_frame.isVisible()


@pytest.mark.parametrize("force_py", [False, True], ids=["qt-tester", "py-tester"])
def test_model_passes_qtmodeltester_with_a_cnn_and_through_edits(qtmodeltester, qtlog, cnn, document, force_py):
    qtmodeltester.check(cnn.model, force_py=force_py)
    # The tester stays attached: every structural edit and undo below is checked too.
    cnn.select_row(2)
    cnn.add_layer("Dropout")
    cnn.duplicate_selected()
    cnn.move_selected(-1)
    cnn.model.moveRows(QModelIndex(), 0, 1, QModelIndex(), 5)
    cnn.delete_selected()
    set_spec(document, CNN_LAYERS[:2])  # reset to a different stack
    for _ in range(3):
        document.undo_stack.undo()
    qtmodeltester.check(cnn.model, force_py=force_py)
    failures = [r.message for r in qtlog.records if "FAIL" in r.message or "QAbstractItemModelTester" in r.message]
    assert failures == []


def test_palette_double_click_adds_below_the_selected_layer_with_undo_and_redo(editor, document, qtbot):
    before = document.spec
    editor.select_row(1)
    palette = editor.palette_view
    item = palette.findItems("Dropout", Qt.MatchFlag.MatchExactly)[0]
    pos = palette.visualItemRect(item).center()
    # A real double click is a click, then a press that Qt reports as a double click.
    qtbot.mouseClick(palette.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert document.spec == before  # one click only picks the type
    assert editor.current_type() == "Dropout" and editor.add_action.text() == "&Add Dropout"
    qtbot.mouseDClick(palette.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert types(document) == ["Dense", "Activation", "Dropout", "Dense", "Activation"]
    assert document.spec.layers[2].config["rate"] == 0.25
    assert document.undo_stack.undoText() == "Add Dropout"
    assert editor.selected_row() == 2 and editor.form.index == 2
    document.undo_stack.undo()
    assert document.spec == before and editor.model.rowCount() == 4
    document.undo_stack.redo()
    assert types(document)[2] == "Dropout" and editor.selected_row() == 2


def test_palette_enter_adds_conv_with_defaults(cnn, document, qtbot):
    palette = cnn.palette_view
    cnn.select_row(5)
    palette.setFocus()
    palette.setCurrentRow(1)  # Conv2D
    qtbot.keyClick(palette, Qt.Key.Key_Return)
    conv = document.spec.layers[6]
    assert conv.type == "Conv2D"
    assert (conv.config["filters"], conv.config["kernel_size"], conv.config["padding"]) == (8, 3, "same")


def test_keyboard_insert_duplicate_move_delete_each_one_undo_step(cnn, document, qtbot):
    view = cnn.list_view
    view.setFocus()
    cnn.palette_view.setCurrentRow(list(PALETTE_TYPES).index("Dropout"))
    cnn.select_row(3)  # Flatten

    qtbot.keyClick(view, Qt.Key.Key_Insert)
    assert types(document)[3:6] == ["Flatten", "Dropout", "Dense"]
    assert document.undo_stack.undoText() == "Add Dropout" and cnn.selected_row() == 4

    qtbot.keyClick(view, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert types(document)[4:7] == ["Dropout", "Dropout", "Dense"]
    assert document.undo_stack.undoText() == "Duplicate layer 5 (Dropout)" and cnn.selected_row() == 5

    # Above it is its identical twin: moving changes nothing to undo, but the highlight moves.
    qtbot.keyClick(view, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier)
    assert cnn.selected_row() == 4 and document.undo_stack.count() == 2
    qtbot.keyClick(view, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier)
    assert types(document)[2:6] == ["MaxPool2D", "Dropout", "Flatten", "Dropout"]
    assert document.undo_stack.undoText() == "Move layer 5 up" and cnn.selected_row() == 3

    qtbot.keyClick(view, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier)
    assert types(document)[3:5] == ["Flatten", "Dropout"] and cnn.selected_row() == 4
    assert document.undo_stack.undoText() == "Move layer 4 down"

    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert document.undo_stack.undoText() == "Delete layer 5 (Dropout)"
    assert types(document) == ["Conv2D", "Activation", "MaxPool2D", "Flatten", "Dropout", "Dense", "Activation"]
    assert cnn.selected_row() == 4  # the next layer moved into the gap

    steps = document.undo_stack.count()
    assert steps == 5
    for _ in range(steps):
        document.undo_stack.undo()
    assert types(document) == [layer["type"] for layer in CNN_LAYERS]
    for _ in range(steps):
        document.undo_stack.redo()
    assert types(document) == ["Conv2D", "Activation", "MaxPool2D", "Flatten", "Dropout", "Dense", "Activation"]


def test_selection_follows_undo_and_redo(cnn, document):
    cnn.select_row(2)
    cnn.delete_selected()
    assert cnn.selected_row() == 2 and cnn.model.layer(2).type == "Flatten"
    document.undo_stack.undo()
    assert cnn.selected_row() == 2 and cnn.model.layer(2).type == "MaxPool2D"  # the restored layer
    cnn.select_row(1)
    cnn.move_selected(+1)
    assert cnn.selected_row() == 2 and cnn.model.layer(2).type == "Activation"
    document.undo_stack.undo()
    assert cnn.selected_row() == 1 and cnn.model.layer(1).type == "Activation"  # the moved layer, back
    cnn.select_row(5)
    cnn.delete_selected()  # the last one: selection moves up
    assert cnn.selected_row() == 4
    cnn.select_row(0)
    document.undo_stack.undo()
    assert cnn.selected_row() == 5  # the re-inserted softmax is shown


def test_buttons_insert_above_and_move_down(cnn, document, qtbot):
    cnn.palette_view.setCurrentRow(list(PALETTE_TYPES).index("Flatten"))
    cnn.select_row(1)
    above = cnn.tool_buttons["layerInsertAboveAction"]
    qtbot.mouseClick(above, Qt.MouseButton.LeftButton)
    assert types(document)[:3] == ["Conv2D", "Flatten", "Activation"]
    assert document.undo_stack.undoText() == "Insert Flatten above layer 2" and cnn.selected_row() == 1
    qtbot.mouseClick(cnn.tool_buttons["layerMoveDownAction"], Qt.MouseButton.LeftButton)
    assert types(document)[:3] == ["Conv2D", "Activation", "Flatten"]
    cnn.select_row(cnn.model.rowCount() - 1)
    assert not cnn.move_down_action.isEnabled() and cnn.move_up_action.isEnabled()
    cnn.select_row(0)
    assert not cnn.move_up_action.isEnabled()


def test_drop_of_a_dragged_row_on_the_list_moves_the_layer(cnn, document, qtbot):
    view = cnn.list_view
    mime = cnn.model.mimeData([cnn.model.index(0)])
    assert mime.hasFormat(LAYER_ROW_MIME)
    # Drop in the lower half of row 2 (MaxPool2D): the Conv2D lands after it.
    target = row_rect_center(view, 2) + QPoint(0, view.visualRect(cnn.model.index(2)).height() // 4)
    assert simulate_drop(view, mime, target, Qt.DropAction.MoveAction) == (True, True)
    assert types(document)[:4] == ["Activation", "MaxPool2D", "Conv2D", "Flatten"]
    assert document.undo_stack.undoText() == "Move layer 1 to position 3"
    assert document.undo_stack.count() == 1
    document.undo_stack.undo()
    assert types(document) == [layer["type"] for layer in CNN_LAYERS]


def test_drop_from_the_palette_inserts_at_the_drop_position(cnn, document):
    view = cnn.list_view
    mime = QMimeData()
    mime.setData(LAYER_TYPE_MIME, b"Dropout")
    top_of_row_4 = view.visualRect(cnn.model.index(4)).topLeft() + QPoint(20, 2)
    assert simulate_drop(view, mime, top_of_row_4, Qt.DropAction.CopyAction) == (True, True)
    assert types(document)[3:6] == ["Flatten", "Dropout", "Dense"]
    assert document.undo_stack.undoText() == "Add Dropout" and cnn.selected_row() == 4
    # the palette's drag carries that payload
    palette_mime = cnn.palette_view.mimeData([cnn.palette_view.item(list(PALETTE_TYPES).index("Dropout"))])
    assert bytes(palette_mime.data(LAYER_TYPE_MIME)) == b"Dropout"
    bogus = QMimeData()
    bogus.setData(LAYER_TYPE_MIME, b"Dense2")
    assert not cnn.model.canDropMimeData(bogus, Qt.DropAction.CopyAction, 0, 0, QModelIndex())


def test_model_move_rows_uses_qt_destination_convention(cnn, document):
    assert cnn.model.moveRows(QModelIndex(), 5, 1, QModelIndex(), 0)
    assert types(document)[0] == "Activation" and document.spec.layers[0].config["function"] == "softmax"
    assert document.undo_stack.undoText() == "Move layer 6 to position 1"
    assert cnn.model.moveRows(QModelIndex(), 0, 1, QModelIndex(), 6)  # back to the end
    assert types(document) == [layer["type"] for layer in CNN_LAYERS]
    assert not cnn.model.moveRows(QModelIndex(), 0, 2, QModelIndex(), 4)  # one layer at a time
    assert not cnn.model.moveRows(QModelIndex(), 7, 1, QModelIndex(), 0)


def test_invalid_stack_is_marked_inline_and_the_quick_fix_repairs_it_in_one_step(editor, document, qtbot):
    set_spec(document, [{"type": "Conv2D", "filters": 8, "kernel_size": 3}, {"type": "Dense", "units": 10},
                        {"type": "Activation", "function": "softmax"}])
    message = "layer 2 (Dense) needs a flat input but receives (8, 26, 26): insert Flatten before it"
    assert editor.model.index(1).data(LayerListModel.ProblemRole) == message
    assert editor.model.index(1).data(LayerListModel.FixRole) == "insert Flatten before it"
    assert message in editor.model.index(1).data(Qt.ItemDataRole.ToolTipRole)
    assert editor.model.index(0).data(LayerListModel.ProblemRole) == ""
    assert editor.model.index(2).data(LayerListModel.OutputShapeRole) is None
    assert editor.problem_frame.isVisible()
    assert message[1:] in editor.problem_label.text()
    assert editor.fix_button.isVisible() and editor.fix_button.text() == "Fix: insert Flatten"
    steps = document.undo_stack.count()
    qtbot.mouseClick(editor.fix_button, Qt.MouseButton.LeftButton)
    assert types(document) == ["Conv2D", "Flatten", "Dense", "Activation"]
    assert analyze(document.spec).ok and not editor.problem_frame.isVisible()
    assert document.undo_stack.count() == steps + 1 and document.undo_stack.undoText() == "Insert Flatten"
    assert "(10,)" in editor.totals_label.text()
    document.undo_stack.undo()
    assert editor.problem_frame.isVisible() and editor.fix_button.text() == "Fix: insert Flatten"


@pytest.mark.parametrize("layers, input_shape, button, repaired", [
    ([{"type": "Conv2D", "filters": 4, "kernel_size": 3}, {"type": "Activation", "function": "softmax"},
      {"type": "Flatten"}, {"type": "Dense", "units": 10}], (1, 28, 28),
     "Fix: move softmax to the end", ["Conv2D", "Flatten", "Dense", "Activation"]),
    ([{"type": "Conv2D", "filters": 4, "kernel_size": 7}, {"type": "Flatten"}, {"type": "Dense", "units": 3}],
     (1, 5, 5), "Fix: use padding 'same'", ["Conv2D", "Flatten", "Dense"]),
    ([{"type": "Conv2D", "filters": 4, "kernel_size": 3}], (1, 8, 8),
     "Fix: add Flatten and Dense 10", ["Conv2D", "Flatten", "Dense"]),
])
def test_other_quick_fixes(editor, document, qtbot, layers, input_shape, button, repaired):
    set_spec(document, layers, input_shape)
    assert editor.fix_button.text() == button
    qtbot.mouseClick(editor.fix_button, Qt.MouseButton.LeftButton)
    assert types(document) == repaired and analyze(document.spec).ok


def test_problem_without_an_automatic_fix_shows_the_message_only(editor, document):
    # Conv2D on 2-D points: no layout turns XOR into images, so there is no one-click fix;
    # the advice names what the user can do in the app (not a control that does not exist).
    spec = NetworkSpec.from_dict({"input_shape": [2], "layers": [
        {"type": "Conv2D", "filters": 4, "kernel_size": 3}, {"type": "Flatten"}, {"type": "Dense", "units": 2}]})
    document.reset(replace(default_state(), spec=spec, dataset=DatasetChoice("xor", {})))
    text = editor.problem_label.text()
    assert editor.problem_frame.isVisible() and "needs an image input" in text
    assert "XOR has no images: choose an image dataset (8×8 digits or MNIST) in the Dataset panel" in text
    assert "input shape" not in text
    assert not editor.fix_button.isVisible() and editor.quick_fix() is None


def test_read_only_while_training(cnn, document, qtbot):
    document.set_training_active(True)
    assert not cnn.palette_view.isEnabled() and not cnn.form.isEnabled()
    assert not any(a.isEnabled() for a in cnn.menu_actions() if not a.isSeparator())
    assert not cnn.model.flags(cnn.model.index(0)) & Qt.ItemFlag.ItemIsDragEnabled
    assert cnn.read_only_label.isVisible() and not cnn.palette_view.isVisible()
    cnn.list_view.setFocus()
    qtbot.keyClick(cnn.list_view, Qt.Key.Key_Delete)
    mime = cnn.model.mimeData([cnn.model.index(0)])
    assert not cnn.model.dropMimeData(mime, Qt.DropAction.MoveAction, 3, 0, QModelIndex())
    assert not cnn.model.moveRows(QModelIndex(), 0, 1, QModelIndex(), 3)
    assert document.undo_stack.count() == 0 and len(document.spec.layers) == 6
    document.set_training_active(False)
    assert cnn.palette_view.isEnabled() and cnn.form.isEnabled() and cnn.delete_action.isEnabled()
    assert not cnn.read_only_label.isVisible() and cnn.palette_view.isVisible()
    qtbot.keyClick(cnn.list_view, Qt.Key.Key_Delete)
    assert len(document.spec.layers) == 5


class _PaintCounter(QObject):
    def __init__(self):
        super().__init__()
        self.paints = 0

    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.Paint:
            self.paints += 1
        return False


def test_starting_and_stopping_training_leave_the_list_in_place_unpainted(cnn, document, qtbot):
    # The notice takes the palette's cell, so the list keeps its geometry; and the model
    # signals no change for the flags. Otherwise the list lays out and repaints every row
    # while a run's first batches compete with the GUI thread for the GIL.
    qtbot.waitUntil(lambda: cnn.palette_view.height() < 100, timeout=2000)  # the chips have wrapped
    QApplication.sendPostedEvents()
    QApplication.processEvents()
    geometry = cnn.list_view.geometry()
    counter = _PaintCounter()
    cnn.list_view.viewport().installEventFilter(counter)
    for active in (True, False):
        document.set_training_active(active)
        QApplication.sendPostedEvents()
        QApplication.processEvents()
        assert cnn.read_only_label.isVisible() == active
        assert cnn.list_view.geometry() == geometry
        assert cnn.read_only_label.height() == cnn.palette_view.height()
    assert counter.paints == 0


def test_shortcuts_are_scoped_to_the_editor(host, document, qtbot):
    editor = host.editor
    actions = [a for a in editor.menu_actions() if not a.isSeparator()]
    assert {a.objectName() for a in actions} == {
        "layerAddAction", "layerInsertAboveAction", "layerDuplicateAction", "layerDeleteAction",
        "layerMoveUpAction", "layerMoveDownAction"}
    assert all(a.shortcutContext() == Qt.ShortcutContext.WidgetWithChildrenShortcut for a in actions)
    editor.select_row(0)
    # Another panel's input keeps its keys…
    host.other.setFocus()
    qtbot.keyClick(host.other, Qt.Key.Key_Delete)
    qtbot.keyClick(host.other, Qt.Key.Key_Insert)
    # …and so do the settings form's inputs (Delete edits the spin box text there).
    spin = editor.form.editor("units")
    spin.setFocus()
    qtbot.keyClick(spin, Qt.Key.Key_Delete)
    assert document.undo_stack.count() == 0 and len(document.spec.layers) == 4
    editor.list_view.setFocus()
    qtbot.keyClick(editor.list_view, Qt.Key.Key_Delete)
    assert len(document.spec.layers) == 3


def test_looks_right_narrow_and_wide(cnn, host, qtbot, tmp_path):
    """Render at both widths: nothing is clipped out of the rows (badge, caption, count)."""
    for width in (300, 620):
        host.resize(width, 860)
        inner_width = width - 2 * host.layout().contentsMargins().left()
        qtbot.waitUntil(lambda inner_width=inner_width: abs(cnn.width() - inner_width) <= 4, timeout=2000)
        rect = cnn.list_view.visualRect(cnn.model.index(0))
        assert rect.width() <= cnn.list_view.viewport().width()
        assert cnn.palette_view.height() >= cnn.palette_view.visualItemRect(
            cnn.palette_view.item(cnn.palette_view.count() - 1)).bottom()
        assert not cnn.grab().isNull()


def _click_row(qtbot, view, row):
    """A real click on ``row``: press and release on the viewport at the row's rectangle."""
    index = view.model().index(row)
    view.scrollTo(index)
    pos = view.visualRect(index).center()
    qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def test_settings_form_follows_each_mouse_click_on_the_list(editor, document, qtbot):
    # Issue 15 item 1: the form refreshed on currentRowChanged while selected_row() read the
    # selection, which during a mouse press still holds the previous row: one click behind.
    from nnstudio.state.presets import load_presets

    preset = next(p for p in load_presets() if p.title == "MNIST CNN")
    document.reset(preset.state())
    view = editor.list_view
    title = editor.form.findChild(QWidget, "layerSettingsTitle")
    for row, caption in ((3, "Layer 4 · Conv2D"), (7, "Layer 8 · Dense"), (0, "Layer 1 · Conv2D"),
                         (2, "Layer 3 · MaxPool2D"), (11, "Layer 12 · Dense")):
        _click_row(qtbot, view, row)
        assert editor.selected_row() == row
        assert title.text() == caption
        assert editor.delete_action.toolTip() == f"Delete layer {row + 1} (Delete)"
    # Edit Units while "Dense 10" (row 12) is highlighted: that layer changes, Dense 84 does not.
    spin = editor.form.editor("units")
    assert spin.value() == 10
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, "12")
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    units = [layer.config.get("units") for layer in document.spec.layers]
    assert units[11] == 12 and units[9] == 84 and units[7] == 120
    assert document.undo_stack.undoText() == "Set Dense units to 12"


def test_conv2d_on_the_digits_network_offers_a_fix_that_exists(editor, document, qtbot):
    # Issue 15 item 6: the advice was "set the input shape to (channels, height, width)", and
    # there is no such control. Now the problem row says what to do and fixes it in one click.
    assert document.dataset_choice.name == "digits8x8" and document.spec.input_shape == (64,)
    before_spec, before_data = document.spec, document.dataset_choice
    _click_row(qtbot, editor.list_view, 0)
    palette = editor.palette_view
    palette.setCurrentRow([cls.type_name for cls in layer_types()].index("Conv2D"))
    qtbot.mouseClick(editor.tool_buttons["layerInsertAboveAction"], Qt.MouseButton.LeftButton)
    assert types(document)[0] == "Conv2D"
    text = editor.problem_label.text()
    assert editor.problem_frame.isVisible() and "needs an image input" in text
    assert "input shape" not in text and "switch Digits 8×8 to images: the Fix button does it" in text
    assert editor.fix_button.isVisible() and editor.fix_button.text() == "Fix: use Digits 8×8 as 8×8 images"
    steps = document.undo_stack.count()
    qtbot.mouseClick(editor.fix_button, Qt.MouseButton.LeftButton)
    assert document.spec.input_shape == (1, 8, 8)
    assert types(document)[:2] == ["Conv2D", "Flatten"] and analyze(document.spec).ok
    assert document.dataset_choice == DatasetChoice("digits8x8", {"layout": "image"})
    assert document.dataset().input_shape == (1, 8, 8)
    assert not editor.problem_frame.isVisible()
    assert document.undo_stack.count() == steps + 1
    assert document.undo_stack.undoText() == "Use Digits 8×8 as 8×8 images"
    document.undo_stack.undo()  # one step takes back the network and the layout together
    assert types(document)[0] == "Conv2D" and document.dataset_choice == before_data
    document.undo_stack.undo()
    assert document.spec == before_spec


def test_conv2d_below_a_dense_layer_is_told_to_move_up(editor, document, qtbot):
    _click_row(qtbot, editor.list_view, 0)
    editor.palette_view.setCurrentRow([cls.type_name for cls in layer_types()].index("Conv2D"))
    qtbot.keyClick(editor.list_view, Qt.Key.Key_Insert)  # adds below the selected Dense
    assert types(document)[1] == "Conv2D"
    text = editor.problem_label.text()
    from core.spec.dataset_fit import image_layer_names

    assert f"move the image layers ({', '.join(image_layer_names())}) to the top" in text and "input shape" not in text
    assert image_layer_names()[:3] == ("Conv2D", "MaxPool2D", "AvgPool2D")
    # Following the advice (Alt+Up on the new row) gives the one-click fix of the test above.
    qtbot.keyClick(editor.list_view, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier)
    assert types(document)[0] == "Conv2D"
    assert editor.fix_button.text() == "Fix: use Digits 8×8 as 8×8 images"


def test_a_network_that_does_not_fit_the_dataset_is_fixed_from_the_problem_row(editor, document, qtbot):
    # Valid on its own, but 5 outputs for 10 classes: the dataset's problem (and its fix)
    # shows in the editor, not only in the Dataset panel at the far right.
    _click_row(qtbot, editor.list_view, 2)
    spin = editor.form.editor("units")
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, "5")
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    assert document.spec.layers[2].config["units"] == 5 and analyze(document.spec).ok
    assert editor.problem_frame.isVisible()
    assert "The network has 5 outputs but Digits 8×8 has 10 classes" in editor.problem_label.text()
    assert editor.fix_button.text() == "Fix: fit the network to Digits 8×8"
    qtbot.mouseClick(editor.fix_button, Qt.MouseButton.LeftButton)
    assert document.spec.layers[2].config["units"] == 10 and not editor.problem_frame.isVisible()
