"""Keyboard shortcuts (no clashes, Redo's keys, training keys, tooltips), Help ▸ Keyboard
shortcuts and Help ▸ User guide, and icons that survive their files going away (issue 15
items 2, 13 and 16)."""

from __future__ import annotations

import fnmatch
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import QApplication, QWidget

from core import resource_files
from nnstudio.main_window import MainWindow
from nnstudio.shortcuts import key_sequences, shortcut_clashes, window_shortcuts
from nnstudio.state.presets import load_presets

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def window(open_main_window):
    return open_main_window(active=True)


def press(qtbot, widget, sequence: QKeySequence) -> None:
    """A real key press (and release) of ``sequence``'s single key combination."""
    combo = sequence[0]
    qtbot.keyClick(widget, combo.key(), combo.keyboardModifiers())


def keys_of(action: QAction) -> list[str]:
    return [s.toString(QKeySequence.SequenceFormat.PortableText) for s in action.shortcuts()]


# -- the audit --------------------------------------------------------------------------------------

def test_no_key_is_bound_twice_in_the_main_window(window):
    """Every shortcut of every action and QShortcut in the window, standard keys resolved to
    this platform's bindings: none may be ambiguous (Qt would then ignore the key)."""
    entries = window.shortcut_entries()
    keys = {e.key for e in entries}
    # The audit really sees the window's commands, including the widget-scoped editor keys.
    assert {"Ctrl+Z", "Ctrl+Shift+Z", "Ctrl+Return", "Shift+F5", "F10", "Ctrl+E", "F1", "Del", "Ctrl+D"} <= keys
    assert shortcut_clashes(entries) == []
    # Each action's own list has no duplicates either (the Linux-desktop Redo bug).
    for action in window.findChildren(QAction):
        assert len(keys_of(action)) == len(set(keys_of(action))), action.text()


def test_the_audit_reports_the_clashes_qt_would_find(qtbot):
    """What binding "Ctrl+Shift+Z" and StandardKey.Redo gave on a Linux desktop (where
    Redo's first key is Ctrl+Shift+Z), and the other ways two bindings collide."""
    root = QWidget()
    qtbot.addWidget(root)
    left, right = QWidget(root), QWidget(root)
    redo = QAction("Redo", root)
    redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Shift+Z")])
    assert shortcut_clashes(window_shortcuts(root)) == [
        "Ctrl+Shift+Z is bound to “Redo” twice (everywhere / everywhere)"]
    redo.setShortcuts(key_sequences("Ctrl+Shift+Z", QKeySequence.StandardKey.Redo))
    assert shortcut_clashes(window_shortcuts(root)) == []
    # Two widget-scoped keys in separate widgets do not collide; window-wide + scoped do.
    for widget, name in ((left, "Delete layer"), (right, "Delete point")):
        a = QAction(name, widget)
        a.setShortcut(QKeySequence("Del"))
        a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        widget.addAction(a)
    assert shortcut_clashes(window_shortcuts(root)) == []
    wide = QShortcut(QKeySequence("Del"), root)
    wide.setObjectName("Clear all")
    clashes = shortcut_clashes(window_shortcuts(root))
    assert len(clashes) == 2 and all("Clear all" in c for c in clashes)


def test_key_sequences_expands_standard_keys_and_keeps_each_key_once(qtbot):
    redo = key_sequences(QKeySequence.StandardKey.Redo, "Ctrl+Shift+Z")
    texts = [s.toString() for s in redo]
    assert len(texts) == len(set(texts)) and "Ctrl+Shift+Z" in texts
    assert {s.toString() for s in QKeySequence.keyBindings(QKeySequence.StandardKey.Redo)} <= set(texts)


# -- Redo with real keys ----------------------------------------------------------------------------

