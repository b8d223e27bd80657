"""File ▸ Export ▸ … and File ▸ Import trained weights…, driven through the menus with mouse
clicks: the NumPy export end to end (background job, green check line), importing a weights
file into the document's network (with the confirmation), refusals, and disabling while
training runs."""

from __future__ import annotations

import importlib.util

import numpy as np
from PySide6.QtCore import Qt

from core import Network


def _click_menu_path(qtbot, window, *path) -> None:
    """Click File, then each submenu / action of ``path`` (QMenu or QAction) in turn."""
    bar = window.menuBar()
    file_action = next(a for a in bar.actions() if a.text() == "&File")
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.actionGeometry(file_action).center())
    menu = file_action.menu()
    qtbot.waitUntil(menu.isVisible)
    for item in path:
        action = item.menuAction() if hasattr(item, "menuAction") else item
        assert action.isEnabled(), action.text()
        qtbot.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(action).center())
        if hasattr(item, "menuAction"):
            qtbot.waitUntil(item.isVisible)
            menu = item


def _trained(window) -> Network:
    """Give the document a 'trained' network (its spec, seeded weights) as a run would."""
    net = Network.from_spec(window.document.spec)
    window.document.network_trained(net)
    return net


def test_file_menu_offers_export_and_import(open_main_window):
    w = open_main_window()
    file_menu = next(a for a in w.menuBar().actions() if a.text() == "&File").menu()
    assert w.export_menu.menuAction() in file_menu.actions()
    assert w.import_weights_action in file_menu.actions()
    assert [a.text() for a in w.export_menu.actions()] == ["&ONNX…", "&PyTorch project…", "&NumPy script…"]


def test_export_needs_trained_weights_and_is_disabled_while_training(open_main_window):
    w = open_main_window()
    assert w.document.network is None
    assert not any(a.isEnabled() for a in w.export_actions.values())
    assert "Train the network" in w.export_actions["numpy"].statusTip()
    _trained(w)
    assert all(a.isEnabled() for a in w.export_actions.values())
    w.document.set_training_active(True)
    try:
        assert not any(a.isEnabled() for a in w.export_actions.values())
        assert not w.import_weights_action.isEnabled()
        assert "while training runs" in w.export_actions["onnx"].statusTip()
    finally:
        w.document.set_training_active(False)
    assert all(a.isEnabled() for a in w.export_actions.values()) and w.import_weights_action.isEnabled()


def test_numpy_export_end_to_end_shows_a_green_check_line(open_main_window, dialogs, qtbot, tmp_path):
    w = open_main_window()
    net = _trained(w)
    dialogs.folder = str(tmp_path / "np")
    with qtbot.waitSignal(w.exports.runner.finished, timeout=30_000):
        _click_menu_path(qtbot, w, w.export_menu, w.export_actions["numpy"])
    assert "folder" in dialogs.asked
    # the folder is named like Save As, proposed beside the model (no model file yet: home)
    assert dialogs.folder_suggestions[-1].endswith("model_numpy")
    bar = w.message_bar
    qtbot.waitUntil(lambda: "✓ NumPy script" in bar.text)
    assert bar.text.startswith(f"NumPy script written to {tmp_path / 'np'}. ✓ NumPy script (float64) matches")
    assert bar.level == "success" and bar.isVisible()
    # the files are what the message says: the script reproduces the network
    spec = importlib.util.spec_from_file_location("exported_predict", tmp_path / "np" / "predict.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    x = np.random.default_rng(0).random((7, *net.input_shape)).astype(np.float32)
    np.testing.assert_allclose(module.predict(x), net.predict_proba(x), atol=1e-6)


def test_export_cancelled_in_the_dialog_does_nothing(open_main_window, dialogs, qtbot):
    w = open_main_window()
    _trained(w)
    dialogs.folder = None
    _click_menu_path(qtbot, w, w.export_menu, w.export_actions["numpy"])
    assert "folder" in dialogs.asked
    assert not w.exports.busy()
    assert not w.message_bar.isVisible()


def test_import_trained_weights_replaces_the_network_after_asking(open_main_window, dialogs, qtbot, tmp_path):
    from core.export.pytorch import to_pytorch  # written on the pytorch branch (issue 19)

    w = open_main_window()
    before = _trained(w)
    source = Network.from_spec(w.document.spec.to_dict() | {"seed": 99})  # same layers, other weights
    to_pytorch(source, tmp_path / "torch")
    dialogs.data_paths = [str(tmp_path / "torch" / "weights.npz")]
    dialogs.confirm_answer = True
    with qtbot.waitSignal(w.document.snapshotChanged, timeout=5000):
        _click_menu_path(qtbot, w, w.import_weights_action)
    assert dialogs.asked[-2:] == ["data", "confirm"]
    now = w.document.network
    assert now is not before
    for key, value in source.get_weights().items():
        np.testing.assert_allclose(now.get_weights()[key], value, atol=1e-7)
        np.testing.assert_allclose(w.document.snapshot.get_weights()[key], value, atol=1e-7)  # views refresh
    assert w.document.modified
    assert w.message_bar.text.startswith("Imported ") and w.message_bar.level == "success"


def test_import_declined_or_mismatched_changes_nothing(open_main_window, dialogs, qtbot, tmp_path):
    w = open_main_window()
    before = _trained(w)
    weights = before.get_weights()
    other = Network.from_spec({"input_shape": [2], "layers": [{"type": "Dense", "units": 3}], "loss": "mse",
                               "optimizer": {"type": "SGD", "learning_rate": 0.1}})
    np.savez(tmp_path / "other.npz", **other.get_weights())
    dialogs.data_paths = [str(tmp_path / "other.npz")]
    dialogs.confirm_answer = False
    _click_menu_path(qtbot, w, w.import_weights_action)
    assert w.document.network is before and not w.message_bar.isVisible()
    dialogs.confirm_answer = True
    _click_menu_path(qtbot, w, w.import_weights_action)
    assert w.document.network is before
    for key, value in weights.items():
        np.testing.assert_array_equal(w.document.network.get_weights()[key], value)
    qtbot.waitUntil(w.message_bar.isVisible)
    assert w.message_bar.text.startswith("The weights in other.npz were not imported: ")
    assert w.message_bar.level == "error"


def test_an_export_that_cannot_write_shows_a_sentence_and_keeps_the_file(open_main_window, dialogs, qtbot, tmp_path):
    w = open_main_window()
    _trained(w)
    (tmp_path / "taken").write_text("keep")
    dialogs.folder = str(tmp_path / "taken")
    with qtbot.waitSignal(w.exports.runner.failed, timeout=30_000):
        _click_menu_path(qtbot, w, w.export_menu, w.export_actions["numpy"])
    qtbot.waitUntil(lambda: w.message_bar.text.startswith("The export failed: "))
    assert "taken" in w.message_bar.text and "Traceback" not in w.message_bar.text
    assert w.message_bar.level == "error"
    assert (tmp_path / "taken").read_text() == "keep"
    assert all(a.isEnabled() for a in w.export_actions.values())  # ready for another try
