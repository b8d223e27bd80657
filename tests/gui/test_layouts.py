"""Layouts that fit (issue 15, item 11): every tab of the real main window at 1024×640, the
default 1400×860 and 1920×1080, with an MNIST network trained and evaluated on MNIST.

For each tab and size: every visible button, check box and label shows its whole text;
widgets laid out side by side never overlap; and the tab's key content is visible at a
useful size (matrix cells ≥ 24 px with whole counts, whole report columns, probabilities
beside the canvas, a canvas that grows with the window, plots with room to read).
Plus the pieces behind it: the canvas's size-independent input, collapsible and
remembered side panels, and a gallery split the user sets and keeps.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEventLoop, QPoint, QRect, Qt, QTimer
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QAbstractButton, QApplication, QLabel, QLayout, QSplitter, QTabBar, QWidget

from core.data.drawing import preprocess_drawing
from nnstudio.main_window import DEFAULT_SIZE, MainWindow
from nnstudio.state.presets import load_presets
from nnstudio.theme import is_dark
from nnstudio.widgets.common.side_panels import CENTRE_ROOM
from nnstudio.widgets.draw.digit_canvas import CANVAS_SIZE, DigitCanvas
from tests.gui.conftest import FakeDialogs
from tests.gui.test_digit_canvas import screen_ink, use_theme

SIZES = [(1024, 640), DEFAULT_SIZE, (1920, 1080)]
SIZE_IDS = ["1024x640", "default", "1920x1080"]
WAIT_MS = 60_000


# -- helpers ---------------------------------------------------------------------------------------
def settle() -> None:
    """Let posted layout requests and zero-delay timers (splitter re-balancing) run."""
    for _ in range(4):
        QApplication.sendPostedEvents()
        QApplication.processEvents()


def wait_for(signal, timeout_ms: int = WAIT_MS) -> None:
    loop = QEventLoop()
    signal.connect(loop.quit)
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()


def rect_in(widget: QWidget, ancestor: QWidget) -> QRect:
    return QRect(widget.mapTo(ancestor, QPoint(0, 0)), widget.size())


def fully_shown(widget: QWidget) -> bool:
    """True when ``widget`` is visible and no ancestor (a scroll viewport, a splitter, the
    window) cuts any part of it off."""
    if not widget.isVisible():
        return False
    ancestor = widget.parentWidget()
    while ancestor is not None:
        rect = rect_in(widget, ancestor)
        if ancestor.rect().intersected(rect) != rect:
            return False
        ancestor = ancestor.parentWidget()
    return True


def laid_out_children(layout: QLayout) -> list[QWidget]:
    """Widgets placed by ``layout`` and its nested layouts."""
    found = []
    for i in range(layout.count()):
        item = layout.itemAt(i)
        if item.widget() is not None:
            found.append(item.widget())
        elif item.layout() is not None:
            found.extend(laid_out_children(item.layout()))
    return found


def overlaps(root: QWidget) -> list[str]:
    """Pairs of visible widgets placed by the same layout (or splitter) whose rectangles
    intersect, anywhere under ``root``."""
    problems = []
    for parent in [root, *root.findChildren(QWidget)]:
        if not parent.isVisible():
            continue
        if isinstance(parent, QSplitter):
            children = [parent.widget(i) for i in range(parent.count())]
        elif parent.layout() is not None:
            children = laid_out_children(parent.layout())
        else:
            continue
        shown = [c for c in children if c.isVisible() and c.width() > 0 and c.height() > 0]
        for i, a in enumerate(shown):
            for b in shown[i + 1:]:
                if a.geometry().intersects(b.geometry()):
                    problems.append(f"{name(a)} overlaps {name(b)} in {name(parent)}")
    return problems


def name(widget: QWidget) -> str:
    text = widget.text() if hasattr(widget, "text") and callable(widget.text) else ""
    return widget.objectName() or f"{type(widget).__name__}({str(text)[:30]!r})"


def clipped_texts(root: QWidget) -> list[str]:
    """Visible buttons, check boxes and labels under ``root`` narrower (or, wrapped, lower)
    than their text needs."""
    problems = []
    for w in root.findChildren(QWidget):
        if not w.isVisible() or not isinstance(w, (QAbstractButton, QLabel)) or not w.text():
            continue
        if isinstance(w, QLabel) and w.wordWrap():
            need_h = w.heightForWidth(w.width())
            if w.height() < need_h:
                problems.append(f"{name(w)} is {w.height()} px high, its wrapped text needs {need_h}")
        elif w.width() < w.sizeHint().width() or w.height() < min(w.sizeHint().height(), w.minimumSizeHint().height()):
            problems.append(f"{name(w)} is {w.width()}×{w.height()}, its text needs "
                            f"{w.sizeHint().width()}×{w.sizeHint().height()}")
    return problems


def assert_fits(root: QWidget) -> None:
    assert clipped_texts(root) == []
    assert overlaps(root) == []


def all_tabs_shown(bar: QTabBar) -> bool:
    """Every tab of the bar lies inside it (no tab hidden behind scroll arrows)."""
    return all(bar.rect().contains(bar.tabRect(i)) for i in range(bar.count()))


# -- the window --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def window(qapp, mnist_dir):
    """The real main window on the MNIST MLP preset, trained briefly (a few thousand samples,
    cheap on a busy machine) and evaluated on MNIST's 10,000 test images: ten classes, some
    diagonal counts of four digits."""
    dialogs = FakeDialogs()
    w = MainWindow(dialogs=dialogs)
    w.resize(*DEFAULT_SIZE)
    w.show()
    preset = next(p for p in load_presets() if p.key == "04-mnist-mlp")
    w.new_from_preset(preset)
    document = w.document
    network = document.network_for_training()
    splits = document.splits()
    network.fit(splits.x_train[:4000], splits.y_train[:4000], epochs=2, batch_size=64)
    document.network_trained()
    panel = w.evaluation_panel
    assert panel.evaluate()
    wait_for(panel.evaluationFinished)
    evaluation = panel.evaluation
    assert evaluation is not None and len(evaluation.class_names) == 10
    assert evaluation.confusion.max() >= 1000  # four-digit counts: the widest a cell must show
    yield w
    assert w.evaluation_panel.shutdown(WAIT_MS)
    assert w.controller.shutdown()
    w.document.undo_stack.clear()
    w.close()
    w.deleteLater()
    settle()


def show(window: MainWindow, size: tuple[int, int], tab: QWidget, inner: int | None = None) -> None:
    window.resize(*size)
    window.tabs.setCurrentWidget(tab)
    if inner is not None:
        window.evaluation_panel.tabs.setCurrentIndex(inner)
    settle()
    assert (window.width(), window.height()) == size  # the minimum size allows it


# -- every tab at every size -----------------------------------------------------------------------------
def test_minimum_size_allows_the_smallest_supported_window(window):
    assert window.minimumWidth() <= 1024 and window.minimumHeight() <= 640
    hint = window.minimumSizeHint()
    assert hint.width() <= 1024 and hint.height() <= 640


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_side_panels_and_main_tabs_fit(window, size):
    show(window, size, window.dashboard)
    assert all_tabs_shown(window.tabs.tabBar())
    for panel in (window.layer_editor, window.splitter.widget(2)):
        assert panel.isVisible() and panel.width() >= panel.minimumWidth() > 0
    centre = window.tabs.width()
    if size[0] >= 1024:
        assert centre >= min(CENTRE_ROOM, 440)  # the side panels gave way before the centre did
    assert_fits(window.layer_editor)
    assert overlaps(window.splitter.widget(2)) == []


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_start_tab_fits(window, size):
    show(window, size, window.start_page)
    assert_fits(window.start_page)
    for button in window.start_page.buttons.values():
        assert button.width() >= button.sizeHint().width()


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_train_tab_fits_and_its_plots_have_room(window, size):
    dash = window.dashboard
    show(window, size, dash)
    assert_fits(dash)
    for plot in (dash.loss_plot, dash.accuracy_plot):
        assert fully_shown(plot)
        assert plot.width() >= 400 and plot.height() >= 150, f"{plot.objectName()} is {plot.width()}×{plot.height()}"


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_draw_tab_shows_the_probabilities_beside_a_canvas_that_grows(window, size):
    panel = window.draw_panel
    show(window, size, panel)
    assert_fits(panel)
    canvas, bars, preview = panel.canvas, panel.bars, panel.preview
    content = panel.scroll_area.widget()
    c, b = rect_in(canvas, content), rect_in(bars, content)
    assert b.left() >= c.right(), "the probabilities are not beside the canvas"
    assert fully_shown(canvas) and fully_shown(bars) and fully_shown(preview)
    assert bars.width() >= bars.minimumWidth() and bars.height() >= bars.minimumHeight()
    assert canvas.width() == canvas.height() >= 200
    if size == (1920, 1080):
        assert canvas.width() >= 1.5 * CANVAS_SIZE  # a large window draws on a large canvas


def test_canvas_grows_with_the_window(window):
    sides = []
    for size in SIZES:
        show(window, size, window.draw_panel)
        sides.append(window.draw_panel.canvas.side())
    assert sides == sorted(sides) and sides[0] < sides[-1]


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_evaluate_tab_titles_and_summary_fit(window, size):
    panel = window.evaluation_panel
    for inner in range(panel.tabs.count()):
        show(window, size, panel, inner)
        assert all_tabs_shown(panel.tabs.tabBar()), f"tab {inner} hides behind scroll arrows"
        assert panel.tabs.tabBar().tabRect(panel.tabs.count() - 1).right() < panel.tabs.tabBar().width()
        assert fully_shown(panel.summary) and fully_shown(panel.evaluate_button)
        assert_fits(panel.tabs.currentWidget())
    assert_fits(panel)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_confusion_matrix_is_whole_and_readable(window, size):
    panel = window.evaluation_panel
    show(window, size, panel, 0)
    view = panel.confusion_view
    k = view.matrix_model.rowCount()
    assert k == 10
    cell = view.cell_size()
    assert cell >= 24
    assert fully_shown(view), "the matrix is cut off"
    # Every count shows whole in its cell (no "1…" for 1131).
    margin = 2 * (view.style().pixelMetric(view.style().PixelMetric.PM_FocusFrameHMargin, None, view) + 1)
    for r in range(k):
        for c in range(k):
            index = view.matrix_model.index(r, c)
            text = index.data()
            rect = view.visualRect(index)
            assert rect.width() == rect.height() >= cell - 1  # the grid line takes the last pixel
            width = QFontMetrics(view.cell_font(r == c)).horizontalAdvance(text)
            assert width + margin <= rect.width(), f"cell ({r}, {c}) cannot show {text!r} whole"
    if size[0] >= DEFAULT_SIZE[0]:
        assert cell >= 28  # the default window and up: counts in a comfortable cell
    if size == (1920, 1080):
        assert cell >= 40  # a large window gives the matrix large cells


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_class_report_shows_whole_titles_and_numbers(window, size):
    panel = window.evaluation_panel
    show(window, size, panel, 0)
    table = panel.report_table
    header = table.horizontalHeader()
    for c in range(panel.report_model.columnCount()):
        need = max(header.sectionSizeHint(c), table.sizeHintForColumn(c))
        assert header.sectionSize(c) >= need, f"column {c} is {header.sectionSize(c)} px, needs {need}"
    rows = panel.report_model.rowCount()
    assert rows == 13 and table.rowViewportPosition(rows - 1) + table.rowHeight(rows - 1) <= table.viewport().height()
    matrix = rect_in(panel.confusion_view, panel.confusion_page)
    report = rect_in(table, panel.confusion_page)
    if size[0] >= DEFAULT_SIZE[0]:
        assert report.left() >= matrix.right() and fully_shown(table)  # beside the matrix, all visible
    else:
        assert report.top() >= matrix.bottom()  # below the matrix: the page scrolls to it


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_gradient_check_tab_is_reachable_and_fits(window, size):
    panel = window.evaluation_panel
    show(window, size, panel, 3)
    view = panel.grad_check_view
    assert fully_shown(view.button) and view.button.width() >= view.button.sizeHint().width()
    assert view.table.isVisible() and view.table.height() >= 100
    assert_fits(view)


# -- the pieces behind it ----------------------------------------------------------------------------------
def draw(qtbot, canvas: DigitCanvas, strokes) -> None:
    """Real mouse strokes; ``strokes`` in fractions of the canvas's side."""
    side = canvas.side()
    for stroke in strokes:
        points = [QPoint(round(x * side), round(y * side)) for x, y in stroke]
        qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=points[0])
        for p in points[1:]:
            qtbot.mouseMove(canvas, p)
        qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=points[-1])


