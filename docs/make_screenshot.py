"""Render the README screenshots from the real main window, offscreen.

    python docs/make_screenshot.py            # writes docs/screenshot*.png

Trains the default network (8×8 digits) for its configured epochs through the real
controller, then captures the Train, Draw (with a digit drawn by synthetic mouse strokes)
and Evaluate tabs. Uses a temporary settings folder, never the user's.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["NNSTUDIO_HOME"] = tempfile.mkdtemp(prefix="nnstudio-shot-")

from PySide6.QtCore import QEventLoop, QPoint, Qt, QTimer  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

OUT = Path(__file__).resolve().parent


def wait_for(signal, timeout_ms: int) -> None:
    loop = QEventLoop()
    signal.connect(loop.quit)
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()


def settle(ms: int = 300) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def draw_seven(canvas) -> None:
    """A handwritten-looking 7: a top bar and a slanted stem, as real mouse drags."""
    w, h = canvas.width(), canvas.height()
    strokes = [[(0.28, 0.25), (0.45, 0.24), (0.62, 0.23), (0.72, 0.24)],
               [(0.72, 0.24), (0.64, 0.40), (0.56, 0.56), (0.49, 0.72), (0.45, 0.80)]]
    for stroke in strokes:
        points = [QPoint(int(x * w), int(y * h)) for x, y in stroke]
        QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[0])
        for a, b in zip(points, points[1:]):
            for t in range(1, 9):
                p = a + (b - a) * (t / 8)
                QTest.mouseMove(canvas, p)
        QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[-1])


def main() -> int:
    app = QApplication.instance() or QApplication(sys.argv)
    from nnstudio.dialogs import Dialogs
    from nnstudio.main_window import MainWindow
    from nnstudio.settings import configure_application_names

    class DiscardOnClose(Dialogs):
        def ask_save_changes(self, name: str) -> str:
            return "discard"

    configure_application_names()
    window = MainWindow(dialogs=DiscardOnClose())
    window.resize(1400, 860)
    window.show()
    settle()
    window.controller.start()
    wait_for(window.controller.runFinished, 120_000)
    settle(500)
    window.tabs.setCurrentWidget(window.dashboard)
    settle()
    window.grab().save(str(OUT / "screenshot.png"))

    window.tabs.setCurrentWidget(window.draw_panel)
    settle()
    canvas = window.draw_panel.findChild(type(window.draw_panel.canvas), "digitCanvas") \
        if hasattr(window.draw_panel, "canvas") else None
    if canvas is not None:
        draw_seven(canvas)
    settle(500)
    window.grab().save(str(OUT / "screenshot-draw.png"))

    window.tabs.setCurrentWidget(window.evaluation_panel)
    settle(1500)
    window.grab().save(str(OUT / "screenshot-evaluate.png"))
    window.close()
    print(f"wrote {', '.join(p.name for p in sorted(OUT.glob('screenshot*.png')))} in {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
