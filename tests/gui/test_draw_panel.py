"""The Draw tab: real mouse strokes on the canvas -> preprocessing -> prediction -> bars.

Also holds ``handwritten_digit``: synthetic handwriting-like mouse strokes for 0-9 (several
styles, random slant, size, position and wobble), used to check the shipped model reads
digits drawn through the real canvas.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QObject, QPoint, Qt
from PySide6.QtGui import QAction, QContextMenuEvent
from PySide6.QtWidgets import QApplication, QMenu

from core import Network
from core.data import load_dataset
from core.data.drawing import center_of_mass
from nnstudio.controllers import prediction
from nnstudio.state.user_dataset import UserDrawings
from nnstudio.widgets.draw.draw_panel import DRAW_PROMPT, DrawPanel

# --------------------------------------------------------------------------- synthetic handwriting


def _arc(cx, cy, rx, ry, start, end, n=24):
    """Points of an elliptic arc; angles in degrees, 0 = right, 90 = up (y grows down)."""
    t = np.deg2rad(np.linspace(start, end, n))
    return np.stack([cx + rx * np.cos(t), cy - ry * np.sin(t)], axis=1)


def _line(*points):
    return np.array(points, dtype=float)


def _join(*parts):
    return np.concatenate(parts)


#: Each digit: styles, each a list of strokes, each (m, 2) points (x right, y down) in a
#: unit box (the digit's height is 1).
DIGIT_STYLES: dict[int, list[list[np.ndarray]]] = {
    0: [[_arc(0.5, 0.5, 0.3, 0.48, 95, 455)],
        [_arc(0.5, 0.5, 0.36, 0.46, 80, 430)]],
    1: [[_line((0.52, 0.0), (0.48, 1.0))],
        [_line((0.3, 0.22), (0.55, 0.0), (0.5, 1.0))],
        [_line((0.35, 0.2), (0.55, 0.0), (0.52, 1.0)), _line((0.3, 1.0), (0.75, 1.0))]],
    2: [[_join(_arc(0.48, 0.27, 0.3, 0.25, 160, -30), _line((0.72, 0.45), (0.12, 1.0), (0.88, 1.0)))],
        [_join(_arc(0.5, 0.3, 0.32, 0.28, 170, -45), _line((0.65, 0.55), (0.15, 0.98), (0.9, 0.95)))],
        [_join(_arc(0.5, 0.28, 0.3, 0.27, 165, -40), _line((0.7, 0.48), (0.2, 0.88)),
               _arc(0.3, 0.9, 0.1, 0.08, 135, -45), _line((0.37, 0.95), (0.9, 0.98)))]],
    3: [[_join(_arc(0.48, 0.25, 0.3, 0.24, 150, -90), _arc(0.48, 0.74, 0.34, 0.25, 90, -150))],
        [_join(_line((0.15, 0.02), (0.8, 0.02), (0.42, 0.42)), _arc(0.45, 0.7, 0.35, 0.28, 90, -160))]],
    4: [[_line((0.62, 0.0), (0.1, 0.66), (0.92, 0.66)), _line((0.66, 0.3), (0.66, 1.0))],
        [_line((0.2, 0.0), (0.15, 0.55), (0.88, 0.55)), _line((0.72, 0.05), (0.7, 1.0))]],
    5: [[_line((0.82, 0.0), (0.25, 0.0), (0.2, 0.44)), _arc(0.48, 0.7, 0.34, 0.3, 120, -150)],
        [_join(_line((0.8, 0.02), (0.28, 0.02), (0.24, 0.45)), _arc(0.48, 0.7, 0.34, 0.3, 125, -160))]],
    6: [[_join(_line((0.75, 0.0), (0.35, 0.38)), _arc(0.5, 0.72, 0.3, 0.28, 160, -190))],
        [_join(_arc(0.75, 0.6, 0.55, 0.6, 100, 180), _arc(0.48, 0.74, 0.28, 0.26, 180, -170))]],
    7: [[_line((0.1, 0.02), (0.9, 0.02), (0.4, 1.0))],
        [_join(_line((0.1, 0.08), (0.85, 0.02)), _arc(0.05, 0.02, 0.8, 0.98, 0, -60))],
        [_line((0.12, 0.05), (0.88, 0.0), (0.45, 1.0)), _line((0.45, 0.52), (0.85, 0.5))]],
    8: [[np.stack([0.5 + 0.3 * np.sin(2 * t), 0.5 - 0.49 * np.cos(t)], axis=1)
         for t in [np.linspace(0, 2 * np.pi + 0.2, 48)]],
        [_arc(0.5, 0.24, 0.24, 0.23, 270, 630), _arc(0.5, 0.73, 0.3, 0.26, 90, 450)]],
    9: [[_join(_arc(0.45, 0.28, 0.28, 0.27, -10, 360), _line((0.73, 0.3), (0.66, 1.0)))],
        [_join(_arc(0.48, 0.28, 0.3, 0.26, 0, 350), _arc(0.2, 0.3, 0.58, 0.7, 0, -80))],
        [_arc(0.45, 0.27, 0.27, 0.25, 20, 380), _line((0.72, 0.15), (0.7, 1.0))]],
}


def handwritten_digit(digit: int, rng: np.random.Generator, canvas: int = 280) -> list[np.ndarray]:
    """Mouse strokes (canvas pixels) for ``digit`` in a random style, slant, size, position
    and wobble, sampled like a mouse (unevenly spaced events, some far apart)."""
    styles = DIGIT_STYLES[digit]
    strokes = styles[int(rng.integers(len(styles)))]
    height = rng.uniform(130, 230)
    width_scale = rng.uniform(0.75, 1.05)
    slant = rng.uniform(-0.25, 0.1)  # x += slant * (y - 0.5): mostly right-leaning
    angle = np.deg2rad(rng.uniform(-8, 8))
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    out = []
    for stroke in strokes:
        # Resample along the path, then add a smooth wobble.
        seg = np.linalg.norm(np.diff(stroke, axis=0), axis=1)
        s = np.concatenate([[0], np.cumsum(seg)])
        n = max(4, int(s[-1] * 25))
        t = np.sort(rng.uniform(0, s[-1], n)) if n > 4 else np.linspace(0, s[-1], n)
        t = np.concatenate([[0], t, [s[-1]]])
        pts = np.stack([np.interp(t, s, stroke[:, 0]), np.interp(t, s, stroke[:, 1])], axis=1)
        wobble = np.cumsum(rng.normal(0, 0.006, pts.shape), axis=0)
        pts = pts + wobble - wobble.mean(axis=0)
        pts[:, 0] = 0.5 + (pts[:, 0] - 0.5) * width_scale + slant * (pts[:, 1] - 0.5)
        pts = (pts - 0.5) @ rot.T * height
        out.append(pts)
    allpts = np.concatenate(out)
    lo, hi = allpts.min(axis=0), allpts.max(axis=0)
    margin = 12
    offset = rng.uniform(margin - lo, canvas - margin - hi) if np.all(hi - lo < canvas - 2 * margin) \
        else (canvas - (hi + lo)) / 2
    return [np.clip(p + offset, 2, canvas - 3) for p in out]


def draw(qtbot, canvas, strokes) -> None:
    """Draw strokes with real mouse events: press, moves carrying the left button, release."""
    for stroke in strokes:
        points = [QPoint(round(float(x)), round(float(y))) for x, y in stroke]
        qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=points[0])
        for p in points[1:]:
            qtbot.mouseMove(canvas, p)
        qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=points[-1])


def right_click(widget, pos: QPoint) -> None:
    """The context-menu event a right-click produces (QTest's clicks do not make one)."""
    event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos, widget.mapToGlobal(pos))
    QApplication.sendEvent(widget, event)