SEVEN = [[(0.25, 0.25), (0.45, 0.25), (0.75, 0.25)], [(0.75, 0.25), (0.6, 0.5), (0.5, 0.75), (0.45, 0.8)]]


def test_the_same_drawing_gives_the_same_input_at_any_canvas_size(qtbot):
    images = []
    for side in (200, 280, 560):
        canvas = DigitCanvas()
        qtbot.addWidget(canvas)
        canvas.set_side(side)
        canvas.show()
        qtbot.waitExposed(canvas)
        assert canvas.width() == canvas.height() == side
        draw(qtbot, canvas, SEVEN)
        images.append(canvas.image_array())
    assert images[0].shape == images[1].shape == images[2].shape
    assert np.array_equal(images[0], images[1]) and np.array_equal(images[1], images[2])
    inputs = [preprocess_drawing(image, "mnist") for image in images]
    assert inputs[0] is not None and inputs[0].shape == (28, 28) and inputs[0].max() > 0.5
    assert np.array_equal(inputs[0], inputs[1]) and np.array_equal(inputs[1], inputs[2])


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_canvas_stroke_lands_where_the_mouse_is_at_any_size(qtbot, theme):
    with use_theme(theme):
        check_canvas_stroke_lands_where_the_mouse_is(qtbot, theme)


