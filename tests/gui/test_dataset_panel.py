"""DatasetPanel: choosing, parametrising and importing datasets through the real widgets,
the network-fit notice and its one-step fix, and failures that keep the previous choice."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QFrame, QLabel, QPushButton, QSpinBox

from core import NetworkSpec, analyze
from core.data import DATASET_NAMES, DATASETS
from core.spec.dataset_fit import check_compatibility
from nnstudio.state.document import DatasetChoice
from nnstudio.widgets.data.dataset_panel import DatasetPanel
from nnstudio.widgets.data.dataset_preview import DatasetPreview
from tests.core.data_fixtures import squares_dataset_entry


@pytest.fixture
def panel(qtbot, document, dialogs):
    widget = DatasetPanel(document, dialogs)
    qtbot.addWidget(widget)
    widget.resize(320, 700)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    assert widget.shutdown(5000)


def pick(qtbot, combo: QComboBox, data) -> None:
    """Open the combo's list, move to the item holding ``data`` and press Enter."""
    index = combo.findData(data)
    assert index >= 0, data
    combo.showPopup()
    combo.view().setCurrentIndex(combo.model().index(index, 0))
    qtbot.keyClick(combo.view(), Qt.Key.Key_Return)


def combo(panel) -> QComboBox:
    return panel.findChild(QComboBox, "datasetCombo")


def notice(panel) -> QFrame:
    return panel.findChild(QFrame, "compatNotice")


def fit_button(panel) -> QPushButton:
    return panel.findChild(QPushButton, "fitNetworkButton")


def cnn_spec(shape=(1, 8, 8)) -> NetworkSpec:
    return NetworkSpec.from_dict({
        "input_shape": list(shape),
        "layers": [{"type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": "same"},
                   {"type": "Activation", "function": "relu"}, {"type": "Flatten"},
                   {"type": "Dense", "units": 10}, {"type": "Activation", "function": "softmax"}]})


# --------------------------------------------------------------------------- the list


def test_combo_lists_every_dataset_in_order_then_imports(panel):
    c = combo(panel)
    names = [c.itemData(i) for i in range(c.count())]
    assert names[:len(DATASET_NAMES)] == list(DATASET_NAMES)
    assert [c.itemText(i) for i in range(len(DATASET_NAMES))] == [DATASETS[n].title for n in DATASET_NAMES]
    assert names[-2:] == ["import-idx", "import-csv"]
    assert c.itemText(c.count() - 1) == "Import CSV…"
    assert c.currentData() == "digits8x8"


def test_choosing_a_dataset_changes_the_document_and_undo_restores(qtbot, panel, document):
    with qtbot.waitSignal(document.datasetChanged, timeout=2000):
        pick(qtbot, combo(panel), "moons")
    assert document.dataset_choice.name == "moons"
    assert document.undo_stack.undoText() == "Use dataset Moons"
    assert "400 samples" in panel.findChild(QLabel, "datasetInfo").text()
    document.undo_stack.undo()
    assert document.dataset_choice == DatasetChoice("digits8x8")
    assert combo(panel).currentData() == "digits8x8"
    document.undo_stack.redo()
    assert combo(panel).currentData() == "moons"


def test_info_and_preview_follow_the_dataset(qtbot, panel, document):
    preview = panel.findChild(DatasetPreview, "datasetPreview")
    info = panel.findChild(QLabel, "datasetInfo").text()
    assert "1,797 samples" in info and "64 inputs" in info and "10 classes" in info
    assert "CC BY 4.0" in panel.findChild(QLabel, "datasetAttribution").text()
    assert preview.mode == "images" and preview.examples == tuple(str(d) for d in range(10))
    pick(qtbot, combo(panel), "blobs")
    assert preview.mode == "scatter"
    assert "3 classes: blob 1, blob 2, blob 3" in panel.findChild(QLabel, "datasetInfo").text()


