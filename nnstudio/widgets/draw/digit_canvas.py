"""A square canvas to draw a digit on, round anti-aliased brush (core's brush).

The image always holds white ink on black (what the model's preprocessing expects); the
screen shows it as is in a dark theme and inverted, black ink on white paper, in a light one.

The strokes are painted by :func:`core.data.brush.paint_segment` into a NumPy uint8 buffer
at the screen's device-pixel ratio (crisp on high-DPI screens); the screen shows that buffer
through a QImage wrapping its bytes, and ``image_array()`` hands it to core converted to
[0, 1]. The widget computes no ink itself: what it shows and what the network reads is, by
construction, what :func:`core.data.brush.render_strokes` renders for the same strokes
(``strokes_array()``), which is how training data is made.

The widget's side follows the window (``set_side``, the Draw tab sizes it), but the drawing
does not: strokes are kept in *canvas units*, a fixed ``CANVAS_SIZE``-square coordinate
system, and painted into an image of ``CANVAS_SIZE`` canvas units whatever the widget's
size; the screen shows that image scaled. So the same drawing gives the same image, and the
network the same 28×28 input, in a small window and a large one; the brush width is in
canvas units too (a stroke keeps its thickness relative to the canvas).

Strokes are line segments between successive mouse (or tablet) positions with round caps
and joins, so a fast mouse still draws a continuous stroke. A tablet's pressure scales the
width. Keys while the canvas has focus: Ctrl+Z (the platform's Undo) takes back the last
change — a stroke, or a clear (the strokes come back) — and Esc or Delete clears. The
canvas claims those keys through ``ShortcutOverride`` so they win over the window's own
Ctrl+Z (the document's undo) only while it has focus. The right-click menu offers the same
("Undo stroke" / "Undo clear", "Clear").

The hint "Draw a digit here" is painted on screen only, over an empty canvas: the first
point of a stroke repaints the whole canvas so the hint goes at once (a partial repaint
around the new segment would leave the rest of it on screen).

``imageChanged`` is throttled: the first change of a burst starts a 30 ms timer and the
canvas emits when it fires, so a prediction follows the pen about 30 times a second while
drawing; releasing the button emits at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QContextMenuEvent,
    QImage,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QTabletEvent,
)
from PySide6.QtWidgets import QMenu, QSizePolicy, QWidget

from core.data.brush import (
    CANVAS_SIZE,
    DEFAULT_BRUSH,
    MAX_BRUSH,
    MAX_SIDE,
    MIN_BRUSH,
    MIN_SIDE,
    image_side,
    paint_segment,
)
from nnstudio.theme import is_dark, is_palette_event
from nnstudio.widgets.draw.input_preview import array_to_qimage

# CANVAS_SIZE (the drawing's coordinate system), DEFAULT_BRUSH, MIN_BRUSH, MAX_BRUSH and the
# widget's side range MIN_SIDE, MAX_SIDE live in core.data.brush (training data is rendered
# with them) and are re-exported here.
__all__ = ["CANVAS_SIZE", "DEFAULT_BRUSH", "MAX_BRUSH", "MAX_SIDE", "MIN_BRUSH", "MIN_SIDE", "DigitCanvas", "Stroke"]

THROTTLE_MS = 30


@dataclass
class Stroke:
    """One pen-down-to-pen-up stroke: points in canvas units and the width at each."""

    points: list[QPointF] = field(default_factory=list)
    widths: list[float] = field(default_factory=list)


class DigitCanvas(QWidget):
    """Square drawing surface, ``side()`` logical pixels on screen (280 by default).
    ``image_array()`` -> (H, W) float32 in [0, 1] where H = W = ``CANVAS_SIZE`` × device-pixel
    ratio, at any on-screen side."""

    imageChanged = Signal()
    #: Drawing started over a shown sample (the panel switches back to drawing mode).
    drawingStarted = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("digitCanvas")
        self._side = CANVAS_SIZE
        self.setFixedSize(CANVAS_SIZE, CANVAS_SIZE)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setAccessibleName("Digit canvas")
        self.setToolTip("Draw a digit with the mouse or a pen.\n"
                        "Ctrl+Z: undo the last stroke or clear; Esc/Delete: clear; right-click: menu")
        self._brush = float(DEFAULT_BRUSH)
        self._strokes: list[Stroke] = []
        #: What Ctrl+Z takes back, last change last: None for a stroke drawn, or the strokes
        #: a clear removed.
        self._history: list[list[Stroke] | None] = []
        self._current: Stroke | None = None
        self._sample: QImage | None = None
        #: The drawing's grey levels, (S, S) uint8 with S = round(CANVAS_SIZE × ratio).
        self._ratio_used = self._ratio()
        self._buffer = self._blank_buffer()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(THROTTLE_MS)
        self._timer.timeout.connect(self.imageChanged)

    # -- public API ----------------------------------------------------------------------------
    def sizeHint(self) -> QSize:
        return QSize(self._side, self._side)

    def side(self) -> int:
        """The widget's side on screen, in logical pixels."""
        return self._side

    def set_side(self, side: int) -> None:
        """Show the canvas ``side`` logical pixels square (clamped to [MIN_SIDE, MAX_SIDE]).
        The drawing, its image and the network's input do not change."""
        side = int(min(max(side, MIN_SIDE), MAX_SIDE))
        if side != self._side:
            self._side = side
            self.setFixedSize(side, side)
            self.update()

    def to_canvas(self, pos: QPointF) -> QPointF:
        """A widget position (logical pixels) in canvas units."""
        return QPointF(pos) * (CANVAS_SIZE / self._side)

    @property
    def brush_width(self) -> float:
        """Pen width in canvas units (before tablet pressure)."""
        return self._brush

    def set_brush_width(self, width: float) -> None:
        """Applies to strokes drawn from now on (drawn strokes keep their width)."""
        self._brush = float(min(max(width, MIN_BRUSH), MAX_BRUSH))

    @property
    def stroke_count(self) -> int:
        return len(self._strokes)

    @property
    def showing_sample(self) -> bool:
        return self._sample is not None

    def is_empty(self) -> bool:
        return not self._strokes and self._current is None

    def image_array(self) -> np.ndarray:
        """The drawing's grey levels: (H, W) float32 in [0, 1] at the device-pixel ratio."""
        return self._buffer.astype(np.float32) / np.float32(255)

    @property
    def device_ratio(self) -> float:
        """The device-pixel ratio the image is painted at (image pixels per canvas unit)."""
        return self._ratio_used

    def strokes_array(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The finished strokes as core takes them (:func:`core.data.brush.render_strokes`):
        per stroke (points (n, 2) float64 x, y in canvas units, widths (n,) float64)."""
        return [(np.array([(p.x(), p.y()) for p in stroke.points], dtype=np.float64).reshape(-1, 2),
                 np.array(stroke.widths, dtype=np.float64)) for stroke in self._strokes]

    def clear(self) -> None:
        """Remove every stroke (and a shown sample); emits imageChanged at once. ``undo``
        brings the strokes back."""
        if self._current is not None:
            self._end()
        if self._strokes:
            self._history.append(list(self._strokes))
        self._strokes.clear()
        self._sample = None
        self._redraw()
        self._emit_now()

    def undo_text(self) -> str | None:
        """What ``undo`` would take back: "Undo stroke", "Undo clear", or None (nothing)."""
        if not self._history:
            return None
        return "Undo stroke" if self._history[-1] is None else "Undo clear"

    def undo(self) -> bool:
        """Take back the last change: remove the last stroke, or bring back the strokes the
        last clear removed. False when there is nothing to take back."""
        if not self._history or self._current is not None:
            return False
        change = self._history.pop()
        if change is None:
            self._strokes.pop()
        else:
            self._sample = None
            self._strokes = list(change)
        self._redraw()
        self._emit_now()
        return True

    #: The older name (the last change used to always be a stroke).
    undo_stroke = undo

    def show_sample(self, image: np.ndarray) -> None:
        """Show a dataset sample (s, s) in [0, 1] scaled up to the canvas (nearest neighbour,
        so its pixels stay visible). The strokes are cleared; drawing replaces the sample.
        Does not emit imageChanged (the sample is predicted directly by the panel)."""
        self._strokes.clear()
        self._history.clear()  # drawing over a sample starts afresh
        self._current = None
        self._sample = array_to_qimage(image)
        self._redraw()

    # -- painting into the image ---------------------------------------------------------------
    def _ratio(self) -> float:
        return max(1.0, float(self.devicePixelRatioF()))

    def _blank_buffer(self) -> np.ndarray:
        side = image_side(CANVAS_SIZE, self._ratio_used)
        return np.zeros((side, side), dtype=np.uint8)

    def _buffer_image(self) -> QImage:
        """A QImage over the buffer's bytes (no copy): valid while the buffer lives, so it is
        made where it is drawn."""
        side = self._buffer.shape[0]
        image = QImage(self._buffer.data, side, side, side, QImage.Format.Format_Grayscale8)
        image.setDevicePixelRatio(self._ratio_used)
        return image

    def _paint_point(self, stroke: Stroke, i: int) -> None:
        """Paint point i of a stroke: a dot for the first point, else the segment from i-1."""
        a = stroke.points[i - 1] if i > 0 else stroke.points[0]
        b = stroke.points[i]
        paint_segment(self._buffer, (a.x(), a.y()), (b.x(), b.y()), stroke.widths[i], self._ratio_used)

    def _paint_sample(self) -> None:
        """The shown sample scaled up into the buffer (nearest neighbour: its pixels stay
        visible). Qt scales it into an image of the buffer's size, whose bytes are copied."""
        assert self._sample is not None
        side = self._buffer.shape[0]
        scaled = QImage(side, side, QImage.Format.Format_Grayscale8)
        scaled.fill(0)
        painter = QPainter(scaled)
        painter.drawImage(QRectF(0, 0, side, side), self._sample)
        painter.end()
        rows = np.frombuffer(scaled.constBits(), dtype=np.uint8).reshape(side, scaled.bytesPerLine())
        self._buffer[:] = rows[:, :side]

    def _redraw(self) -> None:
        """Repaint the whole image from the stroke list (after undo, clear, DPI change)."""
        self._ratio_used = self._ratio()
        self._buffer = self._blank_buffer()
        if self._sample is not None:
            self._paint_sample()
        for stroke in self._strokes + ([self._current] if self._current else []):
            for i in range(len(stroke.points)):
                self._paint_point(stroke, i)
        self.update()

    def _add_point(self, pos: QPointF, pressure: float | None) -> None:
        width = self._brush if pressure is None else self._brush * (0.35 + 0.9 * min(max(pressure, 0.0), 1.0))
        stroke = self._current
        if stroke is None:
            return
        stroke.points.append(QPointF(pos))
        stroke.widths.append(width)
        self._paint_point(stroke, len(stroke.points) - 1)
        # Repaint only around the new segment (canvas units to widget pixels).
        a = stroke.points[-2] if len(stroke.points) > 1 else pos
        margin = width / 2 + 2
        scale = self._side / CANVAS_SIZE
        area = QRectF(a * scale, pos * scale).normalized()
        self.update(area.adjusted(-margin * scale, -margin * scale, margin * scale, margin * scale).toAlignedRect())
        if not self._timer.isActive():
            self._timer.start()

    def _begin(self, pos: QPointF, pressure: float | None) -> None:
        hint_shown = self.is_empty() and self._sample is None
        if self._sample is not None:
            self._sample = None
            self._redraw()
            self.drawingStarted.emit()
        self._current = Stroke()
        self._add_point(pos, pressure)
        if hint_shown:
            self.update()  # the whole canvas: the hint goes, not just the pixels under the pen

    def _end(self) -> None:
        if self._current is not None:
            self._strokes.append(self._current)
            self._history.append(None)
            self._current = None
            self._emit_now()

    def _emit_now(self) -> None:
        self._timer.stop()
        self.imageChanged.emit()

    # -- events ----------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        side = float(self._side)
        # The drawing's image scaled to the widget (smoothly: strokes stay round at any size).
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self._sample is None)
        painter.drawImage(QRectF(0, 0, side, side), self._buffer_image())
        if not is_dark(self.palette()):  # light theme: invert on screen only (255 - grey)
            painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Difference)
            painter.fillRect(QRectF(0, 0, side, side), Qt.GlobalColor.white)
            painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceOver)
        if self.is_empty() and self._sample is None:  # on screen only, never in the image
            painter.setPen(QColor(110, 110, 110))
            painter.drawText(QRectF(0, 0, side, side), Qt.AlignmentFlag.AlignCenter, "Draw a digit here")
        if self.hasFocus():  # a thin focus frame: keyboard users see where Ctrl+Z goes
            painter.setPen(QPen(self.palette().highlight().color(), 1))
            painter.drawRect(QRectF(0.5, 0.5, side - 1, side - 1))
        painter.end()

    def focusInEvent(self, event) -> None:
        super().focusInEvent(event)
        self.update()  # the focus frame

    def focusOutEvent(self, event) -> None:
        super().focusOutEvent(event)
        self.update()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.setFocus(Qt.FocusReason.MouseFocusReason)
            self._begin(self.to_canvas(event.position()), None)
            event.accept()
        else:
            super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        # Qt sends press, then this for a quick second press: the press already began the
        # stroke (QWidget's default would begin it a second time).
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._current is not None and event.buttons() & Qt.MouseButton.LeftButton:
            self._add_point(self.to_canvas(event.position()), None)
            event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._current is not None:
            pos = self.to_canvas(event.position())
            if pos != self._current.points[-1]:
                self._add_point(pos, None)
            self._end()
            event.accept()

    def tabletEvent(self, event: QTabletEvent) -> None:
        kind = event.type()
        if kind == QEvent.Type.TabletPress:
            self.setFocus(Qt.FocusReason.MouseFocusReason)
            self._begin(self.to_canvas(event.position()), event.pressure())
        elif kind == QEvent.Type.TabletMove and self._current is not None:
            self._add_point(self.to_canvas(event.position()), event.pressure())
        elif kind == QEvent.Type.TabletRelease:
            self._end()
        event.accept()  # no synthesised mouse events: the pen already drew

    def _canvas_key(self, event: QKeyEvent) -> str | None:
        if event.matches(QKeySequence.StandardKey.Undo):
            return "undo"
        if event.key() in (Qt.Key.Key_Escape, Qt.Key.Key_Delete) and not event.modifiers():
            return "clear"
        return None

    def event(self, event: QEvent) -> bool:  # Qt's name
        # Claim Ctrl+Z / Esc / Delete before window shortcuts see them (only with focus).
        if event.type() == QEvent.Type.ShortcutOverride and self._canvas_key(event) is not None:
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        action = self._canvas_key(event)
        if action == "undo":
            self.undo()
        elif action == "clear":
            self.clear()
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        menu = self.context_menu()
        menu.exec(event.globalPos())
        menu.deleteLater()

    def context_menu(self) -> QMenu:
        """The right-click menu: undo the last change (named after it) and clear."""
        menu = QMenu(self)
        menu.setObjectName("digitCanvasMenu")
        # Keys shown after a tab, not bound: the canvas handles them itself (no second shortcut).
        undo_key = QKeySequence(QKeySequence.StandardKey.Undo).toString(QKeySequence.SequenceFormat.NativeText)
        undo = menu.addAction(f"{self.undo_text() or 'Undo'}\t{undo_key}")
        undo.setObjectName("canvasUndoAction")
        undo.setEnabled(self.undo_text() is not None)
        undo.triggered.connect(self.undo)
        clear = menu.addAction("Clear\tEsc")
        clear.setObjectName("canvasClearAction")
        clear.setEnabled(not self.is_empty() or self._sample is not None)
        clear.triggered.connect(self.clear)
        return menu

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._check_ratio()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.DevicePixelRatioChange:  # moved to another screen
            self._check_ratio()
        elif is_palette_event(event):  # theme switched: ink and paper swap on screen
            self.update()

    def _check_ratio(self) -> None:
        """Re-render the strokes when the screen's device-pixel ratio differs from the image's."""
        if abs(self._ratio_used - self._ratio()) > 1e-6:
            self._redraw()