def check_canvas_stroke_lands_where_the_mouse_is(qtbot, theme: str) -> None:
    canvas = DigitCanvas()
    qtbot.addWidget(canvas)
    canvas.set_side(560)
    canvas.show()
    qtbot.waitExposed(canvas)
    assert is_dark(canvas.palette()) == (theme == "dark")
    draw(qtbot, canvas, [[(0.5, 0.5), (0.5, 0.52)]])
    image = canvas.image_array()
    scale = image.shape[0] / CANVAS_SIZE
    rows, cols = np.nonzero(image > 0.5)
    # The middle of the widget is the middle of the drawing.
    assert abs(rows.mean() / scale - CANVAS_SIZE * 0.51) < 2 and abs(cols.mean() / scale - CANVAS_SIZE * 0.5) < 2
    shown = canvas.grab().toImage()
    # Drawn where the mouse was: full ink there (white on black in a dark theme, black on white in a light one).
    assert shown.width() == 560 and screen_ink(canvas, shown.pixelColor(280, 285).value()) > 200
    assert screen_ink(canvas, shown.pixelColor(280, 200).value()) == 0  # and only there: paper above it


@pytest.fixture
def small_window(qtbot, dialogs):
    w = MainWindow(dialogs=dialogs)
    qtbot.addWidget(w)
    w.resize(1400, 860)
    w.show()
    qtbot.waitExposed(w)
    yield w
    assert w.controller.shutdown()
    w.document.undo_stack.clear()