def vertical_one(x=140):
    return [np.array([[x + 4, 50], [x + 2, 110], [x, 170], [x - 2, 230]], dtype=float)]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def panel(qtbot, document):
    widget = DrawPanel(document, seed=0)
    qtbot.addWidget(widget)
    widget.resize(900, 520)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def shipped() -> Network:
    network = prediction.shipped_model()
    assert network is not None, prediction.shipped_model_error()
    return network


# --------------------------------------------------------------------------- tests


def test_panel_starts_empty_with_the_shipped_model(panel):
    assert panel.objectName() == "drawPanel"
    for name in ("digitCanvas", "clearCanvasButton", "inputPreview", "probabilityBars", "predictionLabel",
                 "randomSampleButton", "brushWidthSpin", "modelLabel"):
        assert panel.findChild(QObject, name) is not None, name
    assert panel.prediction_label.text() == DRAW_PROMPT
    assert panel.preview.array is None
    assert panel.bars.highlighted is None and panel.bars.values.sum() == 0
    # The default document's network is not trained: no snapshot, so the shipped model reads.
    assert panel.predictor.shipped
    assert panel.model_label.text().startswith("Predicting: Shipped model (MNIST CNN, 99.")


def test_drawing_a_one_updates_preview_and_bars(qtbot, panel):
    with qtbot.waitSignal(panel.canvas.imageChanged, timeout=2000):
        draw(qtbot, panel.canvas, vertical_one())
    assert panel.prediction is not None
    assert panel.prediction.top == 1
    assert panel.prediction_label.text().startswith("1 — ")
    assert panel.bars.highlighted == 1
    assert panel.bars.values.sum() == pytest.approx(1.0, abs=1e-4)
    preview = panel.preview.array
    assert preview.shape == (28, 28) and preview.max() > 0.9
    row, col = center_of_mass(preview)
    assert abs(row - 14) <= 0.5 and abs(col - 14) <= 0.5
    # Well under 20 ms from the canvas change to updated bars (preprocess + predict + show).
    assert panel.last_timing["predict"] + panel.last_timing["display"] < 0.05


