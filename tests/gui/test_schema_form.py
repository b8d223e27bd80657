"""SchemaForm: one input per Param, driven only by the Param (kind, range, label, step,
decimals, log scale, zero means off, optional), emitting normalised values on user edits and
nothing when values are set from outside."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLabel, QSpinBox

from core.params import Param
from nnstudio.widgets.common.log_spin_box import LogSpinBox
from nnstudio.widgets.common.schema_form import SchemaForm

SCHEMA = (
    Param("count", "int", default=400, minimum=20, maximum=1_000_000, label="Samples", step=100,
          help="how many points to generate"),
    Param("rate", "float", default=0.25, minimum=0.0, maximum=1.0, exclusive_maximum=True,
          help="fraction of values set to zero"),
    Param("momentum", "float", default=0.9, minimum=0.0, maximum=1.0, exclusive_maximum=True, step=0.01,
          decimals=4, label="Momentum"),
    Param("decay", "float", default=0.0, minimum=0.0, maximum=1.0, log_scale=True, zero_means_off=True,
          decimals=6, label="L2 weight decay", help="L2 penalty"),
    Param("epsilon", "float", default=1e-8, minimum=0.0, maximum=1.0, exclusive_minimum=True, log_scale=True,
          label="ε (epsilon)"),
    Param("padding", "choice", default="valid", choices=("valid", "same"), help="how the borders are handled"),
    Param("use_bias", "bool", default=True, help="add a learned offset"),
    Param("pool_size", "int_or_pair", default=2, minimum=1, maximum=64),
    Param("stride", "int_or_pair", default=None, minimum=1, maximum=64, optional=True,
          help="step between windows; empty means the same as pool_size"),
)


@pytest.fixture
def form(qtbot):
    widget = SchemaForm(SCHEMA, object_prefix="test_", owner="Test")
    qtbot.addWidget(widget)
    widget.resize(360, 500)
    widget.set_values({p.name: p.default for p in SCHEMA})
    widget.show()
    qtbot.waitExposed(widget)
    return widget


@pytest.fixture
def edits(form):
    got: list[tuple[str, object]] = []
    form.valueEdited.connect(lambda name, value: got.append((name, value)))
    return got


def type_into(qtbot, spin, text: str) -> None:
    qtbot.mouseClick(spin, Qt.MouseButton.LeftButton)
    qtbot.keyClick(spin, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(spin, text)
    qtbot.keyClick(spin, Qt.Key.Key_Return)


def test_each_kind_gets_its_input_named_and_labelled_from_the_param(form):
    kinds = {"count": QSpinBox, "rate": QDoubleSpinBox, "momentum": QDoubleSpinBox, "decay": LogSpinBox,
             "epsilon": LogSpinBox, "padding": QComboBox, "use_bias": QCheckBox, "pool_size": QSpinBox,
             "stride": QCheckBox}
    assert form.names() == [p.name for p in SCHEMA]
    for name, cls in kinds.items():
        assert isinstance(form.editor(name), cls), name
        assert form.findChild(cls, f"test_{name}" + ("_auto" if name == "stride" else "")) is form.editor(name)
    assert form.label("count").text() == "Samples"  # the Param's label
    assert form.label("rate").text() == "Rate"  # else from the name
    assert form.label("decay").text() == "L2 weight decay" and form.label("decay").buddy() is form.editor("decay")
    assert form.label("use_bias") is None and form.editor("use_bias").text() == "Use bias"
    assert form.editor("count").accessibleName() == "Samples"


def test_ranges_steps_and_decimals_come_from_the_param(form):
    count = form.editor("count")
    assert (count.minimum(), count.maximum(), count.singleStep()) == (20, 1_000_000, 100)
    assert count.isGroupSeparatorShown()
    momentum = form.editor("momentum")
    assert (momentum.decimals(), momentum.singleStep()) == (4, pytest.approx(0.01))
    assert momentum.maximum() == pytest.approx(0.9999)  # exclusive maximum: one step inside
    rate = form.editor("rate")  # no step/decimals declared: two decimals in steps of 0.05 for a fraction
    assert (rate.decimals(), rate.singleStep()) == (2, pytest.approx(0.05))
    assert rate.text() == "0.25"
    assert form.editor("momentum").text() == "0.9"  # compact, not "0.9000"
    decay = form.editor("decay")
    assert decay.minimum() == 0.0 and decay.range_text() == "from 1e-06 to 1, or 0"  # zero means off
    epsilon = form.editor("epsilon")
    assert epsilon.range_text() == "from 1e-12 to 1"  # exclusive 0: the finest value offered


def test_tooltips_are_help_and_range(form):
    assert form.editor("count").toolTip() == "How many points to generate (between 20 and 1,000,000)"
    assert form.editor("padding").toolTip() == "How the borders are handled"
    assert form.label("count").toolTip() == form.editor("count").toolTip()


def test_user_edits_emit_normalised_values(qtbot, form, edits):
    type_into(qtbot, form.editor("count"), "1000")
    assert edits == [("count", 1000)] and isinstance(edits[0][1], int)
    qtbot.keyClick(form.editor("count"), Qt.Key.Key_Up)
    assert edits[-1] == ("count", 1100)
    type_into(qtbot, form.editor("decay"), "0.0005")
    assert edits[-1] == ("decay", pytest.approx(5e-4))
    type_into(qtbot, form.editor("decay"), "0")
    assert edits[-1] == ("decay", 0.0)
    combo = form.editor("padding")
    combo.showPopup()
    combo.view().setCurrentIndex(combo.model().index(1, 0))
    qtbot.keyClick(combo.view(), Qt.Key.Key_Return)
    assert edits[-1] == ("padding", "same")
    box = form.editor("use_bias")
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))
    assert edits[-1] == ("use_bias", False)


def test_out_of_range_typing_never_emits_an_out_of_range_value(qtbot, form, edits):
    type_into(qtbot, form.editor("count"), "5")  # below the minimum: refused by the spin box
    type_into(qtbot, form.editor("momentum"), "1")  # the engine refuses 1: clamped inside
    type_into(qtbot, form.editor("epsilon"), "5")  # above the maximum: kept, with a note
    for name, value in edits:
        param = next(p for p in SCHEMA if p.name == name)
        assert param.check(value, "Test") == value, (name, value)
    assert all(value < 1.0 for name, value in edits if name == "momentum")
    assert form.value("epsilon") == pytest.approx(1e-8)


def test_pair_and_optional_settings(qtbot, form, edits):
    toggle = form.findChild(QCheckBox, "test_pool_size_nonsquare")
    width = form.findChild(QSpinBox, "test_pool_size_width")
    qtbot.mouseClick(toggle, Qt.MouseButton.LeftButton)
    type_into(qtbot, width, "3")
    assert edits[-1] == ("pool_size", (2, 3))  # a tuple, as the engine normalises pairs
    auto = form.editor("stride")
    assert auto.text() == "same as pool size" and auto.isChecked()
    inner = form.findChild(QSpinBox, "test_stride")
    assert not inner.isEnabled() and inner.value() == 2  # shows what "same" means
    qtbot.mouseClick(auto, Qt.MouseButton.LeftButton)
    assert edits[-1] == ("stride", 2) and inner.isEnabled()
    qtbot.mouseClick(auto, Qt.MouseButton.LeftButton)
    assert edits[-1] == ("stride", None)
    assert form.option_text("stride") == "same as pool size"


def test_set_values_updates_without_emitting(form, edits):
    form.set_values({"count": 5000, "rate": 0.5, "decay": 1e-4, "padding": "same", "use_bias": False,
                     "pool_size": [3, 5], "stride": 4})
    assert edits == []
    assert form.values() == {"count": 5000, "rate": 0.5, "momentum": pytest.approx(0.9), "decay": pytest.approx(1e-4),
                             "epsilon": pytest.approx(1e-8), "padding": "same", "use_bias": False,
                             "pool_size": (3, 5), "stride": 4}
    assert form.findChild(QSpinBox, "test_pool_size_width").isVisibleTo(form)  # a non-square value shows both


def test_editing_finished_names_the_field(qtbot, form):
    with qtbot.waitSignal(form.editingFinished, timeout=2000) as finished:
        type_into(qtbot, form.editor("count"), "900")
    assert finished.args == ["count"]


def test_a_field_can_be_disabled_with_a_reason(form):
    form.set_field_enabled("use_bias", False, "Not available now: needs a bias.")
    box = form.editor("use_bias")
    assert not box.isEnabled() and box.toolTip().endswith("Not available now: needs a bias.")
    form.set_field_enabled("use_bias", True)
    assert box.isEnabled() and "Not available" not in box.toolTip()
    form.set_field_enabled("count", False)
    assert not form.label("count").isEnabled()


def test_a_kind_the_form_does_not_know_gets_no_input(qtbot):
    form = SchemaForm((Param("units", "int", default=3, minimum=1, maximum=9), Param("blob", "tensor", default=0)))
    qtbot.addWidget(form)
    assert form.names() == ["units"] and form.editor("blob") is None
    assert [label.text() for label in form.findChildren(QLabel)] == ["Units"]
