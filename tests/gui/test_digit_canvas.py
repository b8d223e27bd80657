"""The drawing canvas: strokes from real mouse (and tablet) events, undo, clear, throttled
change signal, high-DPI image, keyboard focus rules."""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QAction, QImage, QKeySequence, QPointingDevice, QTabletEvent
from PySide6.QtWidgets import QApplication, QMainWindow, QPushButton, QVBoxLayout, QWidget

from nnstudio.theme import is_dark, theme_manager
from nnstudio.widgets.draw.digit_canvas import CANVAS_SIZE, DEFAULT_BRUSH, DigitCanvas


@pytest.fixture
def canvas(qtbot):
    widget = DigitCanvas()
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def drag(qtbot, widget, points, button=Qt.MouseButton.LeftButton):
    qtbot.mousePress(widget, button, pos=QPoint(*points[0]))
    for p in points[1:]:
        qtbot.mouseMove(widget, QPoint(*p))
    qtbot.mouseRelease(widget, button, pos=QPoint(*points[-1]))


def ink_width(image: np.ndarray, column: int) -> float:
    """Stroke thickness (logical px) crossing a column: its grey levels summed."""
    scale = image.shape[0] / CANVAS_SIZE
    return float(image[:, int(column * scale)].sum() / scale)


def test_blank_canvas(canvas):
    assert canvas.objectName() == "digitCanvas"
    assert canvas.width() == canvas.height() == CANVAS_SIZE
    image = canvas.image_array()
    assert image.dtype == np.float32 and image.ndim == 2 and image.shape[0] == image.shape[1] >= CANVAS_SIZE
    assert image.max() == 0 and canvas.is_empty()


def test_a_fast_stroke_is_continuous_round_and_white(qtbot, canvas):
    # Only two mouse events far apart (a fast flick): the segment between them is drawn.
    drag(qtbot, canvas, [(40, 140), (240, 140)])
    image = canvas.image_array()
    assert image.max() == pytest.approx(1.0)
    for column in range(50, 231, 10):
        assert ink_width(image, column) == pytest.approx(DEFAULT_BRUSH, abs=1.0), column
    # Round cap: ink reaches half a brush beyond the end point, with anti-aliased edges.
    scale = image.shape[0] / CANVAS_SIZE
    row = image[int(140 * scale)]
    assert row[int((240 + DEFAULT_BRUSH / 2 - 2) * scale)] > 0.5
    assert row[int((240 + DEFAULT_BRUSH / 2 + 2) * scale)] == 0
    assert ((image > 0.05) & (image < 0.95)).any()  # anti-aliased
    assert canvas.stroke_count == 1


def test_a_click_leaves_a_dot(qtbot, canvas):
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=QPoint(100, 100))
    image = canvas.image_array()
    assert image.sum() / (image.shape[0] / CANVAS_SIZE) ** 2 == pytest.approx(np.pi * (DEFAULT_BRUSH / 2) ** 2, rel=0.1)


def test_brush_width_applies_to_new_strokes(qtbot, canvas):
    canvas.set_brush_width(8)
    drag(qtbot, canvas, [(20, 60), (260, 60)])
    canvas.set_brush_width(36)
    drag(qtbot, canvas, [(20, 200), (260, 200)])
    image = canvas.image_array()
    scale = image.shape[0] / CANVAS_SIZE
    upper, lower = image[: int(130 * scale)], image[int(130 * scale):]
    assert upper[:, int(140 * scale)].sum() / scale == pytest.approx(8, abs=1)
    assert lower[:, int(140 * scale)].sum() / scale == pytest.approx(36, abs=1)
    canvas.set_brush_width(1000)
    assert canvas.brush_width == 60  # clamped


def test_right_button_does_not_draw(qtbot, canvas):
    drag(qtbot, canvas, [(40, 140), (240, 140)], button=Qt.MouseButton.RightButton)
    assert canvas.image_array().max() == 0 and canvas.is_empty()