def test_view_menu_collapses_and_restores_the_side_panels(qtbot, small_window):
    w = small_window
    left, centre, right = (w.splitter.widget(i) for i in range(3))
    before = w.splitter.sizes()
    assert w.show_network_panel_action.isChecked() and w.show_settings_panel_action.isChecked()
    w.show_network_panel_action.trigger()
    qtbot.waitUntil(lambda: w.splitter.sizes()[0] == 0, timeout=2000)
    assert not left.geometry().intersects(w.splitter.rect())  # out of sight
    assert centre.width() > before[1] + before[0] // 2
    w.show_settings_panel_action.trigger()
    qtbot.waitUntil(lambda: w.splitter.sizes()[2] == 0, timeout=2000)
    w.show_network_panel_action.trigger()
    w.show_settings_panel_action.trigger()
    qtbot.waitUntil(lambda: w.splitter.sizes() == before, timeout=2000)
    assert right.width() == before[2]


def test_dragging_a_panel_to_the_edge_collapses_it_and_unticks_its_menu_entry(qtbot, small_window):
    w = small_window
    handle = w.splitter.handle(1)
    start = QPoint(handle.width() // 2, handle.height() // 2)
    qtbot.mousePress(handle, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(handle, start - QPoint(w.splitter.sizes()[0] + 50, 0))
    qtbot.mouseRelease(handle, Qt.MouseButton.LeftButton, pos=start - QPoint(w.splitter.sizes()[0] + 50, 0))
    qtbot.waitUntil(lambda: w.splitter.sizes()[0] == 0, timeout=2000)
    assert not w.show_network_panel_action.isChecked()
    w.show_network_panel_action.trigger()
    qtbot.waitUntil(lambda: w.splitter.sizes()[0] > 0, timeout=2000)


def test_side_panels_give_way_in_a_narrow_window_and_come_back(qtbot, small_window):
    w = small_window
    wide = w.splitter.sizes()
    w.resize(1024, 640)
    qtbot.waitUntil(lambda: w.width() == 1024, timeout=2000)
    narrow = w.splitter.sizes()
    assert narrow[0] < wide[0] and narrow[2] < wide[2]  # the sides gave way first
    assert narrow[0] >= w.layer_editor.minimumWidth() and narrow[2] >= w.splitter.widget(2).minimumWidth()
    w.resize(1400, 860)
    qtbot.waitUntil(lambda: w.splitter.sizes() == wide, timeout=2000)  # their widths are still the chosen ones


def test_collapsed_panel_and_chosen_widths_are_remembered(qtbot, dialogs):
    first = MainWindow(dialogs=dialogs)
    qtbot.addWidget(first)
    first.resize(1500, 900)
    first.show()
    qtbot.waitExposed(first)
    total = sum(first.splitter.sizes())
    first.splitter.setSizes([280, total - 280 - 360, 360])
    first.show_network_panel_action.trigger()
    qtbot.waitUntil(lambda: first.splitter.sizes()[0] == 0, timeout=2000)
    first.close()
    second = MainWindow(dialogs=dialogs)
    qtbot.addWidget(second)
    second.show()
    qtbot.waitExposed(second)
    qtbot.waitUntil(lambda: second.splitter.sizes()[2] == 360, timeout=2000)
    assert second.splitter.sizes()[0] == 0 and not second.show_network_panel_action.isChecked()
    second.show_network_panel_action.trigger()
    qtbot.waitUntil(lambda: second.splitter.sizes()[0] == 280, timeout=2000)
    second.close()


def test_gallery_split_follows_the_window_until_the_user_moves_it(window, qtbot):
    panel = window.evaluation_panel
    show(window, (1920, 1080), panel, 0)
    splitter = panel._confusion_splitter
    tall = splitter.sizes()
    show(window, DEFAULT_SIZE, panel, 0)
    assert splitter.sizes()[0] < tall[0]  # the matrix pane followed the window
    handle = splitter.handle(1)
    start = QPoint(handle.width() // 2, handle.height() // 2)
    qtbot.mousePress(handle, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(handle, start + QPoint(0, -60))
    qtbot.mouseRelease(handle, Qt.MouseButton.LeftButton, pos=start + QPoint(0, -60))
    settle()
    moved = splitter.sizes()
    show(window, (1920, 1080), panel, 0)
    assert splitter.sizes()[0] == moved[0]  # the user's split stays
    panel._user_split = False  # later tests in this module see the default behaviour again
