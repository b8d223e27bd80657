"""The Draw canvas paints through core's brush: what it shows the network for real mouse
and tablet events is, pixel for pixel, what core.data.brush.render_strokes renders for the
same strokes (so pen digits rendered in core for training look exactly like drawings)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QPointingDevice, QTabletEvent
from PySide6.QtWidgets import QApplication

from core.data.brush import CANVAS_SIZE, render_strokes
from core.data.pen import load_pen_digits, place_on_canvas
from nnstudio.widgets.draw.digit_canvas import DigitCanvas

SIDE = 400  # not the default 280: a mouse pixel is 0.7 canvas units


@pytest.fixture
def canvas(qtbot):
    widget = DigitCanvas()
    qtbot.addWidget(widget)
    widget.set_side(SIDE)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def grey_levels(canvas: DigitCanvas) -> np.ndarray:
    """The canvas's image back in 0..255 (image_array is uint8 / 255)."""
    return np.rint(canvas.image_array() * 255).astype(np.uint8)


def replay(qtbot, canvas: DigitCanvas, strokes: list[np.ndarray]) -> list[np.ndarray]:
    """Drag the mouse through each stroke's widget positions (n, 2) (press, moves, release);
    returns the whole-pixel positions sent, stroke by stroke."""
    sent = []
    for points in strokes:
        pixels = np.round(points).astype(int)
        keep = np.ones(len(pixels), dtype=bool)
        keep[1:] = np.any(pixels[1:] != pixels[:-1], axis=1)  # a mouse that stays sends no move
        pixels = pixels[keep]
        qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(*pixels[0]))
        for x, y in pixels[1:]:
            qtbot.mouseMove(canvas, QPoint(x, y))
        qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(*pixels[-1]))
        sent.append(pixels)
    return sent


def test_mouse_strokes_on_a_resized_canvas_are_rendered_exactly_by_core(qtbot, canvas):
    canvas.set_brush_width(19)
    # Two real pen digits (one of two strokes), placed on the canvas as a mouse at this side
    # would draw them, plus a click (a single dot).
    bundled = load_pen_digits()
    digits = [next(d for d in bundled if len(d.strokes) == 2), bundled[0]]
    rng = np.random.default_rng(7)
    widget_strokes = [points * (SIDE / CANVAS_SIZE) for d in digits for points, _ in place_on_canvas(d, rng)]
    widget_strokes.append(np.array([[37.0, 351.0]]))
    sent = replay(qtbot, canvas, widget_strokes)
    assert canvas.stroke_count == len(widget_strokes) == 4

    shown = grey_levels(canvas)
    assert shown.max() == 255 and canvas.device_ratio == 1.0
    # 1. core renders the canvas's own recorded strokes to the same pixels.
    recorded = canvas.strokes_array()
    assert np.array_equal(shown, render_strokes(recorded, ratio=canvas.device_ratio))
    # 2. and the strokes computed from the mouse positions alone: widget pixels × 280/side,
    #    the brush width at every point.
    from_mouse = [(pixels * (CANVAS_SIZE / SIDE), np.full(len(pixels), 19.0)) for pixels in sent]
    for (points, widths), (expected_points, expected_widths) in zip(recorded, from_mouse, strict=True):
        assert np.array_equal(points, expected_points) and np.array_equal(widths, expected_widths)
    assert np.array_equal(shown, render_strokes(from_mouse))


def test_undo_and_a_high_dpi_screen_keep_the_image_equal_to_core(qtbot, canvas, monkeypatch):
    replay(qtbot, canvas, [np.array([[50, 60], [300, 90], [120, 330]]), np.array([[200, 40], [210, 380]])])
    canvas.undo()
    assert np.array_equal(grey_levels(canvas), render_strokes(canvas.strokes_array()))
    assert canvas.stroke_count == 1
    monkeypatch.setattr(canvas, "devicePixelRatioF", lambda: 1.5)
    canvas.clear()
    canvas.undo()  # the strokes come back, repainted at the new ratio
    shown = grey_levels(canvas)
    assert shown.shape == (420, 420) and canvas.device_ratio == 1.5
    assert np.array_equal(shown, render_strokes(canvas.strokes_array(), ratio=1.5))


def test_tablet_pressure_sets_each_points_width_and_core_renders_it(qtbot, canvas):
    device = QPointingDevice.primaryPointingDevice()

    def tablet(kind, x, y, pressure):
        pos = QPointF(x, y)
        event = QTabletEvent(kind, device, pos, QPointF(canvas.mapToGlobal(pos)), pressure, 0.0, 0.0, 0.0, 0.0, 0.0,
                             Qt.KeyboardModifier.NoModifier, Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton)
        QApplication.sendEvent(canvas, event)

    canvas.set_brush_width(30)
    pressures = [0.0, 0.2, 0.5, 0.8, 1.0, 1.3]  # 1.3: a driver's out-of-range value is clamped
    for i, pressure in enumerate(pressures):
        kind = QTabletEvent.Type.TabletPress if i == 0 else QTabletEvent.Type.TabletMove
        tablet(kind, 40 + 60 * i, 200 + 10 * i, pressure)
    tablet(QTabletEvent.Type.TabletRelease, 340, 250, 0.0)
    (points, widths), = canvas.strokes_array()
    expected = [30 * (0.35 + 0.9 * min(p, 1.0)) for p in pressures]
    assert widths == pytest.approx(expected)
    assert points[:, 0] == pytest.approx([(40 + 60 * i) * CANVAS_SIZE / SIDE for i in range(6)])
    shown = grey_levels(canvas)
    assert np.array_equal(shown, render_strokes(canvas.strokes_array()))
    # Thin where the pen was light, thick where it pressed: the ink across the stroke (a
    # segment takes the width of its end point; the stroke rises 1 in 6, so a column cuts
    # it sqrt(1 + 1/36) times wider than its width).
    scale = CANVAS_SIZE / SIDE
    slope = np.sqrt(1 + 1 / 36)
    light = shown[:, round(70 * scale)].sum() / 255  # segment 0 -> 1, pressure 0.2
    firm = shown[:, round(310 * scale)].sum() / 255  # segment 4 -> 5, pressure 1.3 -> 1
    assert light == pytest.approx(30 * (0.35 + 0.9 * 0.2) * slope, abs=0.5)
    assert firm == pytest.approx(30 * 1.25 * slope, abs=0.5)
