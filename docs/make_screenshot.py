"""Render screenshots from the real main window, offscreen.

    python docs/make_screenshot.py            # the README's: docs/screenshot*.png
    python docs/make_screenshot.py --all      # every tab, 3 sizes, light and dark -> shots/
    python docs/make_screenshot.py --all --out DIR --sizes 1024x640,1920x1080 --themes dark

Trains the default network (8×8 digits) for its configured epochs through the real
controller, then captures the Train, Draw (with a digit drawn by synthetic mouse strokes)
and Evaluate tabs, then the Step-through tab on the MNIST CNN preset with the drawn 7 traced
and a pixel of the first convolution clicked (screenshot-step-through.png). With ``--all``
(implied by ``--out``) it also runs the gradient check and
captures every main tab and every Evaluate sub-tab at each window size (default 1024×640,
the default 1400×860 and 1920×1080) in each theme, as ``<theme>-<W>x<H>-<tab>.png`` in the
output folder (default ``shots/`` at the repository root, which git ignores). Uses a
temporary settings folder, never the user's.
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import sys
import tempfile
from pathlib import Path

_HOME = tempfile.mkdtemp(prefix="nnstudio-shot-")
os.environ["NNSTUDIO_HOME"] = _HOME
if "QT_QPA_PLATFORM" not in os.environ:
    # Offscreen with a screen larger than the largest window (the plugin's default is 800×800).
    _SCREEN = Path(_HOME) / "offscreen-screen.json"
    _SCREEN.write_text('{"screens": [{"name": "shot", "x": 0, "y": 0, "width": 2560, "height": 1600, '
                       '"logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}')
    os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={_SCREEN}"

from PySide6.QtCore import QEventLoop, QPoint, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

OUT = Path(__file__).resolve().parent
REPO = OUT.parent
DEFAULT_SHOTS = REPO / "shots"
SIZES = ((1024, 640), (1400, 860), (1920, 1080))
THEMES = ("light", "dark")


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
        for a, b in itertools.pairwise(points):
            for t in range(1, 9):
                p = a + (b - a) * (t / 8)
                QTest.mouseMove(canvas, p)
        QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[-1])


def draw_on_canvas(window) -> None:
    """Show the Draw tab and draw a 7 on its canvas with the mouse."""
    window.tabs.setCurrentWidget(window.draw_panel)
    settle()
    canvas = window.draw_panel.findChild(type(window.draw_panel.canvas), "digitCanvas") \
        if hasattr(window.draw_panel, "canvas") else None
    if canvas is not None:
        draw_seven(canvas)
    settle(500)


def trace_the_drawing(window, label: int = 7) -> None:
    """Step-through tab: trace the Draw tab's drawing with ``label``, click the brightest pixel of
    the first layer's output (its formula, input window and kernel appear)."""
    import numpy as np

    view = window.step_view
    window.tabs.setCurrentWidget(view)
    view.source_combo.setCurrentIndex(view.source_combo.findData("drawing"))
    view.label_spin.setValue(label)
    view.trace()
    wait_for(view.controller.traced, 60_000)
    settle()
    if view.result is None:
        return
    out = view.result.trace.layers[0].output[0]
    index = tuple(int(i) for i in np.unravel_index(np.argmax(out), out.shape))
    target = view.stage_view("output", 0)
    point = target.point_of(index)
    QTest.mouseClick(target, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, point)
    wait_for(view.controller.explained, 60_000)
    settle()


def step_through_screenshot(window) -> None:
    """docs/screenshot-step-through.png: the MNIST CNN preset (untrained) with the drawn 7."""
    from nnstudio.state.presets import load_presets

    cnn = next(p for p in load_presets() if p.key == "05-mnist-cnn")
    window.document.reset(cnn.state())
    settle()
    trace_the_drawing(window)
    window.grab().save(str(OUT / "screenshot-step-through.png"))


