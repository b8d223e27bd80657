"""TrainingSettingsPanel: every control edits the document (undoably), impossible values
cannot be entered, typing merges into one undo step, and learning rate / batch size stay
live during training as signals instead of document edits."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QSpinBox, QWidget

from core import OPTIMIZERS
from core.losses import LOSSES
from nnstudio.widgets.common.log_spin_box import LogSpinBox
from nnstudio.widgets.train.training_settings_panel import TrainingSettingsPanel


@pytest.fixture
def panel(qtbot, document):
    widget = TrainingSettingsPanel(document)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def find(panel, cls, name):
    widget = panel.findChild(cls, name)
    assert widget is not None, f"no {cls.__name__} named {name}"
    return widget


def type_into(qtbot, spin, text: str) -> None:
    """Select the field's text, type ``text`` and press Enter, like a user."""
    qtbot.keyClick(spin, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(spin, text)
    qtbot.keyClick(spin, Qt.Key.Key_Return)


def pick(qtbot, combo: QComboBox, data) -> None:
    """Open the combo's list, move to the item holding ``data`` and press Enter."""
    index = combo.findData(data)
    assert index >= 0, data
    combo.showPopup()
    combo.view().setCurrentIndex(combo.model().index(index, 0))
    qtbot.keyClick(combo.view(), Qt.Key.Key_Return)


def click_check(qtbot, box: QCheckBox) -> None:
    """Click a check box on its indicator (its centre may be blank space of a wide row)."""
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))


def optimizer(document) -> dict:
    return dict(document.spec.optimizer)


# --------------------------------------------------------------------------- each control


def test_shows_the_document_values(panel, document):
    assert find(panel, QComboBox, "lossCombo").currentData() == document.spec.loss == "cross_entropy"
    assert find(panel, QComboBox, "optimizerCombo").currentData() == "Adam"
    assert find(panel, LogSpinBox, "learningRateEdit").value() == pytest.approx(0.001)
    assert find(panel, LogSpinBox, "learningRateEdit").text() == "0.001"
    assert find(panel, QSpinBox, "epochsSpin").value() == document.training.epochs == 30
    assert find(panel, QSpinBox, "batchSizeSpin").value() == 32
    assert find(panel, QDoubleSpinBox, "validationSplitSpin").value() == pytest.approx(0.1)
    assert find(panel, QSpinBox, "seedSpin").value() == 0
    assert find(panel, QCheckBox, "shuffleCheck").isChecked()


def test_loss_combo_changes_the_spec_and_undo_restores(qtbot, panel, document):
    combo = find(panel, QComboBox, "lossCombo")
    pick(qtbot, combo, "mse")
    assert document.spec.loss == "mse"
    assert document.undo_stack.undoText() == "Use loss mean squared error"
    document.undo_stack.undo()
    assert document.spec.loss == "cross_entropy"
    assert combo.currentData() == "cross_entropy"


def test_optimizer_switch_builds_its_settings_from_the_schema(qtbot, panel, document):
    assert panel.findChild(QWidget, "optimizer_beta1") is not None
    pick(qtbot, find(panel, QComboBox, "optimizerCombo"), "SGD")
    opt = optimizer(document)
    assert opt["type"] == "SGD" and opt["learning_rate"] == 0.01  # the default followed the optimizer
    for p in OPTIMIZERS["SGD"].schema:
        if p.name != "learning_rate":
            assert panel.findChild(QWidget, f"optimizer_{p.name}") is not None, p.name
    assert panel.findChild(QWidget, "optimizer_beta1") is None
    decay_label = panel.optimizer_form.label("weight_decay")  # the optimizer's own form, nested in the panel's
    assert decay_label.buddy() is find(panel, LogSpinBox, "optimizer_weight_decay")
    assert decay_label.text() == "L2 weight decay"
    assert find(panel, LogSpinBox, "learningRateEdit").value() == pytest.approx(0.01)


def test_a_chosen_learning_rate_survives_an_optimizer_switch(qtbot, panel, document):
    type_into(qtbot, find(panel, LogSpinBox, "learningRateEdit"), "3e-4")
    pick(qtbot, find(panel, QComboBox, "optimizerCombo"), "SGD")
    assert optimizer(document) == {"type": "SGD", "learning_rate": 0.0003, "momentum": 0.0, "nesterov": False,
                                   "weight_decay": 0.0}


