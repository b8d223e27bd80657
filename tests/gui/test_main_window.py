"""The main window: names, presets through the UI, files (open, save, recent, drag and
drop, corrupt files), the unsaved-changes guard and geometry persistence."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication, QWidget

import core
from nnstudio.main_window import MainWindow
from nnstudio.state.document import default_state, initial_state
from nnstudio.state.presets import load_presets

NAMES = ["layerList", "layerPalette", "datasetCombo", "lossCombo", "optimizerCombo", "learningRateEdit",
         "epochsSpin", "batchSizeSpin", "seedSpin", "trainButton", "pauseButton", "stepButton", "stopButton",
         "lossPlot", "accuracyPlot", "digitCanvas", "clearCanvasButton", "probabilityBars", "predictionLabel",
         "inputPreview", "confusionMatrix", "classReport", "mistakesGallery", "weightsView", "decisionBoundary",
         "gradCheckButton"]


@pytest.fixture
def window(open_main_window):
    return open_main_window()


def test_every_named_widget_is_present(window):
    missing = [name for name in NAMES if window.findChild(QWidget, name) is None]
    assert missing == []


@pytest.mark.parametrize("preset", [p for p in load_presets()], ids=lambda p: p.key)
def test_each_preset_through_the_start_page_builds_its_spec(window, qtbot, preset):
    window.tabs.setCurrentWidget(window.start_page)
    qtbot.mouseClick(window.start_page.buttons[preset.key], Qt.MouseButton.LeftButton)
    expected = preset.state()
    assert window.document.spec == expected.spec
    assert window.document.training == expected.training
    assert window.document.dataset_choice == expected.dataset
    assert window.tabs.currentWidget() is window.dashboard
    assert not window.document.modified


def test_preset_menu_lists_every_preset(window):
    titles = [a.text() for a in window.preset_menu.actions()]
    assert titles == [p.title for p in load_presets()]


def test_open_modify_save_reopen_round_trip(window, qtbot, dialogs, tmp_path):
    path = tmp_path / "net.nnz"
    dialogs.save_path = str(path)
    window.save_as_action.trigger()
    assert path.is_file() and not window.document.modified
    assert window.windowTitle().startswith("net.nnz")
    # modify through the real editor form, then save with Ctrl+S's action
    form_units = window.layer_editor.findChild(QWidget, "param_units")
    form_units.setValue(48)
    form_units.editingFinished.emit()
    assert window.document.spec.layers[0].config["units"] == 48
    assert window.document.modified and window.isWindowModified()
    window.save_action.trigger()
    assert not window.document.modified
    saved_spec = window.document.spec
    window.new_action.trigger()
    assert window.document.spec == initial_state().spec and window.document.path is None
    dialogs.open_path = str(path)
    window.open_action.trigger()
    assert window.document.spec == saved_spec and window.document.path == path
    assert str(path.resolve()) == window.recent_files()[0]


def test_corrupt_file_shows_a_message_and_keeps_the_document(window, tmp_path):
    window.document.change("Use SGD",
                           spec=window.document.spec.replace(optimizer={"type": "SGD", "learning_rate": 0.1}))
    before = window.document.state
    bad = tmp_path / "evil.nnz"
    bad.write_bytes(b"not a model at all")
    assert window.open_path(bad) is False
    assert window.document.state is before
    assert window.message_bar.isVisible() and "evil.nnz" in window.message_bar.text
    assert window.message_bar.text.count("evil.nnz") == 1, window.message_bar.text  # named once
    assert "Traceback" not in window.message_bar.text


def test_unsaved_changes_guard(window, dialogs):
    window.document.change("Use SGD",
                           spec=window.document.spec.replace(optimizer={"type": "SGD", "learning_rate": 0.1}))
    dialogs.save_changes_answer = "cancel"
    window.new_action.trigger()
    assert window.document.spec.optimizer["type"] == "SGD" and dialogs.asked[-1] == "save_changes"
    dialogs.save_changes_answer = "discard"
    window.new_action.trigger()
    assert window.document.spec == initial_state().spec and not window.document.modified


def test_close_asks_and_can_be_cancelled(window, dialogs):
    window.document.change("Use SGD",
                           spec=window.document.spec.replace(optimizer={"type": "SGD", "learning_rate": 0.1}))
    dialogs.save_changes_answer = "cancel"
    window.close()
    assert window.isVisible()
    dialogs.save_changes_answer = "discard"
    window.close()
    assert not window.isVisible()


def test_dropping_a_model_file_opens_it(window, qtbot, tmp_path):
    net = core.Network.from_spec({"input_shape": [64], "layers": [{"type": "Dense", "units": 10},
                                  {"type": "Activation", "function": "softmax"}], "loss": "cross_entropy"})
    path = tmp_path / "dropped.nnz"
    core.save_model(net, path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    qtbot.waitUntil(lambda: window.document.path == path, timeout=3000)
    assert len(window.document.spec.layers) == 2


def test_geometry_and_splitter_persist(qtbot, dialogs):
    first = MainWindow(dialogs=dialogs)
    qtbot.addWidget(first)
    first.resize(1500, 777)
    first.show()
    qtbot.waitExposed(first)
    total = sum(first.splitter.sizes())
    first.splitter.setSizes([300, total - 620, 320])
    sizes = first.splitter.sizes()
    assert sizes == [300, total - 620, 320]
    first.close()
    second = MainWindow(dialogs=dialogs)
    qtbot.addWidget(second)
    assert second.size().width() == 1500 and second.size().height() == 777
    second.show()
    qtbot.waitUntil(lambda: second.splitter.sizes() == sizes, timeout=2000)
    second.close()


def test_undo_menu_names_the_edit(window):
    window.document.change("Delete layer 2 (Activation)",
                           spec=window.document.spec.with_layers(window.document.spec.layers[:1]
                                                                 + window.document.spec.layers[2:]))
    assert window.undo_action.text() == "&Undo Delete layer 2 (Activation)"
    window.undo_action.trigger()
    assert len(window.document.spec.layers) == 4


def test_new_documents_start_on_mnist_when_it_is_on_the_computer(mnist_dir, monkeypatch, tmp_path):
    assert initial_state().dataset.name == "mnist"
    assert initial_state().spec.input_shape == (784,)
    monkeypatch.setenv("NNSTUDIO_DATA", str(tmp_path))  # nothing there
    monkeypatch.setenv("HOME", str(tmp_path))
    assert initial_state() == default_state()
    assert default_state().dataset.name == "digits8x8"


def test_app_icon_is_shipped_and_renders(qtbot):
    from nnstudio.icons import app_icon

    icon = app_icon()
    assert not icon.isNull()
    image = icon.pixmap(64, 64).toImage()
    assert image.width() == 64 and image.pixelColor(32, 32).alpha() == 255


def assert_laid_out(container, widgets) -> dict:
    """Each widget lies whole inside ``container``, at least its minimum size hint (buttons:
    their whole label), and none overlaps another. Returns their rectangles by name."""
    rects = {}
    for w in widgets:
        name = w.objectName() or w.text()
        needed = w.sizeHint() if hasattr(w, "text") and w.text() else w.minimumSizeHint()
        assert w.width() >= needed.width() and w.height() >= needed.height(), \
            f"{name} is squeezed: {w.size()} < {needed}"
        rect = w.rect().translated(w.mapTo(container, w.rect().topLeft()))
        assert container.rect().contains(rect), f"{name} sticks out of {container.objectName()}"
        rects[name] = rect
    names = sorted(rects)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not rects[a].intersects(rects[b]), f"{a} overlaps {b}"
    return rects


def _buttons_of(widget):
    from PySide6.QtWidgets import QAbstractButton
    return [b for b in widget.findChildren(QAbstractButton) if b.isVisibleTo(widget) and b.text()]


@pytest.mark.parametrize("size", [(900, 600), (1024, 640), (1600, 1000)], ids=["minimum", "small", "large"])
def test_train_tab_buttons_show_their_whole_labels(window, qtbot, size):
    # At the minimum window size the centre column is ~350 px: the rows of buttons wrap onto
    # a second line instead of clipping labels ("tep batc").
    window.resize(*size)
    window.tabs.setCurrentWidget(window.dashboard)
    qtbot.waitUntil(lambda: window.dashboard.isVisible(), timeout=2000)
    qtbot.waitUntil(lambda: window.width() == max(size[0], window.minimumWidth()), timeout=2000)
    dashboard = window.dashboard
    buttons = _buttons_of(dashboard)
    assert {"trainButton", "pauseButton", "stepButton", "stepEpochButton", "stopButton", "resetWeightsButton",
            "logScaleCheck", "keepComparisonButton", "clearRunsButton", "exportButton"} <= {b.objectName()
                                                                                           for b in buttons}
    rects = assert_laid_out(dashboard, buttons)
    if size == (1600, 1000):  # room enough: one line of training buttons
        assert len({rects[n].top() for n in ("trainButton", "stepEpochButton", "resetWeightsButton")}) == 1


@pytest.mark.parametrize("size", [(900, 600), (1024, 640), (1600, 1000)], ids=["minimum", "small", "large"])
def test_draw_tab_fits_any_window_size(window, qtbot, size):
    # Canvas (at least 160 px) and probabilities (at least 200 px) side by side need ~380 px;
    # the minimum window leaves the centre ~350: there the prediction goes below the canvas
    # and the tab scrolls. From 1024×640 up they stay side by side.
    window.resize(*size)
    window.tabs.setCurrentWidget(window.draw_panel)
    qtbot.waitUntil(lambda: window.draw_panel.isVisible(), timeout=2000)
    panel = window.draw_panel
    content = panel.scroll_area.widget()
    qtbot.waitUntil(lambda: content.width() <= panel.scroll_area.viewport().width(), timeout=2000)
    QApplication.sendPostedEvents()  # the column switch relayouts through posted layout requests
    content.layout().activate()
    names = ["digitCanvas", "brushWidthSpin", "clearCanvasButton", "randomSampleButton", "predictionLabel",
             "inputPreview", "probabilityBars"]
    widgets = [content.findChild(QWidget, n) for n in names]
    assert None not in widgets
    rects = assert_laid_out(content, widgets)
    below = rects["predictionLabel"].top() > rects["digitCanvas"].bottom()
    assert below == (size == (900, 600))  # one column only below the smallest supported window


def test_evaluate_tab_controls_show_their_whole_labels_in_the_smallest_window(window, qtbot):
    window.resize(900, 600)
    window.tabs.setCurrentWidget(window.evaluation_panel)
    qtbot.waitUntil(lambda: window.evaluation_panel.isVisible(), timeout=2000)
    qtbot.waitUntil(lambda: window.width() == max(900, window.minimumWidth()), timeout=2000)
    panel = window.evaluation_panel
    for button in _buttons_of(panel):
        assert button.width() >= button.sizeHint().width(), f"{button.objectName() or button.text()} is clipped"
