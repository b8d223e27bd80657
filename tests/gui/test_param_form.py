"""ParamForm: inputs generated from the layer schema, ranges that make impossible values
impossible, one undo step per field, re-reading the spec without echoing edits back."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication, QCheckBox, QComboBox, QDoubleSpinBox, QMainWindow, QSpinBox

from core import NetworkSpec
from nnstudio.state.document import default_state
from nnstudio.widgets.network.param_form import ParamForm


def set_spec(document, layers, input_shape=(1, 28, 28)):
    spec = NetworkSpec.from_dict({"input_shape": list(input_shape), "layers": layers})
    document.reset(replace(default_state(), spec=spec))


@pytest.fixture
def window(qtbot, document):
    """The form in a window with Edit ▸ Undo on Ctrl+Z, as the main window has it."""
    win = QMainWindow()
    form = ParamForm(document)
    win.setCentralWidget(form)
    undo = document.undo_stack.createUndoAction(win, "&Undo")
    undo.setShortcut(QKeySequence.StandardKey.Undo)
    win.addAction(undo)
    qtbot.addWidget(win)
    win.resize(320, 400)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win, timeout=2000)
    win.form = form
    return win


@pytest.fixture
def form(window):
    return window.form


def show_layer(form, qtbot, index):
    """Select layer ``index`` and wait until its new inputs are on screen (Qt shows widgets
    added to a visible form from the event loop)."""
    form.set_layer(index)
    qtbot.waitUntil(lambda: all(form.editor(n).isVisible() for n in form.names()), timeout=2000)


def type_value(qtbot, spin, text):
    """Select the spin box's text, type ``text`` and press Enter (how a user commits)."""
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, text)
    qtbot.keyClick(spin, Qt.Key.Key_Return)


def test_dense_form_is_generated_from_the_schema(form):
    form.set_layer(0)
    assert form.objectName() == "layerSettings"
    units = form.editor("units")
    assert isinstance(units, QSpinBox) and (units.minimum(), units.maximum()) == (1, 100_000)
    assert units.value() == 64
    assert "number of output neurons" in units.toolTip().lower() and "100,000" in units.toolTip()
    init = form.editor("kernel_initializer")
    assert isinstance(init, QComboBox) and init.currentText() == "glorot_uniform"
    assert init.toolTip() == "How the weights are drawn before training"
    assert isinstance(form.editor("use_bias"), QCheckBox) and form.editor("use_bias").isChecked()
    assert form.findChild(QSpinBox, "param_units") is units
    assert "Layer 1" in form.findChild(type(form._title), "layerSettingsTitle").text()


def test_typing_units_128_is_one_undo_step_and_ctrl_z_restores_64(window, form, document, qtbot):
    form.set_layer(0)
    spin = form.editor("units")
    type_value(qtbot, spin, "128")
    assert document.spec.layers[0].config["units"] == 128
    assert document.undo_stack.count() == 1
    assert document.undo_stack.undoText() == "Set Dense units to 128"
    # A few arrow steps on the same field merge into the same undo step.
    qtbot.keyClick(spin, Qt.Key.Key_Up)
    qtbot.keyClick(spin, Qt.Key.Key_Up)
    assert document.spec.layers[0].config["units"] == 130 and document.undo_stack.count() == 1
    window.setFocus()  # Ctrl+Z in a spin box is its own text undo; the window's action undoes the edit
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert document.spec.layers[0].config["units"] == 64
    assert spin.value() == 64  # the form re-read the spec…
    assert document.undo_stack.index() == 0 and document.undo_stack.count() == 1  # …without pushing an edit back


def test_external_changes_are_shown_without_echoing_edits(form, document):
    form.set_layer(2)
    layers = list(document.spec.layers)
    layers[2] = layers[2].with_config(units=7, use_bias=False)
    document.change("Script edit", spec=document.spec.with_layers(layers))
    assert form.editor("units").value() == 7 and not form.editor("use_bias").isChecked()
    assert document.undo_stack.count() == 1 and document.undo_stack.undoText() == "Script edit"