def test_preview_follows_the_stroke_while_drawing(qtbot, panel):
    canvas = panel.canvas
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(60, 140))
    for x in range(70, 230, 10):
        qtbot.mouseMove(canvas, QPoint(x, 140))
    qtbot.waitUntil(lambda: panel.preview.array is not None, timeout=2000)  # throttled update, button still down
    assert canvas.stroke_count == 0  # the stroke is still being drawn
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(230, 140))
    assert canvas.stroke_count == 1


def test_clear_empties_everything(qtbot, panel):
    draw(qtbot, panel.canvas, vertical_one())
    assert panel.prediction is not None
    qtbot.mouseClick(panel.clear_button, Qt.MouseButton.LeftButton)
    assert panel.prediction_label.text() == DRAW_PROMPT
    assert panel.preview.array is None and panel.bars.highlighted is None
    assert panel.canvas.image_array().max() == 0


def test_undo_removes_the_last_stroke(qtbot, panel):
    draw(qtbot, panel.canvas, vertical_one())
    one = panel.canvas.image_array().copy()
    draw(qtbot, panel.canvas, [np.array([[60, 60], [220, 60]], float)])
    assert panel.canvas.stroke_count == 2
    qtbot.keyClick(panel.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert panel.canvas.stroke_count == 1
    np.testing.assert_array_equal(panel.canvas.image_array(), one)
    assert panel.prediction.top == 1


def test_brush_width_changes_stroke_thickness(qtbot, panel):
    masses = []
    for width in (8, 30):
        panel.brush_spin.setValue(width)
        qtbot.mouseClick(panel.clear_button, Qt.MouseButton.LeftButton)
        draw(qtbot, panel.canvas, [np.array([[60, 140], [220, 140]], float)])
        image = panel.canvas.image_array()
        column = image[:, image.shape[1] // 2]
        masses.append(column.sum() / (image.shape[0] / 280))  # stroke width in logical px
    assert masses[0] == pytest.approx(8, abs=1.5)
    assert masses[1] == pytest.approx(30, abs=1.5)


def test_show_sample_predicts_the_sample_directly(qtbot, panel, mnist_dir, monkeypatch):
    monkeypatch.setenv("NNSTUDIO_DATA", str(mnist_dir))
    data = load_dataset("mnist", layout="image")
    image = data.x_test[0, 0]
    panel.show_sample(image, "MNIST test sample #1 — label 7")
    assert panel.canvas.showing_sample
    np.testing.assert_array_equal(panel.preview.array, image)  # no canvas preprocessing
    expected = shipped().predict_proba(image.reshape(1, 1, 28, 28))[0]
    np.testing.assert_allclose(panel.bars.values, expected, rtol=1e-5, atol=1e-6)
    assert panel.prediction.top == 7
    assert panel.sample_label.text() == "MNIST test sample #1 — label 7"
    # Drawing replaces the sample.
    draw(qtbot, panel.canvas, vertical_one())
    assert not panel.canvas.showing_sample and panel.sample_label.text() == ""
    assert panel.prediction.top == 1


def test_clearing_a_shown_sample_from_the_keyboard_forgets_it(qtbot, panel):
    sample = np.zeros((28, 28), dtype=np.float32)
    sample[4:24, 13:15] = 1.0
    panel.show_sample(sample, "a bar")
    assert panel.prediction is not None and panel.sample_label.text() == "a bar"
    panel.canvas.setFocus()
    qtbot.keyClick(panel.canvas, Qt.Key.Key_Escape)
    assert panel.prediction_label.text() == DRAW_PROMPT and panel.sample_label.text() == ""
    draw(qtbot, panel.canvas, [np.array([[40, 60], [240, 60], [120, 240]], float)])  # a 7
    assert panel.prediction.top == 7
    assert panel.preview.array.shape == (28, 28) and not np.array_equal(panel.preview.array, sample)


def test_random_sample_button_shows_a_test_image(qtbot, panel, mnist_dir, monkeypatch):
    monkeypatch.setenv("NNSTUDIO_DATA", str(mnist_dir))
    qtbot.mouseClick(panel.random_button, Qt.MouseButton.LeftButton)
    # The default document trains on 8×8 digits, the shipped model reads 28×28: MNIST it is.
    assert panel.sample_label.text().startswith("MNIST test sample #")
    assert panel.preview.array.shape == (28, 28)
    label = int(panel.sample_label.text().rsplit(" ", 1)[1])
    assert panel.prediction is not None and 0 <= label <= 9


def test_users_network_predicts_when_its_input_fits(qtbot, panel, document):
    # A digits8x8 MLP as the snapshot: the panel switches to it and the 8×8 recipe.
    net = Network.from_spec({"input_shape": [64], "layers": [{"type": "Dense", "units": 10},
                                                             {"type": "Activation", "function": "softmax"}],
                             "loss": "cross_entropy", "optimizer": {"type": "Adam", "learning_rate": 0.01}})
    data = load_dataset("digits8x8")
    net.fit(data.x, data.y, epochs=3, batch_size=32)
    with qtbot.waitSignal(document.snapshotChanged, timeout=1000):
        document.set_snapshot(net.inference_copy())
    assert not panel.predictor.shipped and panel.predictor.mode == "digits8x8"
    assert panel.model_label.text() == "Predicting: Your network (epoch 3)"
    inputs = []
    panel.networkInputChanged.connect(inputs.append)
    draw(qtbot, panel.canvas, vertical_one())
    assert panel.preview.array.shape == (8, 8)
    # The activations view gets the exact input of the document's network.
    assert inputs[-1].shape == (1, 64) and inputs[-1].dtype == np.float32
    np.testing.assert_array_equal(inputs[-1].reshape(8, 8), panel.preview.array)
    assert panel.bars.values.sum() == pytest.approx(1.0, abs=1e-4)
    # A network that cannot take a drawing: back to the shipped model, and the label says why.
    points = Network.from_spec({"input_shape": [2], "layers": [{"type": "Dense", "units": 2}]})
    document.set_snapshot(points)
    assert panel.predictor.shipped
    assert "input (2,) cannot take a drawing" in panel.model_label.text()
    assert panel.preview.array.shape == (28, 28)
    assert inputs[-1] is None  # the shipped model's input does not fit the document's network


def test_right_click_adds_the_drawing_to_the_training_set(qtbot, panel, document):
    messages = []
    document.message.connect(lambda text, level, details: messages.append((text, level)))
    before = UserDrawings.load().count
    menu = panel.prediction_menu()
    assert not menu.findChild(QMenu, "addDrawingLabelMenu").isEnabled()  # nothing drawn yet
    draw(qtbot, panel.canvas, vertical_one())
    right_click(panel.prediction_label, QPoint(5, 5))
    menu = panel._menu
    qtbot.waitUntil(menu.isVisible, timeout=2000)
    default = menu.defaultAction()
    assert default.text() == "Add this drawing to the training set as label 1"
    submenu = menu.findChild(QMenu, "addDrawingLabelMenu")
    assert [a.text() for a in submenu.actions()] == [str(k) for k in range(10)]
    submenu.findChild(QAction, "addDrawingLabel4").trigger()  # the user says it is a 4
    menu.close()
    store = UserDrawings.load()
    assert store.count == before + 1
    images, labels = store.as_arrays()
    assert labels[-1] == 4
    np.testing.assert_allclose(images[-1], panel.preview.array, atol=1 / 255 + 1e-6)
    assert messages[-1][1] == "info" and "as a 4" in messages[-1][0]
    assert panel.drawings_label.text().startswith(f"Your drawings: {before + 1}")


def test_right_click_on_the_bars_opens_the_same_menu(qtbot, panel):
    draw(qtbot, panel.canvas, vertical_one())
    right_click(panel.bars.viewport(), QPoint(100, 60))
    qtbot.waitUntil(lambda: panel._menu is not None and panel._menu.isVisible(), timeout=2000)
    assert panel._menu.defaultAction().text().endswith("label 1")
    panel._menu.close()


def test_a_corrupt_drawings_file_is_kept_and_reported(qtbot, panel, document):
    from nnstudio.state.user_dataset import default_path

    path = default_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    original = path.read_bytes() if path.exists() else None
    try:
        path.write_bytes(b"not a zip")
        messages = []
        document.message.connect(lambda text, level, details: messages.append((text, level)))
        draw(qtbot, panel.canvas, vertical_one())
        assert not panel.add_drawing(1)
        assert messages[-1][1] == "error" and "cannot be read" in messages[-1][0]
        assert path.read_bytes() == b"not a zip"  # nothing overwritten
    finally:
        if original is None:
            path.unlink()
        else:
            path.write_bytes(original)


def test_shipped_model_reads_handwriting_drawn_with_the_mouse(qtbot, panel):
    """Synthetic handwriting (2 per digit per style) through real mouse events and the real
    canvas: the shipped model must read nearly all of it."""
    rng = np.random.default_rng(2024)
    wrong = []
    total = 0
    for digit in range(10):
        for _ in range(3):
            qtbot.mouseClick(panel.clear_button, Qt.MouseButton.LeftButton)
            draw(qtbot, panel.canvas, handwritten_digit(digit, rng))
            total += 1
            if panel.prediction.top != digit:
                wrong.append((digit, panel.prediction.text()))
    assert len(wrong) <= 1, wrong


# --------------------------------------------------------------------------- the drawings store


def test_user_drawings_round_trip_without_pickle(tmp_path):
    path = tmp_path / "d" / "mine.npz"
    store = UserDrawings.load(path)
    assert store.count == 0 and not path.exists()
    image = np.zeros((28, 28))
    image[4:24, 13:15] = 1.0
    store.add(image, 1)
    store.add(image * 0.5, 7)
    again = UserDrawings.load(path)
    assert again.count == 2 and again.counts_per_label()[[1, 7]].tolist() == [1, 1]
    images, labels = again.as_arrays()
    assert images.dtype == np.float32 and images.shape == (2, 28, 28) and labels.tolist() == [1, 7]
    np.testing.assert_allclose(images[1], image * 0.5, atol=1 / 255)
    with np.load(path, allow_pickle=False) as data:  # plain arrays
        assert data["images"].dtype == np.uint8 and data["labels"].dtype == np.int64


def test_user_drawings_refuse_bad_input_and_keep_what_they_have(tmp_path):
    from core.data import DataError

    path = tmp_path / "mine.npz"
    store = UserDrawings.load(path)
    store.add(np.ones((28, 28)), 3)
    for image, label, message in [(np.ones((8, 8)), 3, "28×28"), (np.ones((28, 28)), 10, "0..9"),
                                  (np.ones((28, 28)), True, "0..9"), (np.full((28, 28), np.nan), 3, "NaN")]:
        with pytest.raises(DataError, match=message):
            store.add(image, label)
    assert UserDrawings.load(path).count == 1
    np.savez(path, images=np.zeros((2, 28, 28), np.uint8), labels=np.array([1, 12]))
    with pytest.raises(DataError, match="bad labels"):
        UserDrawings.load(path)


def test_hint_when_the_drawing_is_too_small_or_faint(qtbot, panel):
    hint = panel.quality_label
    assert not hint.isVisible()
    # A small 3 in a corner: read, but the tab says to draw larger.
    draw(qtbot, panel.canvas, [np.array([[20, 20], [50, 20], [35, 38], [50, 55], [20, 60]], float)])
    qtbot.waitUntil(lambda: hint.isVisible(), timeout=2000)
    assert "Draw the digit larger" in hint.text()
    qtbot.mouseClick(panel.clear_button, Qt.MouseButton.LeftButton)
    assert not hint.isVisible()
    # Large, with the thinnest brush: faint once scaled to the network's size.
    panel.brush_spin.setFocus()
    panel.brush_spin.selectAll()
    qtbot.keyClicks(panel.brush_spin, "4")
    assert panel.canvas.brush_width == 4
    draw(qtbot, panel.canvas, [*vertical_one(), np.array([[60, 40], [220, 40], [120, 250]], float)])
    qtbot.waitUntil(lambda: hint.isVisible(), timeout=2000)
    assert hint.text().startswith("⚠ Faint")
    # An ordinary digit: no hint.
    qtbot.mouseClick(panel.clear_button, Qt.MouseButton.LeftButton)
    panel.brush_spin.selectAll()
    qtbot.keyClicks(panel.brush_spin, "24")
    draw(qtbot, panel.canvas, vertical_one())
    assert panel.prediction is not None and not hint.isVisible()