def test_undo_and_clear_from_the_keyboard(qtbot, canvas):
    drag(qtbot, canvas, [(140, 30), (140, 250)])
    one = canvas.image_array().copy()
    drag(qtbot, canvas, [(30, 140), (250, 140)])
    assert canvas.stroke_count == 2
    qtbot.keySequence(canvas, QKeySequence(QKeySequence.StandardKey.Undo))
    np.testing.assert_array_equal(canvas.image_array(), one)
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert canvas.image_array().max() == 0
    assert not canvas.undo_stroke()  # nothing left
    drag(qtbot, canvas, [(30, 140), (250, 140)])
    qtbot.keyClick(canvas, Qt.Key.Key_Escape)
    assert canvas.is_empty() and canvas.image_array().max() == 0
    drag(qtbot, canvas, [(30, 140), (250, 140)])
    qtbot.keyClick(canvas, Qt.Key.Key_Delete)
    assert canvas.is_empty()


def test_canvas_ctrl_z_wins_over_the_window_undo_only_with_focus(qtbot):
    window = QMainWindow()
    qtbot.addWidget(window)
    central = QWidget()
    layout = QVBoxLayout(central)
    canvas = DigitCanvas()
    other = QPushButton("Train")  # a widget without its own Ctrl+Z
    layout.addWidget(canvas)
    layout.addWidget(other)
    window.setCentralWidget(central)
    window_undos = []
    undo = QAction("Undo", window)
    undo.setShortcut(QKeySequence.StandardKey.Undo)
    undo.triggered.connect(lambda: window_undos.append(1))
    window.addAction(undo)
    with qtbot.waitActive(window):
        window.show()
        window.activateWindow()
    drag(qtbot, canvas, [(140, 30), (140, 250)])
    drag(qtbot, canvas, [(30, 140), (250, 140)])
    assert canvas.hasFocus()  # drawing gives the canvas focus
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert canvas.stroke_count == 1 and window_undos == []
    other.setFocus()
    qtbot.waitUntil(other.hasFocus, timeout=1000)
    qtbot.keyClick(other, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert canvas.stroke_count == 1 and window_undos == [1]


def test_image_changed_is_throttled_and_immediate_on_release(qtbot, canvas):
    emitted = []
    canvas.imageChanged.connect(lambda: emitted.append(1))
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(20, 20))
    for i in range(60):
        qtbot.mouseMove(canvas, QPoint(20 + 4 * i, 20 + 3 * i))
    assert len(emitted) == 0  # a burst of moves: nothing yet, the timer runs
    qtbot.waitUntil(lambda: len(emitted) == 1, timeout=1000)  # ~30 ms later: one update
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(260, 200))
    assert len(emitted) == 2  # release: at once
    qtbot.wait(80)
    assert len(emitted) == 2  # and no late duplicate


def test_high_dpi_image_has_device_pixels(qtbot, canvas, monkeypatch):
    monkeypatch.setattr(canvas, "devicePixelRatioF", lambda: 2.0)
    canvas.clear()
    drag(qtbot, canvas, [(40, 140), (240, 140)])
    image = canvas.image_array()
    assert image.shape == (2 * CANVAS_SIZE, 2 * CANVAS_SIZE)
    assert image[:, 280].sum() == pytest.approx(2 * DEFAULT_BRUSH, abs=2)  # 20 logical px = 40 device px
    assert image[280].max() == pytest.approx(1.0)


