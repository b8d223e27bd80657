"""Layer types reach the GUI from their own classes only: a class registered in core appears
in the palette (in palette order, coloured by its category, its summary as tooltip), can be
added by mouse and gets a working settings form, with no edit in nnstudio. And no module of
nnstudio keeps a table keyed by layer, optimizer or loss names."""

from __future__ import annotations

import ast
from pathlib import Path
from types import MappingProxyType
from typing import cast

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from core import OPTIMIZERS
from core.layers.base import Layer
from core.losses import LOSSES
from core.params import Param
from core.registry import LAYER_TYPES, layer_types, register_layer
from nnstudio.widgets.network.layer_editor import LayerEditor
from nnstudio.widgets.network.layer_palette import CATEGORY_COLORS, OTHER_COLOR, category_color, type_color

NNSTUDIO = Path(__file__).resolve().parents[2] / "nnstudio"


class ThrowAwayScale(Layer):
    """Multiplies every value by ``factor`` (a layer that exists only in this test)."""

    type_name = "ThrowAwayScale"
    summary = "Multiplies every value by a constant factor (a test-only layer)."
    category = "test-scaling"  # a category the GUI has never heard of
    palette_order = 35
    default_settings = MappingProxyType({"factor": 2.0})
    schema = (
        Param("factor", "float", default=2.0, minimum=0.5, maximum=8.0, label="Scale factor", step=0.5, decimals=1,
              help="what every value is multiplied by"),
    )

    def __init__(self, factor: float = 2.0):
        super().__init__(factor=factor)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        return cast(np.ndarray, x * x.dtype.type(self.config["factor"]))

    def backward(self, dy: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        return cast(np.ndarray, dy * dy.dtype.type(self.config["factor"]))


@pytest.fixture
def throw_away_layer():
    """ThrowAwayScale registered for the test, unregistered afterwards (other tests iterate
    the registry)."""
    register_layer(ThrowAwayScale)
    try:
        yield ThrowAwayScale
    finally:
        LAYER_TYPES.pop(ThrowAwayScale.type_name, None)


@pytest.fixture
def make_editor(qtbot, document):
    """Factory: a LayerEditor on ``document`` in a shown window. The fixture keeps the windows
    (and so the editors) alive until the test's teardown, after the registry is restored."""
    windows = []

    def make() -> LayerEditor:
        window = QWidget()
        layout = QVBoxLayout(window)
        window.editor = LayerEditor(document)
        layout.addWidget(window.editor)
        qtbot.addWidget(window)
        window.resize(340, 860)
        window.show()
        qtbot.waitExposed(window)
        windows.append(window)
        return window.editor

    yield make
    for window in windows:
        window.close()


def palette_names(editor: LayerEditor) -> list[str]:
    palette = editor.palette_view
    return [palette.item(i).data(Qt.ItemDataRole.UserRole) for i in range(palette.count())]


def chip_color(editor: LayerEditor, name: str):
    item = editor.palette_view.findItems(name, Qt.MatchFlag.MatchExactly)[0]
    return item.icon().pixmap(12, 12).toImage().pixelColor(6, 6)


def double_click_chip(qtbot, editor: LayerEditor, name: str) -> None:
    palette = editor.palette_view
    item = palette.findItems(name, Qt.MatchFlag.MatchExactly)[0]
    pos = palette.visualItemRect(item).center()
    qtbot.mouseClick(palette.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    qtbot.mouseDClick(palette.viewport(), Qt.MouseButton.LeftButton, pos=pos)


# --------------------------------------------------------------------------- every registered type


def test_every_registered_layer_type_is_offered_by_the_palette_in_palette_order(make_editor):
    editor = make_editor()
    names = palette_names(editor)
    assert names == [cls.type_name for cls in layer_types()]
    hidden = sorted(set(LAYER_TYPES) - set(names))
    assert hidden == [], f"registered but not offered by the editor: {hidden}"
    for cls in layer_types():
        item = editor.palette_view.findItems(cls.type_name, Qt.MatchFlag.MatchExactly)[0]
        assert cls.summary and item.toolTip().startswith(f"{cls.type_name}: {cls.summary}"), cls.type_name
        assert type_color(cls.type_name) == category_color(cls.category) != OTHER_COLOR, cls.type_name
        assert chip_color(editor, cls.type_name) == type_color(cls.type_name), cls.type_name


def test_every_registered_layer_type_gets_a_form_with_one_input_per_setting(document, make_editor):
    editor = make_editor()
    for cls in layer_types():
        editor.add_layer(cls.type_name)
        row = editor.selected_row()
        assert document.spec.layers[row].type == cls.type_name
        assert editor.form.index == row
        assert editor.form.names() == [p.name for p in cls.schema], cls.type_name
        hint = editor.form.findChild(QLabel, "layerSettingsHint").text()
        assert hint.startswith(cls.summary), cls.type_name


def test_the_six_categories_of_the_shipped_layers_keep_their_colours():
    # The colours users know (each type's badge) did not change when colour moved to categories.
    expected = {"Dense": "#2f6fc9", "Conv2D": "#8a3fb0", "MaxPool2D": "#138a72", "Flatten": "#6b7780",
                "Dropout": "#c8660f", "Activation": "#2e8b3e"}
    for name, colour in expected.items():
        assert type_color(name).name() == colour, name
    assert len({c.name() for c in CATEGORY_COLORS.values()}) == len(CATEGORY_COLORS)  # one colour per category


# --------------------------------------------------------------------------- a new layer class, no GUI edit


def test_a_layer_class_registered_in_core_is_offered_added_by_mouse_and_edited(qtbot, document, throw_away_layer,
                                                                              make_editor):
    editor = make_editor()
    names = palette_names(editor)
    assert "ThrowAwayScale" in names
    # In palette order: after MaxPool2D (30), before Flatten (40).
    assert names.index("MaxPool2D") < names.index("ThrowAwayScale") < names.index("Flatten")
    item = editor.palette_view.findItems("ThrowAwayScale", Qt.MatchFlag.MatchExactly)[0]
    assert item.toolTip().startswith("ThrowAwayScale: Multiplies every value by a constant factor")
    # Its own colour: not the grey of unknown types, not another category's.
    colour = chip_color(editor, "ThrowAwayScale")
    assert colour == category_color("test-scaling") == type_color("ThrowAwayScale")
    assert colour != OTHER_COLOR and colour not in CATEGORY_COLORS.values()

    editor.select_row(1)
    double_click_chip(qtbot, editor, "ThrowAwayScale")
    assert [layer.type for layer in document.spec.layers][2] == "ThrowAwayScale"
    assert document.spec.layers[2].config == {"factor": 2.0}
    assert document.undo_stack.undoText() == "Add ThrowAwayScale"
    assert editor.selected_row() == 2 and editor.form.index == 2

    form = editor.form
    qtbot.waitUntil(lambda: form.editor("factor") is not None and form.editor("factor").isVisible(), timeout=2000)
    assert form.findChild(QLabel, "layerSettingsHint").text() == ThrowAwayScale.summary
    assert form.fields.label("factor").text() == "Scale factor:"  # the Param's label (the layer form adds ":")
    spin = form.editor("factor")
    assert spin.objectName() == "param_factor"
    assert (spin.minimum(), spin.maximum(), spin.singleStep(), spin.decimals()) == (0.5, 8.0, 0.5, 1)
    assert "What every value is multiplied by" in spin.toolTip() and "between 0.5 and 8" in spin.toolTip()
    qtbot.mouseClick(spin, Qt.MouseButton.LeftButton)
    qtbot.keyClick(spin, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(spin, "3.5")
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    assert document.spec.layers[2].config == {"factor": 3.5}
    assert document.undo_stack.undoText() == "Set ThrowAwayScale factor to 3.5"
    qtbot.keyClick(spin, Qt.Key.Key_Up)  # one step of 0.5, merged into the same undo step
    assert document.spec.layers[2].config == {"factor": 4.0}
    document.undo_stack.undo()
    assert document.spec.layers[2].config == {"factor": 2.0} and spin.value() == 2.0


def test_an_unregistered_type_leaves_the_palette(throw_away_layer, make_editor):
    LAYER_TYPES.pop("ThrowAwayScale")
    editor = make_editor()
    assert "ThrowAwayScale" not in palette_names(editor)
    assert type_color("ThrowAwayScale") == OTHER_COLOR  # a file naming it shows a grey badge, not a crash
    register_layer(ThrowAwayScale)  # the fixture unregisters it again


# --------------------------------------------------------------------------- no per-type tables in the GUI


def _type_name_tables(path: Path, names: set[str]) -> list[str]:
    """Literal dicts keyed by, and tuples/lists/sets of, two or more of ``names``."""
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            elements = [k for k in node.keys if k is not None]
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            elements = list(node.elts)
        else:
            continue
        hits = {e.value for e in elements if isinstance(e, ast.Constant) and e.value in names}
        if len(hits) >= 2:
            found.append(f"{path}:{node.lineno} {sorted(hits)}")
    return found


def test_no_module_of_the_gui_keeps_a_table_of_type_names():
    names = set(LAYER_TYPES) | set(OPTIMIZERS) | set(LOSSES)
    tables = [hit for path in sorted(NNSTUDIO.rglob("*.py")) for hit in _type_name_tables(path, names)]
    assert tables == [], "per-type tables belong on the types in core:\n" + "\n".join(tables)


def test_the_table_check_would_see_a_table(tmp_path):
    # The check above must be able to fail: it finds the kinds of table this issue removed.
    sample = tmp_path / "old_editor.py"
    sample.write_text('TYPE_COLORS = {"Dense": 1, "Conv2D": 2}\n'
                      'PALETTE = ("Dense", "Flatten")\n'
                      'LOSS_LABELS = {"mse": "x", "cross_entropy": "y"}\n'
                      'ONE = {"type": "Dense", "units": 3}\n', encoding="utf-8")
    hits = _type_name_tables(sample, set(LAYER_TYPES) | set(LOSSES))
    assert [hit.split(" ", 1)[0].rsplit(":", 1)[1] for hit in hits] == ["1", "2", "3"]  # not the one-layer spec