def test_impossible_values_cannot_be_entered(form, document, qtbot):
    form.set_layer(0)
    spin = form.editor("units")
    spin.setValue(10**7)  # beyond the schema's maximum: clamped
    assert spin.value() == 100_000 and document.spec.layers[0].config["units"] == 100_000
    type_value(qtbot, spin, "0")  # units cannot be 0
    assert spin.value() >= 1 and document.spec.layers[0].config["units"] >= 1
    type_value(qtbot, spin, "2000000")  # the validator refuses the digit that would exceed the maximum
    assert spin.value() <= 100_000 and document.spec.layers[0].config["units"] <= 100_000

    set_spec(document, [{"type": "Flatten"}, {"type": "Dropout", "rate": 0.9}, {"type": "Dense", "units": 3}])
    form.set_layer(1)
    rate = form.editor("rate")
    assert isinstance(rate, QDoubleSpinBox) and rate.singleStep() == pytest.approx(0.05)
    assert rate.maximum() < 1.0 and rate.minimum() == 0.0
    rate.setFocus()
    for _ in range(5):
        qtbot.keyClick(rate, Qt.Key.Key_Up)
    assert rate.value() < 1.0 and document.spec.layers[1].config["rate"] < 1.0
    assert document.spec.layers[1].config["rate"] == pytest.approx(rate.maximum())
    rate.setValue(1.0)
    assert document.spec.layers[1].config["rate"] < 1.0


def test_conv_kernel_can_be_non_square_and_padding_chosen(form, document, qtbot):
    set_spec(document, [{"type": "Conv2D", "filters": 8, "kernel_size": 3}, {"type": "Flatten"},
                        {"type": "Dense", "units": 10}])
    show_layer(form, qtbot, 0)
    second = form.findChild(QSpinBox, "param_kernel_size_width")
    toggle = form.findChild(QCheckBox, "param_kernel_size_nonsquare")
    assert not second.isVisibleTo(form)
    qtbot.mouseClick(toggle, Qt.MouseButton.LeftButton)
    assert second.isVisibleTo(form)
    assert document.undo_stack.count() == 0  # 3×3 is still 3: nothing to undo yet
    type_value(qtbot, second, "5")
    assert tuple(document.spec.layers[0].config["kernel_size"]) == (3, 5)
    assert document.undo_stack.undoText() == "Set Conv2D kernel_size to 3×5"
    padding = form.editor("padding")
    padding.setCurrentIndex(padding.findText("same"))
    assert document.spec.layers[0].config["padding"] == "same"
    assert document.undo_stack.undoText() == "Set Conv2D padding to same"
    qtbot.mouseClick(toggle, Qt.MouseButton.LeftButton)  # back to square
    assert document.spec.layers[0].config["kernel_size"] == 3 and not second.isVisibleTo(form)
    assert document.undo_stack.count() == 3
    document.undo_stack.undo()
    assert toggle.isChecked() and second.value() == 5 and second.isVisibleTo(form)  # the restored pair
    qtbot.mouseClick(form.editor("use_bias"), Qt.MouseButton.LeftButton)
    assert document.spec.layers[0].config["use_bias"] is False


def test_pool_stride_same_as_pool_size_toggle(form, document, qtbot):
    set_spec(document, [{"type": "MaxPool2D", "pool_size": 3}, {"type": "Flatten"}, {"type": "Dense", "units": 2}])
    show_layer(form, qtbot, 0)
    auto = form.findChild(QCheckBox, "param_stride_auto")
    stride = form.findChild(QSpinBox, "param_stride")
    assert auto.text() == "same as pool size" and auto.isChecked() and not stride.isEnabled()
    assert stride.value() == 3  # shows what "same" means
    qtbot.mouseClick(auto, Qt.MouseButton.LeftButton)
    assert stride.isEnabled() and document.spec.layers[0].config["stride"] == 3
    type_value(qtbot, stride, "1")
    assert document.spec.layers[0].config["stride"] == 1
    assert document.undo_stack.count() == 1  # consecutive edits of one field: one undo step
    qtbot.mouseClick(auto, Qt.MouseButton.LeftButton)
    assert document.spec.layers[0].config["stride"] is None and not stride.isEnabled()
    assert document.undo_stack.count() == 0  # back where it started: nothing left to undo


def test_form_follows_layer_type_and_training_state(form, document):
    form.set_layer(1)  # Activation
    combo = form.editor("function")
    assert isinstance(combo, QComboBox) and combo.currentText() == "relu"
    assert {combo.itemText(i) for i in range(combo.count())} >= {"relu", "sigmoid", "tanh", "softmax"}
    set_spec(document, [{"type": "Flatten"}, {"type": "Dense", "units": 3}], (4,))
    form.set_layer(0)
    assert form.editor("units") is None and "no settings" in form._blurb.text()
    form.set_layer(None)
    assert form.index is None
    form.set_layer(1)
    document.set_training_active(True)
    assert not form.isEnabled()
    document.set_training_active(False)
    assert form.isEnabled()
