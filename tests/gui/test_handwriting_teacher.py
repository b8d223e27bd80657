""""Teach it your handwriting" in the Draw tab: real mouse strokes on ``digitCanvas``, Next
(button and Enter), Teach, the result, Keep / Discard; and the drawing reader saved beside
the model file."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

import core.training.finetune as finetune
from core.data import load_dataset
from nnstudio.state.document import Document, drawing_reader_path
from nnstudio.widgets.draw.draw_panel import READER_DESCRIPTION, DrawPanel
from tests.gui.test_draw_panel import draw, handwritten_digit, shipped


@pytest.fixture(autouse=True)
def own_home(monkeypatch, tmp_path):
    """A settings folder of this test's own: drawings other tests kept with right-click (in the
    session's folder) would otherwise be offered to the teacher too."""
    monkeypatch.setenv("NNSTUDIO_HOME", str(tmp_path / "home"))


@pytest.fixture
def panel(qtbot, document):
    widget = DrawPanel(document, seed=0)
    qtbot.addWidget(widget)
    widget.resize(1100, 700)
    widget.show()
    qtbot.waitExposed(widget)
    widget.activateWindow()
    yield widget
    assert widget.shutdown(30_000)


def click(qtbot, widget) -> None:
    assert widget.isVisible() and widget.isEnabled(), widget.objectName()
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def open_teacher(qtbot, panel, per_digit: int):
    click(qtbot, panel.teach_button)
    teacher = panel.teacher
    assert teacher.isVisible() and teacher.objectName() == "handwritingTeacher"
    assert teacher.prompt_label.text() == "Draw a 0" and teacher.count_label.text() == f"1 / {teacher.total}"
    spin = teacher.per_digit_spin
    spin.setFocus()
    while spin.value() > per_digit:  # the keyboard, as a user would
        qtbot.keyClick(spin, Qt.Key.Key_Down)
    assert teacher.total == 10 * per_digit
    return teacher


def draw_all(qtbot, panel, teacher, rng, use_enter_every: int = 2) -> None:
    """Answer every prompt with a mouse-drawn digit; Next by Enter on the canvas or the button."""
    for i in range(teacher.total):
        digit = teacher.current_digit
        assert teacher.prompt_label.text() == f"Draw a {digit}"
        assert teacher.count_label.text() == f"{i + 1} / {teacher.total}"
        draw(qtbot, panel.canvas, handwritten_digit(digit, rng))
        if i % use_enter_every == 0:
            qtbot.keyClick(panel.canvas, Qt.Key.Key_Return)
        else:
            click(qtbot, teacher.next_button)
        assert panel.canvas.is_empty()  # cleared for the next drawing
    assert teacher.current_digit is None and teacher.prompt_label.text().startswith("All done")


def train_document_network(document: Document):
    """Give the default document (8×8 digits MLP) a trained network; the Draw tab reads with it."""
    data = load_dataset("digits8x8")
    network = document.network_for_training()
    network.fit(data.x, data.y, epochs=5, batch_size=32)
    document.network_trained(network)
    return network