def test_sgd_momentum_and_nesterov(qtbot, panel, document):
    pick(qtbot, find(panel, QComboBox, "optimizerCombo"), "SGD")
    nesterov = find(panel, QCheckBox, "optimizer_nesterov")
    assert not nesterov.isEnabled()  # Nesterov needs momentum: impossible to switch on at 0
    type_into(qtbot, find(panel, QDoubleSpinBox, "optimizer_momentum"), "0.9")
    assert optimizer(document)["momentum"] == pytest.approx(0.9)
    assert nesterov.isEnabled()
    click_check(qtbot, nesterov)
    assert optimizer(document)["nesterov"] is True
    # Momentum back to 0 turns Nesterov off in the same step, so the spec stays valid.
    type_into(qtbot, find(panel, QDoubleSpinBox, "optimizer_momentum"), "0")
    assert optimizer(document)["momentum"] == 0.0 and optimizer(document)["nesterov"] is False
    assert not nesterov.isChecked() and not nesterov.isEnabled()
    document.undo_stack.undo()
    assert optimizer(document)["nesterov"] is True and nesterov.isChecked()


def test_adam_settings_edit_the_spec(qtbot, panel, document):
    type_into(qtbot, find(panel, QDoubleSpinBox, "optimizer_beta2"), "0.99")
    type_into(qtbot, find(panel, LogSpinBox, "optimizer_epsilon"), "1e-7")
    type_into(qtbot, find(panel, LogSpinBox, "optimizer_weight_decay"), "0.0005")
    opt = optimizer(document)
    assert opt["beta2"] == pytest.approx(0.99) and opt["epsilon"] == pytest.approx(1e-7)
    assert opt["weight_decay"] == pytest.approx(5e-4)


def test_weight_decay_steps_between_off_and_decades(qtbot, panel, document):
    decay = find(panel, LogSpinBox, "optimizer_weight_decay")
    qtbot.keyClick(decay, Qt.Key.Key_Down)  # already off: stays 0
    assert decay.value() == 0.0
    qtbot.keyClick(decay, Qt.Key.Key_Up)
    assert optimizer(document)["weight_decay"] == pytest.approx(1e-6)
    qtbot.keyClick(decay, Qt.Key.Key_PageUp)
    qtbot.keyClick(decay, Qt.Key.Key_PageUp)
    assert optimizer(document)["weight_decay"] == pytest.approx(1e-4)
    type_into(qtbot, decay, "0")  # 0 means off and can be typed
    assert optimizer(document)["weight_decay"] == 0.0
    type_into(qtbot, decay, "1e-9")  # between off and the smallest step: refused
    assert optimizer(document)["weight_decay"] == 0.0


def test_training_config_fields(qtbot, panel, document):
    type_into(qtbot, find(panel, QSpinBox, "epochsSpin"), "250")
    type_into(qtbot, find(panel, QSpinBox, "batchSizeSpin"), "128")
    type_into(qtbot, find(panel, QDoubleSpinBox, "validationSplitSpin"), "0.25")
    click_check(qtbot, find(panel, QCheckBox, "shuffleCheck"))
    type_into(qtbot, find(panel, QSpinBox, "seedSpin"), "42")
    t = document.training
    assert (t.epochs, t.batch_size, t.validation_split, t.shuffle) == (250, 128, 0.25, False)
    assert document.spec.seed == 42
    for _ in range(5):
        document.undo_stack.undo()
    t = document.training
    assert (t.epochs, t.batch_size, t.validation_split, t.shuffle, document.spec.seed) == (30, 32, 0.1, True, 0)
    assert find(panel, QSpinBox, "epochsSpin").value() == 30
    assert find(panel, QCheckBox, "shuffleCheck").isChecked()


# --------------------------------------------------------------------------- impossible values


def test_learning_rate_accepts_any_valid_notation_and_steps_in_decades(qtbot, panel, document):
    lr = find(panel, LogSpinBox, "learningRateEdit")
    type_into(qtbot, lr, "0.0003")
    assert optimizer(document)["learning_rate"] == pytest.approx(3e-4)
    type_into(qtbot, lr, "2e-5")
    assert optimizer(document)["learning_rate"] == pytest.approx(2e-5)
    assert lr.text() == "2e-05"
    qtbot.keyClick(lr, Qt.Key.Key_Up)
    assert optimizer(document)["learning_rate"] == pytest.approx(5e-5)
    qtbot.keyClick(lr, Qt.Key.Key_Down)
    qtbot.keyClick(lr, Qt.Key.Key_Down)
    assert optimizer(document)["learning_rate"] == pytest.approx(1e-5)
    qtbot.keyClick(lr, Qt.Key.Key_PageUp)
    assert optimizer(document)["learning_rate"] == pytest.approx(1e-4)


