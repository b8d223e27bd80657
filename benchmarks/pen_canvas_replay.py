"""Real pen handwriting through the real canvas: how often does the Draw tab read it right?

Every digit of the held-out pen writers (``core.data.pen.HELD_OUT_WRITERS``: people the
shipped model never saw) is replayed as mouse events on the Draw tab's ``digitCanvas`` of
the real ``MainWindow`` at its default size (offscreen): a press at each stroke's first
point, a move to every following point, a release at its last, exactly as a mouse drag
delivers them (whole widget pixels). After the digit the script reads the prediction the
tab shows (the text of ``predictionLabel``, e.g. "7 — 98.6%"), then clears the canvas with
Esc, as a user would.

Placement: the tablet's y axis flipped, the digit scaled so its height is ``--height`` of
the canvas's side (default 0.65; its width at most 0.9 of the side) and centred.

    # the shipped model (no document open: the Draw tab reads with it)
    python benchmarks/pen_canvas_replay.py
    # a model file, opened as the document (the Draw tab reads with the document's network)
    python benchmarks/pen_canvas_replay.py --model path/to/model.nnz
    # the 8×8 mode: first trains an MLP 64-128-10 on "Pen digits (drawn)" at 8×8 (the training
    # writers, as a user would in the app), then replays through the canvas with it
    python benchmarks/pen_canvas_replay.py --train-8x8

Prints overall and per-digit accuracy (and the confusions), and exits 1 when a target is
missed (≥ 98 % overall, ≥ 94 % for every digit) unless ``--no-gate``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("NNSTUDIO_HOME", tempfile.mkdtemp(prefix="nnstudio-bench-"))  # never the user's settings
_REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_REPO))

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from core.data.pen import HELD_OUT_WRITERS, PenDigit, pen_digits_path, read_unipen
from nnstudio.main_window import DEFAULT_SIZE, MainWindow

TARGET_OVERALL, TARGET_PER_DIGIT = 0.98, 0.94


def widget_points(digit: PenDigit, side: int, height: float) -> list[list[tuple[int, int]]]:
    """The digit's strokes in whole widget pixels: y flipped, scaled to ``height`` × side
    (width at most 0.9 × side), centred."""
    everything = np.concatenate(digit.strokes)
    low, high = everything.min(axis=0), everything.max(axis=0)
    extent = np.maximum(high - low, 1.0)
    scale = min(height * side / extent[1], 0.9 * side / extent[0])
    centre = (low + high) / 2
    strokes = []
    for stroke in digit.strokes:
        x = (stroke[:, 0] - centre[0]) * scale + side / 2
        y = side / 2 - (stroke[:, 1] - centre[1]) * scale
        points = [(round(float(a)), round(float(b))) for a, b in zip(x, y, strict=True)]
        strokes.append(points)
    return strokes


def replay(canvas, strokes: list[list[tuple[int, int]]]) -> None:
    """Mouse drags on the canvas, one per stroke (repeated positions are not re-sent: a
    mouse does not report a move to where it is)."""
    for points in strokes:
        QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(*points[0]))
        last = points[0]
        for p in points[1:]:
            if p != last:
                QTest.mouseMove(canvas, QPoint(*p))
                last = p
        QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(*last))


def train_8x8_reader() -> Path:
    """An MLP 64-128-10 trained on "Pen digits (drawn)" at 8×8 (training writers only), saved
    to a temporary model file; prints its accuracy on the held-out writers' rendered test set."""
    from core import Network, save_model
    from core.data import load_dataset

    data = load_dataset("pendigits", mode="digits8x8", layout="flat")
    spec = {"input_shape": [64], "layers": [
        {"type": "Dense", "units": 128}, {"type": "Activation", "function": "relu"},
        {"type": "Dense", "units": 10}, {"type": "Activation", "function": "softmax"}],
        "loss": "cross_entropy", "optimizer": {"type": "Adam", "learning_rate": 0.002}, "seed": 0}
    net = Network.from_spec(spec)
    net.fit(data.x, data.y, epochs=40, batch_size=32)
    net.metadata = {"class_names": list(data.class_names), "preprocessing": dict(data.preprocessing)}
    print(f"8×8 reader: {net.evaluate(data.x_test, data.y_test)['accuracy']:.4f} on the held-out writers' "
          "rendered test set", flush=True)
    path = Path(tempfile.mkdtemp(prefix="nnstudio-8x8-")) / "pen8x8.nnz"
    save_model(net, path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="open this model file as the document")
    parser.add_argument("--writers", type=int, nargs="*", default=list(HELD_OUT_WRITERS),
                        help="writer ids to replay (default: the held-out writers)")
    parser.add_argument("--height", type=float, default=0.65, help="digit height as a fraction of the canvas side")
    parser.add_argument("--brush", type=int, default=None, help="brush width (default: the canvas's default)")
    parser.add_argument("--window", default=None, help="window size WxH (default: the default window size)")
    parser.add_argument("--limit", type=int, default=None, help="replay only the first N digits")
    parser.add_argument("--train-8x8", action="store_true",
                        help="train an 8×8 reader on the pen digits' training writers and replay with it")
    parser.add_argument("--no-gate", action="store_true", help="always exit 0")
    args = parser.parse_args(argv)

    if args.train_8x8:
        args.model = train_8x8_reader()
    digits = [d for d in read_unipen(pen_digits_path()) if d.writer in set(args.writers)][:args.limit]
    app = QApplication.instance() or QApplication([])
    window = MainWindow()
    window.resize(*(tuple(int(v) for v in args.window.split("x")) if args.window else DEFAULT_SIZE))
    window.show()
    if args.model is not None:
        window.open_path(str(args.model))
    window.tabs.setCurrentWidget(window.draw_panel)
    app.processEvents()
    panel, canvas = window.draw_panel, window.draw_panel.canvas
    if args.brush is not None:
        panel.brush_spin.setValue(args.brush)
    side = canvas.side()
    print(f"window {window.width()}×{window.height()}, canvas side {side} px, brush {canvas.brush_width:g}, "
          f"model: {panel.predictor.description if panel.predictor else 'none'}", flush=True)

    right, total, confusions = Counter(), Counter(), Counter()
    latencies = []  # canvas change -> bars: preprocessing + prediction + display, per digit
    start = time.perf_counter()
    for digit in digits:
        replay(canvas, widget_points(digit, side, args.height))
        app.processEvents()
        shown = panel.prediction_label.text().split("—")[0].strip()
        latencies.append(panel.last_timing.get("predict", 0.0) + panel.last_timing.get("display", 0.0))
        total[digit.label] += 1
        if shown == str(digit.label):
            right[digit.label] += 1
        else:
            confusions[(digit.label, shown)] += 1
        QTest.keyClick(canvas, Qt.Key.Key_Escape)
    seconds = time.perf_counter() - start

    n, correct = sum(total.values()), sum(right.values())
    print(f"{n} digits from writers {sorted(set(d.writer for d in digits))} in {seconds:.0f} s")
    print(f"overall: {correct}/{n} = {100 * correct / n:.2f}%")
    worst = 1.0
    for label in sorted(total):
        accuracy = right[label] / total[label]
        worst = min(worst, accuracy)
        print(f"  digit {label}: {right[label]}/{total[label]} = {100 * accuracy:.1f}%")
    ms = 1000 * np.array(latencies)
    print(f"canvas -> bars (preprocessing, prediction, display) after the last stroke: median {np.median(ms):.2f} ms, "
          f"95th percentile {np.percentile(ms, 95):.2f} ms, max {ms.max():.2f} ms "
          f"(digit {int(ms.argmax()) + 1} of {len(ms)}), {int((ms > 5).sum())} over 5 ms")
    print("most frequent misreads (true → shown):",
          ", ".join(f"{a}→{b} ×{k}" for (a, b), k in confusions.most_common(10)) or "none")
    window.close()
    met = correct / n >= TARGET_OVERALL and worst >= TARGET_PER_DIGIT
    print(f"targets (≥ {100 * TARGET_OVERALL:g}% overall, ≥ {100 * TARGET_PER_DIGIT:g}% per digit): "
          f"{'met' if met else 'MISSED'}")
    return 0 if met or args.no_gate else 1


if __name__ == "__main__":
    sys.exit(main())