def test_asking_next_skip_back_and_the_drawings_collected(qtbot, panel):
    assert panel.teacher.per_digit == 5 and not panel.teacher.isVisible()  # 5 per digit by default
    teacher = open_teacher(qtbot, panel, per_digit=2)
    assert panel.teacher.per_digit_spin.maximum() == 10
    rng = np.random.default_rng(0)
    # Next with an empty canvas keeps nothing and says why.
    click(qtbot, teacher.next_button)
    assert teacher.current_digit == 0 and "Draw a 0 on the canvas first" in teacher.note_label.text()
    draw(qtbot, panel.canvas, handwritten_digit(0, rng))
    qtbot.keyClick(panel.canvas, Qt.Key.Key_Return)
    assert teacher.current_digit == 1 and teacher.drawings_count == 1
    click(qtbot, teacher.skip_button)
    assert teacher.current_digit == 2 and teacher.drawings_count == 1
    draw(qtbot, panel.canvas, handwritten_digit(2, rng))
    click(qtbot, teacher.next_button)
    assert teacher.count_label.text() == "4 / 20"
    click(qtbot, teacher.back_button)  # redo the 2
    assert teacher.current_digit == 2 and teacher.drawings_count == 1
    draw(qtbot, panel.canvas, handwritten_digit(2, rng))
    click(qtbot, teacher.next_button)
    x, y = teacher.training_set()
    assert x.shape == (2, 1, 28, 28) and y.tolist() == [0, 2]  # the shipped model's input
    assert x.max() > 0.9  # the preprocessed drawing, as the network reads it
    assert teacher.teach_button.isEnabled() and teacher.teach_button.text() == "&Teach (2)"
    # Close: nothing was taught, the panel goes and the button comes back.
    click(qtbot, teacher.close_button)
    assert not teacher.isVisible() and panel.teach_button.isEnabled()


def test_teach_and_keep_tunes_the_documents_network_as_one_undoable_edit(qtbot, panel, document):
    own = train_document_network(document)
    assert not panel.predictor.shipped and panel.predictor.mode == "digits8x8"
    before_weights = {k: v.copy() for k, v in own.get_weights().items()}
    base_snapshot = panel.predictor.network
    teacher = open_teacher(qtbot, panel, per_digit=2)
    draw_all(qtbot, panel, teacher, np.random.default_rng(1))
    x, _ = teacher.training_set()
    assert x.shape == (20, 64)  # the 8×8 recipe of the document's network
    with qtbot.waitSignal(panel.tuner.finished, timeout=60_000):
        click(qtbot, teacher.teach_button)
        assert teacher.step() == "teaching" and teacher.progress_bar.isVisible()
    assert teacher.step() == "result"
    result = teacher.result
    assert result.held_back == 10 and result.trained_on == 10
    assert teacher.result_label.text() == (f"Your held-back drawings: {100 * result.before_accuracy:.0f}% → "
                                           f"{100 * result.after_accuracy:.0f}%")
    # Until Keep, the model the Draw tab reads with is the base, unchanged.
    assert document.network is own and panel.predictor.network is base_snapshot
    for key, value in before_weights.items():
        np.testing.assert_array_equal(own.get_weights()[key], value)
    click(qtbot, teacher.keep_button)
    assert not teacher.isVisible()
    assert document.network is result.network and document.network is not own
    assert panel.predictor.network is not base_snapshot and not panel.predictor.shipped
    np.testing.assert_array_equal(panel.predictor.network.get_weights()["layers.0.W"],
                                  result.network.get_weights()["layers.0.W"])
    assert document.network.history.epochs == own.history.epochs  # its curves are kept
    assert document.undo_stack.undoText() == "Teach your handwriting" and document.modified
    document.undo()
    assert document.network is own
    for key, value in before_weights.items():
        np.testing.assert_array_equal(own.get_weights()[key], value)