def test_generated_parameters_are_undoable_edits(qtbot, panel, document):
    pick(qtbot, combo(panel), "spirals")
    classes = panel.findChild(QSpinBox, "datasetParam_n_classes")
    samples = panel.findChild(QSpinBox, "datasetParam_n_samples")
    noise = panel.findChild(QDoubleSpinBox, "datasetParam_noise")
    assert classes.isVisible() and samples.value() == 400 and noise.value() == pytest.approx(0.05)
    assert classes.toolTip() and samples.toolTip() and noise.toolTip()
    count = document.undo_stack.count()
    for _ in range(2):  # two arrow steps while the field has focus: one undo step
        qtbot.keyClick(classes, Qt.Key.Key_Up)
    assert document.dataset_choice.params["n_classes"] == 4
    assert document.dataset().n_classes == 4
    assert document.undo_stack.count() == count + 1
    qtbot.keyClick(samples, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(samples, "1000")
    qtbot.keyClick(samples, Qt.Key.Key_Return)
    assert document.dataset().n_samples == 1000
    document.undo_stack.undo()
    document.undo_stack.undo()
    assert document.dataset_choice.params.get("n_classes", 2) == 2 and samples.value() == 400
    assert classes.value() == 2
    pick(qtbot, combo(panel), "digits8x8")
    assert not panel.findChild(QSpinBox, "datasetParam_n_classes")  # the form belongs to generated sets


def test_a_new_catalogue_entry_is_offered_with_a_form_built_from_its_schema(qtbot, document, dialogs, monkeypatch):
    calls: list[dict] = []
    monkeypatch.setitem(DATASETS, "squares", squares_dataset_entry(calls))
    panel = DatasetPanel(document, dialogs)  # built after the entry joined the catalogue
    qtbot.addWidget(panel)
    panel.resize(320, 700)
    panel.show()
    qtbot.waitExposed(panel)

    c = combo(panel)
    index = c.findData("squares")
    assert c.itemText(index) == "Squares (test)"
    assert c.itemData(index, Qt.ItemDataRole.ToolTipRole) == "Grid points, left half against right half."
    assert c.findData("squares") < c.findData("import-idx")  # among the named sets, before the imports
    with qtbot.waitSignal(document.datasetChanged, timeout=2000):
        pick(qtbot, c, "squares")
    assert document.dataset_choice.name == "squares" and calls[-1] == {"side": 4, "spread": 1.0}
    assert "16 samples" in panel.findChild(QLabel, "datasetInfo").text()

    side = panel.findChild(QSpinBox, "datasetParam_side")
    spread = panel.findChild(QDoubleSpinBox, "datasetParam_spread")
    assert side.isVisible() and spread.isVisible()
    assert (side.minimum(), side.maximum(), side.value()) == (2, 12, 4)
    assert (spread.minimum(), spread.maximum(), spread.singleStep(), spread.decimals()) == (0.1, 5.0, 0.5, 2)
    assert side.toolTip() == "Points per row (between 2 and 12)"  # the help and range from the schema
    assert any(label.text().startswith("Points per side") for label in panel.findChildren(QLabel))

    qtbot.keyClick(side, Qt.Key.Key_Up)
    assert document.dataset_choice.params["side"] == 5 and document.dataset().n_samples == 25
    assert calls[-1] == {"side": 5, "spread": 1.0}
    assert document.undo_stack.undoText() == "Change Squares points per side"
    qtbot.keyClick(side, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(side, "99")  # beyond the schema's maximum: the field cannot hold it
    qtbot.keyClick(side, Qt.Key.Key_Return)
    assert 2 <= document.dataset_choice.params["side"] <= 12 and 2 <= calls[-1]["side"] <= 12
    with qtbot.waitSignal(document.datasetChanged, timeout=2000):
        pick(qtbot, c, "moons")  # leave the document on a set that outlives this test's entry


def test_impossible_parameters_cannot_be_entered(qtbot, panel, document):
    pick(qtbot, combo(panel), "blobs")
    classes = panel.findChild(QSpinBox, "datasetParam_n_classes")
    samples = panel.findChild(QSpinBox, "datasetParam_n_samples")
    for widget, text in ((classes, "11"), (classes, "1"), (samples, "5")):
        qtbot.keyClick(widget, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
        qtbot.keyClicks(widget, text)
        qtbot.keyClick(widget, Qt.Key.Key_Return)
    data = document.dataset()  # whatever was accepted loads
    assert 2 <= data.n_classes <= 10 and data.n_samples >= 20


# --------------------------------------------------------------------------- network fit


def test_mismatch_shows_notice_and_fix_makes_the_spec_fit_in_one_undo_step(qtbot, panel, document):
    spec_before = document.spec
    assert not notice(panel).isVisible()
    pick(qtbot, combo(panel), "blobs")
    assert notice(panel).isVisible() and fit_button(panel).isVisible()
    text = panel.findChild(QLabel, "compatNoticeText").text()
    assert "The network expects 64 inputs but Blobs has 2 inputs" in text
    assert "The network has 10 outputs but Blobs has 3 classes" in text
    count = document.undo_stack.count()
    qtbot.mouseClick(fit_button(panel), Qt.MouseButton.LeftButton)
    data = document.dataset()
    assert check_compatibility(document.spec, data.input_shape, data.n_classes) == []
    assert analyze(document.spec).ok and document.spec.input_shape == (2,)
    assert not notice(panel).isVisible()
    assert document.undo_stack.count() == count  # merged into the dataset change
    document.undo_stack.undo()  # one step takes back both
    assert document.dataset_choice.name == "digits8x8" and document.spec == spec_before


def test_fix_after_another_edit_is_its_own_undo_step(qtbot, panel, document):
    pick(qtbot, combo(panel), "moons")
    document.change("Change epochs", training=document.training.__class__(epochs=5))
    count = document.undo_stack.count()
    qtbot.mouseClick(fit_button(panel), Qt.MouseButton.LeftButton)
    assert document.undo_stack.count() == count + 1
    assert document.undo_stack.undoText() == "Fit network to Moons"
    document.undo_stack.undo()
    assert document.dataset_choice.name == "moons" and document.training.epochs == 5
    assert notice(panel).isVisible()


def test_spec_edits_elsewhere_update_the_notice(qtbot, panel, document):
    assert not notice(panel).isVisible()
    layers = list(document.spec.layers)
    layers[2] = layers[2].with_config(units=7)
    document.change("Edit layer", spec=document.spec.with_layers(layers))
    assert notice(panel).isVisible()
    assert "7 outputs but Digits 8×8 has 10 classes" in panel.findChild(QLabel, "compatNoticeText").text()
    document.undo_stack.undo()
    assert not notice(panel).isVisible()


def test_image_sets_take_the_layout_of_the_first_layer(qtbot, panel, document):
    document.reset(document.state.__class__(cnn_spec((1, 28, 28)), document.training, DatasetChoice("moons")))
    pick(qtbot, combo(panel), "digits8x8")
    assert document.dataset_choice.params["layout"] == "image"
    assert document.dataset().input_shape == (1, 8, 8)
    qtbot.mouseClick(fit_button(panel), Qt.MouseButton.LeftButton)
    assert document.spec.input_shape == (1, 8, 8) and analyze(document.spec).ok
    assert not notice(panel).isVisible()


def test_fix_switches_the_layout_when_the_network_changes_to_conv(qtbot, panel, document):
    # Digits are flat (64,) for the default MLP; the user rebuilds the network as a CNN.
    document.change("Make CNN", spec=cnn_spec((64,)))
    assert notice(panel).isVisible()
    qtbot.mouseClick(fit_button(panel), Qt.MouseButton.LeftButton)
    assert document.dataset_choice.params["layout"] == "image"
    assert document.spec.input_shape == (1, 8, 8) == document.dataset().input_shape
    assert not notice(panel).isVisible()


def test_unfixable_mismatch_explains_without_a_button(qtbot, panel, document):
    document.reset(document.state.__class__(cnn_spec((1, 8, 8)), document.training,
                                            DatasetChoice("digits8x8", {"layout": "image"})))
    pick(qtbot, combo(panel), "moons")  # Conv2D cannot take 2-D points
    assert notice(panel).isVisible() and not fit_button(panel).isVisible()
    assert "Conv2D" in panel.findChild(QLabel, "compatNoticeText").text()


# --------------------------------------------------------------------------- imports


def test_bad_csv_import_reports_and_keeps_the_previous_dataset(qtbot, panel, document, dialogs, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y,label\n1,2,0\n3,oops,1\n")
    dialogs.data_paths = [str(bad)]
    before = document.dataset_choice
    with qtbot.waitSignal(document.message, timeout=3000) as message:
        pick(qtbot, combo(panel), "import-csv")
    text, level, _ = message.args
    assert level == "error" and "bad.csv" in text and "line 3" in text
    assert text.count("bad.csv") == 1, text  # named once, the location kept
    assert document.dataset_choice == before and document.undo_stack.count() == 0
    assert combo(panel).currentData() == "digits8x8"
    assert "data" in dialogs.asked


def test_good_csv_import_becomes_the_dataset(qtbot, panel, document, dialogs, tmp_path):
    rng = np.random.default_rng(0)
    rows = ["a,b,c,label"] + [f"{x:.3f},{y:.3f},{z:.3f},{k}" for (x, y, z), k in
                               zip(rng.normal(size=(60, 3)), np.arange(60) % 3, strict=True)]
    good = tmp_path / "points.csv"
    good.write_text("\n".join(rows) + "\n")
    dialogs.data_paths = [str(good)]
    pick(qtbot, combo(panel), "import-csv")
    assert document.dataset_choice == DatasetChoice("import-csv", {"path": str(good)})
    assert combo(panel).currentText() == "Imported: points.csv"
    assert document.dataset().input_shape == (3,)
    assert panel.findChild(DatasetPreview, "datasetPreview").mode == "scatter"
    assert notice(panel).isVisible()  # the digits MLP expects 64 inputs
    document.undo_stack.undo()
    assert combo(panel).findText("Imported: points.csv") < 0


def _idx(path, array, code):
    header = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))
    return path


def test_idx_import_needs_two_files_and_accepts_them_in_any_order(qtbot, panel, document, dialogs, tmp_path):
    images = _idx(tmp_path / "imgs-idx3-ubyte.gz", np.arange(20 * 5 * 5).reshape(20, 5, 5) % 256, 0x08)
    labels = _idx(tmp_path / "labels-idx1-ubyte.gz", np.arange(20) % 2, 0x08)
    dialogs.data_paths = [str(images)]
    with qtbot.waitSignal(document.message, timeout=3000) as message:
        pick(qtbot, combo(panel), "import-idx")
    assert "two files" in message.args[0] and document.dataset_choice.name == "digits8x8"
    dialogs.data_paths = [str(labels), str(images)]
    pick(qtbot, combo(panel), "import-idx")
    assert document.dataset_choice.name == "import-idx"
    assert document.dataset_choice.params["images"] == str(images)
    data = document.dataset()
    assert data.input_shape == (25,) and data.n_classes == 2
    assert panel.findChild(DatasetPreview, "datasetPreview").mode == "images"


def test_cancelled_import_changes_nothing(qtbot, panel, document, dialogs):
    dialogs.data_paths = []
    pick(qtbot, combo(panel), "import-csv")
    assert document.undo_stack.count() == 0 and combo(panel).currentData() == "digits8x8"


# --------------------------------------------------------------------------- training


def test_dataset_cannot_change_while_training(qtbot, panel, document):
    document.set_training_active(True)
    assert not combo(panel).isEnabled()
    assert not panel.choose("moons")
    assert document.dataset_choice.name == "digits8x8"
    document.set_training_active(False)
    assert combo(panel).isEnabled()


@pytest.mark.mnist
def test_kept_drawings_can_join_the_next_run(qtbot, document, dialogs, mnist_dir, monkeypatch, tmp_path):
    from PySide6.QtWidgets import QCheckBox

    from nnstudio.state.user_dataset import UserDrawings

    monkeypatch.setenv("NNSTUDIO_HOME", str(tmp_path))
    store = UserDrawings.load()
    for label in (1, 7, 7):
        image = np.zeros((28, 28))
        image[6:22, 13:15] = 1.0
        store.add(image, label)
    widget = DatasetPanel(document, dialogs)
    qtbot.addWidget(widget)
    widget.show()
    check = widget.findChild(QCheckBox, "includeDrawingsCheck")
    assert not check.isVisibleTo(widget)  # digits: drawings are 28×28, not offered
    assert widget.choose("mnist")
    assert check.isVisibleTo(widget) and check.text() == "Include my drawings (3)"
    before = len(document.dataset().y)
    qtbot.mouseClick(check, Qt.MouseButton.LeftButton)
    data = document.dataset()
    assert len(data.y) == before + 3 and list(data.y[-3:]) == [1, 7, 7]
    assert len(data.y_test) == 10_000  # the test set is never touched
    assert np.allclose(data.x[-1].reshape(28, 28)[6:22, 13:15], 1.0)
    assert document.undo_stack.undoText() == "Include my drawings"
    document.undo_stack.undo()
    assert len(document.dataset().y) == before and not check.isChecked()
    assert widget.shutdown(5000)