def test_tablet_pressure_scales_the_width(qtbot, canvas):
    device = QPointingDevice.primaryPointingDevice()

    def tablet(kind, x, y, pressure):
        pos = QPointF(x, y)
        event = QTabletEvent(kind, device, pos, QPointF(canvas.mapToGlobal(pos)), pressure, 0.0, 0.0, 0.0, 0.0, 0.0,
                             Qt.KeyboardModifier.NoModifier, Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton)
        QApplication.sendEvent(canvas, event)

    for y, pressure in ((70, 0.1), (210, 1.0)):
        tablet(QTabletEvent.Type.TabletPress, 30, y, pressure)
        tablet(QTabletEvent.Type.TabletMove, 140, y, pressure)
        tablet(QTabletEvent.Type.TabletMove, 250, y, pressure)
        tablet(QTabletEvent.Type.TabletRelease, 250, y, pressure)
    assert canvas.stroke_count == 2
    image = canvas.image_array()
    scale = image.shape[0] / CANVAS_SIZE
    light = image[: int(140 * scale), int(140 * scale)].sum() / scale
    firm = image[int(140 * scale):, int(140 * scale)].sum() / scale
    assert light < 0.6 * DEFAULT_BRUSH < firm


def test_show_sample_scales_with_nearest_neighbour_and_drawing_replaces_it(qtbot, canvas):
    sample = np.zeros((8, 8), dtype=np.float32)
    sample[::2, ::2] = 1.0
    sample[1, 1] = 0.5
    changed = []
    canvas.imageChanged.connect(lambda: changed.append(1))
    canvas.show_sample(sample)
    assert canvas.showing_sample and changed == []
    image = canvas.image_array()
    cell = image.shape[0] / 8
    centres = image[(np.arange(8) * cell + cell / 2).astype(int)][:, (np.arange(8) * cell + cell / 2).astype(int)]
    np.testing.assert_allclose(centres, sample, atol=1 / 255)
    with qtbot.waitSignal(canvas.drawingStarted, timeout=1000):
        drag(qtbot, canvas, [(40, 140), (240, 140)])
    assert not canvas.showing_sample
    assert canvas.image_array()[0:int(cell), 0:int(cell)].max() == 0  # the sample is gone


# -- issue 15, item 9: the hint goes with the first stroke; a clear can be undone ---------------

def on_screen(widget) -> np.ndarray:
    """What the window system shows of ``widget`` (its backing store), as grey levels (H, W):
    unlike ``grab()``, which paints the widget afresh, this keeps whatever a partial repaint left."""
    QApplication.processEvents()
    image = widget.screen().grabWindow(widget.winId()).toImage().convertToFormat(
        QImage.Format.Format_Grayscale8)
    view = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return view[:, :image.width()].copy()


@contextmanager
def use_theme(name: str):
    """The light or dark theme while the block runs, then back to System (not remembered)."""
    theme_manager().apply(name, remember=False)
    try:
        yield name
    finally:
        theme_manager().apply("system", remember=False)


@pytest.fixture(params=["light", "dark"])
def theme(request):
    """The test runs in the light and in the dark theme."""
    with use_theme(request.param):
        yield request.param


def screen_ink(widget, grey):
    """Grey levels read off a canvas's screen as ink: 0 = paper, 255 = full ink. The screen
    shows white ink on black in a dark theme and black ink on white paper in a light one
    (the image handed to the model is white on black in both)."""
    return grey if is_dark(widget.palette()) else 255 - grey


def ink_on_screen(canvas) -> np.ndarray:
    """:func:`on_screen` as ink levels (:func:`screen_ink`), whatever the theme."""
    return screen_ink(canvas, on_screen(canvas).astype(np.int16)).astype(np.uint8)


def hint_band(pixels: np.ndarray) -> np.ndarray:
    """The middle rows where "Draw a digit here" is written (logical 128..152 of 280)."""
    scale = pixels.shape[0] / CANVAS_SIZE
    return pixels[int(128 * scale):int(152 * scale), int(60 * scale):int(220 * scale)]