def test_shipped_model_discard_leaves_it_and_keep_makes_a_drawing_reader(qtbot, panel, document, monkeypatch,
                                                                       tmp_path):
    monkeypatch.setattr(finetune, "MIN_STEPS", 0)  # a short run: 20 drawings of the shipped CNN
    base = shipped()
    base_weights = {k: v.copy() for k, v in base.get_weights().items()}
    assert panel.predictor.shipped and panel.predictor.network is base
    for answer in ("discard", "keep"):
        teacher = open_teacher(qtbot, panel, per_digit=2)
        draw_all(qtbot, panel, teacher, np.random.default_rng(2))
        with qtbot.waitSignal(panel.tuner.finished, timeout=120_000):
            click(qtbot, teacher.teach_button)
        assert teacher.step() == "result" and teacher.result_label.text().startswith("Your held-back drawings: ")
        tuned = teacher.result.network
        click(qtbot, teacher.discard_button if answer == "discard" else teacher.keep_button)
        for key, value in base_weights.items():  # the shared shipped model is never changed
            np.testing.assert_array_equal(base.get_weights()[key], value)
        if answer == "discard":
            assert panel.predictor.network is base and document.drawing_reader is None
            assert not document.modified
    # Keep: the document's own network (untrained) is untouched; the Draw tab reads with the tuned copy.
    assert document.network is None and document.drawing_reader is tuned
    assert panel.predictor.network is tuned and panel.predictor.description == READER_DESCRIPTION
    assert panel.model_label.text() == f"Predicting: {READER_DESCRIPTION}"
    # Saved beside the model file, and back when the document is opened again.
    path = tmp_path / "mine.nnz"
    document.save(path)
    assert drawing_reader_path(path).is_file()
    reopened = Document()
    reopened.open_file(path)
    assert reopened.wait_for_dataset(10_000)
    reader = reopened.drawing_reader
    assert reader is not None
    np.testing.assert_array_equal(reader.get_weights()["layers.0.W"], tuned.get_weights()["layers.0.W"])
    # Undo forgets it: the shipped model reads again.
    document.undo()
    assert document.drawing_reader is None and panel.predictor.network is base


def test_cancel_returns_to_asking_with_the_model_unchanged(qtbot, panel, monkeypatch):
    monkeypatch.setattr(finetune, "MIN_STEPS", 100_000)  # runs until cancelled
    teacher = open_teacher(qtbot, panel, per_digit=1)
    draw_all(qtbot, panel, teacher, np.random.default_rng(3))
    with qtbot.waitSignal(panel.tuner.progressed, timeout=60_000):
        click(qtbot, teacher.teach_button)
    with qtbot.waitSignal(panel.tuner.cancelled, timeout=60_000):
        click(qtbot, teacher.cancel_button)
    assert teacher.step() == "ask" and "cancelled" in teacher.note_label.text()
    assert teacher.drawings_count == 10 and teacher.result is None
    assert panel.predictor.shipped and panel.predictor.network is shipped()


def test_bad_drawings_are_refused_in_the_panel_not_with_a_crash(qtbot, panel, monkeypatch):
    # Labels outside the network's classes (a store written by another program) fail as a sentence.
    teacher = open_teacher(qtbot, panel, per_digit=1)
    monkeypatch.setattr(teacher, "training_set",
                        lambda: (np.zeros((2, 1, 28, 28), np.float32), np.array([3, 12])))
    draw(qtbot, panel.canvas, handwritten_digit(0, np.random.default_rng(4)))
    click(qtbot, teacher.next_button)
    with qtbot.waitSignal(panel.tuner.failed, timeout=30_000):
        click(qtbot, teacher.teach_button)
    assert teacher.step() == "ask"
    assert teacher.note_label.text() == "Teaching failed: label 12 is outside the network's classes 0..9"


def test_drawings_kept_with_right_click_are_offered_and_used(qtbot, panel):
    from nnstudio.state.user_dataset import UserDrawings

    store = UserDrawings.load()
    start = store.count
    rng = np.random.default_rng(5)
    for label in (4, 7):
        draw(qtbot, panel.canvas, handwritten_digit(label, rng))
        assert panel.add_drawing(label)
        click(qtbot, panel.clear_button)
    teacher = open_teacher(qtbot, panel, per_digit=1)
    check = teacher.use_kept_check
    assert check.isVisible() and check.isChecked()
    assert check.text() == f"Also use the {start + 2} drawings you kept with right-click"
    assert teacher.teach_button.text() == f"&Teach ({start + 2})"
    x, y = teacher.training_set()
    assert x.shape == (start + 2, 1, 28, 28) and y[-2:].tolist() == [4, 7]
    qtbot.mouseClick(check, Qt.MouseButton.LeftButton, pos=check.rect().center())
    assert not check.isChecked() and len(teacher.training_set()[1]) == 0
    assert not teacher.teach_button.isEnabled()