def test_real_ctrl_shift_z_and_every_redo_key_redo(window, qtbot):
    editor = window.layer_editor
    editor.list_view.setFocus()
    editor.select_row(0)
    layers = len(window.document.spec.layers)
    qtbot.keyClick(editor.list_view, Qt.Key.Key_Delete)  # an edit to undo
    assert len(window.document.spec.layers) == layers - 1
    redo_keys = key_sequences(QKeySequence.StandardKey.Redo, "Ctrl+Shift+Z")
    assert [s.toString() for s in redo_keys].count("Ctrl+Shift+Z") == 1
    for sequence in redo_keys:
        qtbot.keyClick(editor.list_view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        assert len(window.document.spec.layers) == layers, "Ctrl+Z did not undo"
        press(qtbot, editor.list_view, sequence)
        assert len(window.document.spec.layers) == layers - 1, f"{sequence.toString()} did not redo"


# -- training and evaluation keys, tooltips ------------------------------------------------------------

def _xor(window):
    preset = next(p for p in load_presets() if p.state().dataset.name == "xor")
    window.new_from_preset(preset)


def test_training_keys_start_step_stop_and_evaluate(window, qtbot):
    _xor(window)
    controls = window.dashboard.controls
    controller = window.controller
    # Tooltips name the keys, in every state.
    assert controls.train_button.toolTip().endswith("(Ctrl+Return)")
    assert controls.step_button.toolTip().endswith("(F10)")
    assert controls.step_epoch_button.toolTip().endswith("(Ctrl+F10)")
    assert controls.stop_button.toolTip().endswith("(Shift+F5)")
    evaluate_button = window.evaluation_panel.evaluate_button
    assert evaluate_button.toolTip().endswith("(Ctrl+E)")
    assert not window.evaluate_action.isEnabled()  # nothing trained yet: mirrors the button
    window.document.change("Long run", training=replace(window.document.training, epochs=10_000))
    focus = window.layer_editor.list_view  # keys typed anywhere in the window
    focus.setFocus()
    with qtbot.waitSignal(controller.started, timeout=5000):
        qtbot.keyClick(focus, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert controls.stop_button.toolTip().endswith("(Shift+F5)")
    with qtbot.waitSignal(controller.finished, timeout=10000):
        qtbot.keyClick(focus, Qt.Key.Key_F5, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: controller.state == "idle", timeout=5000)
    # F10: one batch, then paused.
    with qtbot.waitSignal(controller.started, timeout=5000):
        qtbot.keyClick(focus, Qt.Key.Key_F10)
    qtbot.waitUntil(lambda: controller.state == "paused" and controller.waiting, timeout=10000)
    with qtbot.waitSignal(controller.finished, timeout=10000):
        qtbot.keyClick(focus, Qt.Key.Key_F5, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: evaluate_button.isEnabled(), timeout=10000)
    assert window.evaluate_action.isEnabled()
    window.tabs.setCurrentWidget(window.dashboard)
    qtbot.keyClick(focus, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentWidget() is window.evaluation_panel
    assert evaluate_button.toolTip().endswith("(Ctrl+E)")


# -- Help menu ----------------------------------------------------------------------------------------

def _click_menu_item(qtbot, window, menu, action):
    bar = window.menuBar()
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.actionGeometry(menu.menuAction()).center())
    qtbot.waitUntil(menu.isVisible, timeout=2000)
    qtbot.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(action).center())
    qtbot.waitUntil(lambda: not menu.isVisible(), timeout=2000)


def test_help_shortcuts_lists_the_live_actions_non_modally(window, qtbot):
    help_menu = window.findChild(QWidget, "helpMenu")
    _click_menu_item(qtbot, window, help_menu, window.shortcuts_action)
    shortcuts = window.findChild(QWidget, "shortcutsWindow")
    qtbot.waitUntil(shortcuts.isVisible, timeout=2000)
    assert not shortcuts.isModal() and QApplication.activeModalWidget() is None
    rows = {name: (keys, where) for name, keys, where in shortcuts.rows()}
    assert "Ctrl+Shift+Z" in rows["Redo"][0] and rows["Redo"][1] == "everywhere"
    assert rows["Save"] == ("Ctrl+S", "everywhere")  # not "Ctrl+S or Save": office-keyboard keys hidden
    assert rows["Delete layer"] == ("Del", "in the layer list")
    assert "Ctrl+Return" in rows["Train"][0]
    assert "Space" in rows["Pause / Resume training"][0]
    text = shortcuts.browser.toPlainText()
    assert "Evaluate on test set" in text and "Ctrl+E" in text
    # Built from the actions: a key given to an action later shows up when shown again.
    window.about_action.setShortcut(QKeySequence("Ctrl+Shift+F1"))
    _click_menu_item(qtbot, window, help_menu, window.shortcuts_action)
    assert ("About nnstudio", "Ctrl+Shift+F1", "everywhere") in shortcuts.rows()
    # The window stays usable while the list is open (non-modal).
    window.activateWindow()
    editor = window.layer_editor
    editor.select_row(0)
    editor.list_view.setFocus()
    layers = len(window.document.spec.layers)
    qtbot.keyClick(editor.list_view, Qt.Key.Key_Delete)
    assert len(window.document.spec.layers) == layers - 1


def test_f1_opens_the_bundled_user_guide(window, qtbot):
    qtbot.keyClick(window.layer_editor.list_view, Qt.Key.Key_F1)
    guide = window.findChild(QWidget, "userGuideWindow")
    assert guide is not None
    qtbot.waitUntil(guide.isVisible, timeout=2000)
    assert not guide.isModal()
    text = guide.browser.toPlainText()
    assert text.startswith("nnstudio user guide")
    for words in ("Train", "Ctrl+Return", "Evaluate on test set", "Help ▸ Keyboard shortcuts", "Undo"):
        assert words in text


def test_the_guide_ships_in_the_wheel():
    text = (REPO / "resources" / "guide.md").read_text(encoding="utf-8")
    assert text.startswith("# nnstudio user guide")
    # (No tomllib: the project supports Python 3.10.) The package-data line for the resources:
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    section = pyproject.split("[tool.setuptools.package-data]", 1)[1]
    line = re.search(r'^"core\.resources"\s*=\s*\[(.*)\]\s*$', section, re.MULTILINE).group(1)
    patterns = re.findall(r'"([^"]+)"', line)
    assert patterns and "icons/*" in patterns
    assert any(fnmatch.fnmatch("guide.md", p) for p in patterns)


# -- icons loaded once ---------------------------------------------------------------------------------

def test_icons_survive_their_files_going_away(qtbot, dialogs, tmp_path, monkeypatch, qtlog):
    """A reinstall under a running app: the icon files vanish (and the resource accessor
    fails); menus and windows opened afterwards still show the icon, with no warning."""
    from nnstudio import help as help_module
    from nnstudio import icons

    copy = tmp_path / "resources"
    shutil.copytree(REPO / "resources", copy)
    monkeypatch.setattr(resource_files, "resources_root", lambda: copy)
    icons._icon.cache_clear()
    help_module.guide_markdown.cache_clear()
    try:
        icon = icons.app_icon()  # start-up
        QApplication.setWindowIcon(icon)
        window = MainWindow(dialogs=dialogs)
        qtbot.addWidget(window)
        window.show()
        shutil.rmtree(copy)  # the reinstall

        def gone(*_args, **_kwargs):
            raise FileNotFoundError("the shipped resource is missing; reinstall nnstudio")

        monkeypatch.setattr(resource_files, "resources_root", gone)
        monkeypatch.setattr(icons, "read_resource_bytes", gone)
        window.show_shortcuts()
        window.show_user_guide()
        assert window.guide_window.browser.toPlainText().startswith("nnstudio user guide")  # read at start
        for menu in window.menuBar().findChildren(QWidget, "helpMenu"):
            menu.popup(window.mapToGlobal(QPoint(10, 10)))
            menu.hide()
        for size in (16, 22, 37, 64, 100, 300):
            for source in (icons.app_icon(), QApplication.windowIcon(), window.shortcuts_window.windowIcon()):
                image = source.pixmap(size, size).toImage()
                assert not image.isNull() and image.width() == size, f"no {size} px icon"
                assert image.pixelColor(size // 2, size // 2).alpha() == 255
        # (The offscreen plugin's "This plugin does not support raise()" and friends aside.)
        warnings = [r.message for r in qtlog.records if not r.message.startswith("This plugin does not support")]
        assert warnings == []
        assert window.controller.shutdown()
    finally:
        icons._icon.cache_clear()
        help_module.guide_markdown.cache_clear()
        QApplication.setWindowIcon(QApplication.windowIcon().__class__())