@pytest.mark.parametrize("text", ["20", "0", "-", "abc", "1e-9", "nan", "inf"])
def test_impossible_learning_rates_cannot_be_entered(qtbot, panel, document, text):
    lr = find(panel, LogSpinBox, "learningRateEdit")
    before = document.undo_stack.count()
    type_into(qtbot, lr, text)
    assert optimizer(document)["learning_rate"] == pytest.approx(0.001)
    assert lr.value() == pytest.approx(0.001)
    assert document.undo_stack.count() == before


def test_a_minus_sign_cannot_even_be_typed(qtbot, panel):
    lr = find(panel, LogSpinBox, "learningRateEdit")
    qtbot.keyClick(lr, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(lr, "-0.01")
    assert lr.lineEdit().text() == "0.01"


def test_learning_rate_steps_stop_at_the_range_ends(qtbot, panel, document):
    lr = find(panel, LogSpinBox, "learningRateEdit")
    type_into(qtbot, lr, "5")
    for _ in range(3):
        qtbot.keyClick(lr, Qt.Key.Key_Up)
    assert lr.value() == 10.0
    type_into(qtbot, lr, "2e-6")
    for _ in range(3):
        qtbot.keyClick(lr, Qt.Key.Key_Down)
    assert lr.value() == pytest.approx(1e-6)
    assert optimizer(document)["learning_rate"] == pytest.approx(1e-6)


def test_other_fields_refuse_out_of_range_values(qtbot, panel, document):
    type_into(qtbot, find(panel, QDoubleSpinBox, "validationSplitSpin"), "0.95")
    type_into(qtbot, find(panel, QSpinBox, "epochsSpin"), "0")
    type_into(qtbot, find(panel, QSpinBox, "batchSizeSpin"), "-5")
    t = document.training
    assert t.validation_split <= 0.9 and t.epochs >= 1 and t.batch_size >= 1
    split = find(panel, QDoubleSpinBox, "validationSplitSpin")
    assert (split.minimum(), split.maximum()) == (0.0, 0.9)
    pick(qtbot, find(panel, QComboBox, "optimizerCombo"), "SGD")
    momentum = find(panel, QDoubleSpinBox, "optimizer_momentum")
    assert momentum.maximum() < 1.0  # the engine refuses momentum 1
    type_into(qtbot, momentum, "1")
    assert optimizer(document)["momentum"] < 1.0


# --------------------------------------------------------------------------- undo


def test_typing_in_one_field_is_one_undo_step(qtbot, panel, document):
    before = document.undo_stack.count()
    lr = find(panel, LogSpinBox, "learningRateEdit")
    for _ in range(3):  # three arrow steps while the field keeps focus
        qtbot.keyClick(lr, Qt.Key.Key_Up)
    assert optimizer(document)["learning_rate"] == pytest.approx(0.01)
    assert document.undo_stack.count() == before + 1
    assert document.undo_stack.undoText() == "Change learning rate"
    type_into(qtbot, find(panel, QSpinBox, "epochsSpin"), "123")
    assert document.undo_stack.count() == before + 2
    document.undo_stack.undo()
    document.undo_stack.undo()
    assert optimizer(document)["learning_rate"] == pytest.approx(0.001)
    assert document.training.epochs == 30


def test_finishing_an_edit_starts_a_new_undo_step(qtbot, panel, document):
    epochs = find(panel, QSpinBox, "epochsSpin")
    type_into(qtbot, epochs, "40")   # Enter finishes the edit
    type_into(qtbot, epochs, "50")
    assert document.undo_stack.count() == 2
    document.undo_stack.undo()
    assert document.training.epochs == 40


def test_following_undo_does_not_echo_back_into_the_document(qtbot, panel, document):
    type_into(qtbot, find(panel, QSpinBox, "batchSizeSpin"), "64")
    pick(qtbot, find(panel, QComboBox, "optimizerCombo"), "SGD")
    count = document.undo_stack.count()
    document.undo_stack.undo()
    document.undo_stack.undo()
    assert document.undo_stack.index() == count - 2 and document.undo_stack.count() == count  # nothing pushed
    assert find(panel, QComboBox, "optimizerCombo").currentData() == "Adam"
    assert panel.findChild(QWidget, "optimizer_beta1") is not None
    assert find(panel, QSpinBox, "batchSizeSpin").value() == 32
    document.undo_stack.redo()
    assert find(panel, QSpinBox, "batchSizeSpin").value() == 64


# --------------------------------------------------------------------------- tooltips


def test_every_control_and_choice_explains_itself(panel):
    names = ["lossCombo", "optimizerCombo", "learningRateEdit", "epochsSpin", "batchSizeSpin", "validationSplitSpin",
             "seedSpin", "shuffleCheck", "optimizer_beta1", "optimizer_beta2", "optimizer_epsilon",
             "optimizer_weight_decay"]
    for name in names:
        widget = panel.findChild(QWidget, name)
        assert widget is not None and len(widget.toolTip()) > 20, name
    assert "too high diverges" in panel.findChild(QWidget, "learningRateEdit").toolTip()
    assert "L2 penalty" in panel.findChild(QWidget, "optimizer_weight_decay").toolTip()
    loss = panel.findChild(QComboBox, "lossCombo")
    for i, name in enumerate(LOSSES):
        assert loss.itemData(i, Qt.ItemDataRole.ToolTipRole).lower().startswith(LOSSES[name].summary[:20].lower())


# --------------------------------------------------------------------------- during training


def test_learning_rate_and_batch_size_are_requests_while_training(qtbot, panel, document):
    document.set_training_active(True)
    before = (dict(document.spec.optimizer), document.training, document.undo_stack.count())
    for name in ("lossCombo", "optimizerCombo", "epochsSpin", "validationSplitSpin", "seedSpin", "shuffleCheck",
                 "optimizer_beta1"):
        assert not panel.findChild(QWidget, name).isEnabled(), name
    lr = find(panel, LogSpinBox, "learningRateEdit")
    batch = find(panel, QSpinBox, "batchSizeSpin")
    assert lr.isEnabled() and batch.isEnabled()
    with qtbot.waitSignal(panel.learningRateRequested, timeout=2000) as lr_signal:
        type_into(qtbot, lr, "0.02")
    assert lr_signal.args == [pytest.approx(0.02)]
    with qtbot.waitSignal(panel.batchSizeRequested, timeout=2000) as batch_signal:
        type_into(qtbot, batch, "256")
    assert batch_signal.args == [256]
    # The document did not change (it cannot while training runs) ...
    assert (dict(document.spec.optimizer), document.training, document.undo_stack.count()) == before
    assert lr.value() == pytest.approx(0.02)
    # ... and when the run stops the chosen values are written into it, undoably.
    document.set_training_active(False)
    assert optimizer(document)["learning_rate"] == pytest.approx(0.02)
    assert document.training.batch_size == 256
    assert panel.findChild(QWidget, "epochsSpin").isEnabled()
    document.undo_stack.undo()
    document.undo_stack.undo()
    assert optimizer(document)["learning_rate"] == pytest.approx(0.001) and document.training.batch_size == 32


def test_no_request_is_emitted_for_a_typed_value_before_enter(qtbot, panel, document):
    document.set_training_active(True)
    requested = []
    panel.learningRateRequested.connect(requested.append)
    lr = find(panel, LogSpinBox, "learningRateEdit")
    qtbot.keyClick(lr, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(lr, "5e-4")  # "5" on the way must never reach the running training
    assert requested == []
    qtbot.keyClick(lr, Qt.Key.Key_Return)
    assert requested == [pytest.approx(5e-4)]
    document.set_training_active(False)


# -- issue 15, item 8: an impossible learning rate is explained under the field -----------------

def test_an_out_of_range_learning_rate_is_explained_inline_not_silently_reverted(qtbot, panel, document):
    panel.resize(300, 600)  # the right column's width, with room to grow as in its scroll area
    lr = find(panel, LogSpinBox, "learningRateEdit")
    note = find(panel, QWidget, "learningRateNote")
    assert not note.isVisible()
    # While typing: the range is shown under the field.
    qtbot.keyClick(lr, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(lr, "50")
    assert note.isVisible() and note.text() == "Allowed: from 1e-06 to 10."
    qtbot.keyClick(lr, Qt.Key.Key_Return)
    assert note.isVisible() and note.text() == "50 is more than the largest allowed value, 10; kept 0.001."
    assert lr.value() == pytest.approx(0.001) and optimizer(document)["learning_rate"] == pytest.approx(0.001)
    # The note sits right under the field, inside the panel, and is readable.
    form_row, _ = panel.form.getWidgetPosition(note)
    assert form_row == panel.form.getWidgetPosition(lr)[0] + 1
    qtbot.waitUntil(lambda: note.height() >= note.heightForWidth(note.width()), timeout=2000)  # laid out, whole
    assert note.geometry().top() >= lr.geometry().bottom()
    type_into(qtbot, lr, "1e-9")
    assert note.text() == "1e-9 is less than the smallest allowed value, 1e-06; kept 0.001."
    type_into(qtbot, lr, "0.02")  # a good value: taken, and the note goes
    assert optimizer(document)["learning_rate"] == pytest.approx(0.02) and not note.isVisible()