def test_the_hint_disappears_with_the_first_stroke(qtbot, theme, canvas):
    assert is_dark(canvas.palette()) == (theme == "dark")
    paper = 0 if theme == "dark" else 255  # the screen's paper: black in a dark theme, white in a light one
    scale = on_screen(canvas).shape[0] / CANVAS_SIZE
    assert on_screen(canvas)[int(10 * scale), int(140 * scale)] == paper
    assert hint_band(ink_on_screen(canvas)).max() > 60  # the grey hint is on screen
    # The first stroke, far from the hint: pressing and moving the mouse in a corner.
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(30, 30))
    qtbot.mouseMove(canvas, QPoint(45, 40))
    assert hint_band(ink_on_screen(canvas)).max() == 0  # gone at once, not at the next full repaint
    assert ink_on_screen(canvas)[int(35 * scale), int(37 * scale)] > 200  # the stroke itself is on screen
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(45, 40))
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert canvas.is_empty() and hint_band(ink_on_screen(canvas)).max() > 60  # empty again: the hint is back


def test_ctrl_z_brings_back_what_a_clear_removed_then_undoes_strokes(qtbot, canvas):
    drag(qtbot, canvas, [(140, 30), (140, 250)])
    one = canvas.image_array().copy()
    drag(qtbot, canvas, [(30, 140), (250, 140)])
    two = canvas.image_array().copy()
    qtbot.keyClick(canvas, Qt.Key.Key_Escape)
    assert canvas.is_empty() and canvas.undo_text() == "Undo clear"

    changes = []
    canvas.imageChanged.connect(lambda: changes.append(1))
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert canvas.stroke_count == 2 and changes == [1]  # the prediction follows at once
    np.testing.assert_array_equal(canvas.image_array(), two)
    assert canvas.undo_text() == "Undo stroke"
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(canvas.image_array(), one)

    # A stroke drawn after a clear is undone first; the clear after it.
    qtbot.keyClick(canvas, Qt.Key.Key_Delete)
    drag(qtbot, canvas, [(30, 200), (250, 200)])
    qtbot.keySequence(canvas, QKeySequence(QKeySequence.StandardKey.Undo))
    assert canvas.is_empty()
    qtbot.keySequence(canvas, QKeySequence(QKeySequence.StandardKey.Undo))
    np.testing.assert_array_equal(canvas.image_array(), one)
    qtbot.keySequence(canvas, QKeySequence(QKeySequence.StandardKey.Undo))
    assert canvas.is_empty() and canvas.undo_text() is None
    assert not canvas.undo()  # nothing left to take back
    qtbot.keyClick(canvas, Qt.Key.Key_Escape)  # clearing an empty canvas adds nothing to undo
    assert canvas.undo_text() is None


def test_the_right_click_menu_names_the_undo_and_clears(qtbot, canvas):
    menu = canvas.context_menu()
    undo, clear = menu.actions()
    assert not undo.isEnabled() and not clear.isEnabled()  # empty: nothing to undo or clear
    drag(qtbot, canvas, [(140, 30), (140, 250)])
    menu = canvas.context_menu()
    undo, clear = menu.actions()
    assert undo.text().startswith("Undo stroke") and clear.isEnabled()
    clear.trigger()
    assert canvas.is_empty()
    undo = canvas.context_menu().actions()[0]
    assert undo.text().startswith("Undo clear\t") and undo.isEnabled()
    undo.trigger()
    assert canvas.stroke_count == 1


def test_undo_after_the_clear_button_in_the_draw_tab(qtbot, document):
    from nnstudio.widgets.draw.draw_panel import DrawPanel

    panel = DrawPanel(document)
    qtbot.addWidget(panel)
    with qtbot.waitActive(panel):
        panel.show()
        panel.activateWindow()
    drag(qtbot, panel.canvas, [(140, 30), (140, 250)])
    drawn = panel.canvas.image_array().copy()
    qtbot.mouseClick(panel.findChild(QPushButton, "clearCanvasButton"), Qt.MouseButton.LeftButton)
    assert panel.canvas.is_empty()
    focused = QApplication.focusWidget()
    assert focused is panel.canvas  # Ctrl+Z right after clicking Clear goes to the canvas
    qtbot.keyClick(focused, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(panel.canvas.image_array(), drawn)