def readme_screenshots(window) -> None:
    """docs/screenshot.png (Train), screenshot-draw.png (a drawn 7), screenshot-evaluate.png."""
    window.tabs.setCurrentWidget(window.dashboard)
    settle()
    window.grab().save(str(OUT / "screenshot.png"))

    draw_on_canvas(window)
    window.grab().save(str(OUT / "screenshot-draw.png"))

    window.tabs.setCurrentWidget(window.evaluation_panel)
    settle(1500)
    window.grab().save(str(OUT / "screenshot-evaluate.png"))
    step_through_screenshot(window)
    print(f"wrote {', '.join(p.name for p in sorted(OUT.glob('screenshot*.png')))} in {OUT}")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Render nnstudio screenshots offscreen.")
    parser.add_argument("--all", action="store_true",
                        help="every tab at every size in every theme (besides the README screenshots)")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"folder for --all (default {DEFAULT_SHOTS}); implies --all")
    parser.add_argument("--sizes", default=",".join(f"{w}x{h}" for w, h in SIZES),
                        help="window sizes for --all, e.g. 1024x640,1920x1080")
    parser.add_argument("--themes", default=",".join(THEMES), help="themes for --all: light, dark or both")
    args = parser.parse_args(argv)
    try:
        args.sizes = [tuple(int(v) for v in size.lower().split("x")) for size in args.sizes.split(",")]
        if any(len(size) != 2 for size in args.sizes):
            raise ValueError
    except ValueError:
        parser.error(f"--sizes wants WIDTHxHEIGHT items separated by commas, not {args.sizes!r}")
    args.themes = [t.strip() for t in args.themes.split(",")]
    if any(t not in THEMES for t in args.themes):
        parser.error(f"--themes wants light and/or dark, not {','.join(args.themes)!r}")
    if args.out is not None:
        args.all = True
    args.out = args.out or DEFAULT_SHOTS
    return args


def slug(text: str) -> str:
    """'Weights && activations' -> 'weights-activations'."""
    return re.sub(r"[^a-z0-9]+", "-", text.replace("&&", "").replace("&", "").lower()).strip("-")


def every_tab(window):
    """(name, select) for each main tab and, for Evaluate, each of its own tabs."""
    shots = []
    for i in range(window.tabs.count()):
        name = slug(window.tabs.tabText(i))
        if window.tabs.widget(i) is window.evaluation_panel:
            inner = window.evaluation_panel.tabs
            for j in range(inner.count()):
                shots.append((f"{name}-{slug(inner.tabText(j))}",
                              lambda i=i, j=j, inner=inner: (window.tabs.setCurrentIndex(i), inner.setCurrentIndex(j))))
        else:
            shots.append((name, lambda i=i: window.tabs.setCurrentIndex(i)))
    return shots


def render_all(window, out: Path, sizes, themes) -> list[Path]:
    """Every tab × size × theme into ``out``; returns the files written."""
    from nnstudio.theme import theme_manager

    out.mkdir(parents=True, exist_ok=True)
    draw_on_canvas(window)
    view = window.evaluation_panel.grad_check_view
    window.tabs.setCurrentWidget(window.evaluation_panel)
    window.evaluation_panel.tabs.setCurrentWidget(view)
    settle()
    if view.run_check():
        wait_for(view.checkFinished, 60_000)
    trace_the_drawing(window)
    written = []
    for theme in themes:
        theme_manager().apply(theme, remember=False)
        for width, height in sizes:
            window.resize(width, height)
            settle(300)
            for name, select in every_tab(window):
                select()
                settle(250)
                path = out / f"{theme}-{width}x{height}-{name}.png"
                window.grab().save(str(path))
                written.append(path)
    theme_manager().apply("light", remember=False)
    return written


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    from nnstudio.dialogs import Dialogs
    from nnstudio.main_window import MainWindow
    from nnstudio.settings import configure_application_names

    class DiscardOnClose(Dialogs):
        def ask_save_changes(self, name: str) -> str:
            return "discard"

    configure_application_names()
    from nnstudio.theme import theme_manager

    theme_manager(app).apply("light", remember=False)  # the README shows the light theme
    window = MainWindow(dialogs=DiscardOnClose())
    window.resize(1400, 860)
    window.show()
    settle()
    window.controller.start()
    wait_for(window.controller.finished, 120_000)
    settle(500)
    if args.all:  # the folder only: the README's files stay as they are
        written = render_all(window, args.out, args.sizes, args.themes)
        print(f"wrote {len(written)} screenshots in {args.out}")
    else:
        readme_screenshots(window)
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
