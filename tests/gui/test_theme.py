"""View ▸ Theme (issue 15 item 12): the choice is made through the menu with the mouse, the
plots, confusion matrix and canvas follow it (pixels read from ``grab()``), what the model
sees from the canvas does not change, and the choice is remembered."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QLabel

from core.data.drawing import preprocess_drawing
from nnstudio.main_window import MainWindow
from nnstudio.settings import app_settings
from nnstudio.theme import (
    SETTINGS_KEY,
    apply_saved_theme,
    is_dark,
    saved_theme,
    theme_manager,
)
from tests.gui.test_digit_canvas import drag


@pytest.fixture
def window(open_main_window):
    theme_manager().apply("light")
    yield open_main_window()
    theme_manager().apply("system")  # leave the app as the other tests expect it
    app_settings().remove(SETTINGS_KEY)


def choose_theme(qtbot, window, name: str) -> None:
    """View ▸ Theme ▸ <name> with mouse clicks on the menu bar and the two menus."""
    bar = window.menuBar()
    view_actions = [a for a in bar.actions() if a.text() == "&View"]
    assert len(view_actions) == 1  # one View menu: the side-panel toggles and the Theme submenu
    view_action = view_actions[0]
    assert {window.show_network_panel_action, window.show_settings_panel_action,
            window.theme_menu.menuAction()} <= set(view_action.menu().actions())
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.actionGeometry(view_action).center())
    view_menu = view_action.menu()
    qtbot.waitUntil(view_menu.isVisible)
    theme_menu = window.theme_menu
    qtbot.mouseClick(view_menu, Qt.MouseButton.LeftButton,
                     pos=view_menu.actionGeometry(theme_menu.menuAction()).center())
    qtbot.waitUntil(theme_menu.isVisible)
    target = window.theme_actions[name]
    qtbot.mouseClick(theme_menu, Qt.MouseButton.LeftButton, pos=theme_menu.actionGeometry(target).center())
    qtbot.waitUntil(lambda: theme_manager().choice == name and not theme_menu.isVisible())
    if name != "system":  # widgets receive the new palette through posted events
        qtbot.waitUntil(lambda: is_dark(window.palette()) == (name == "dark"))


def pixel(widget, x: int, y: int) -> QColor:
    return widget.grab().toImage().pixelColor(x, y)


def loss_plot(window):
    from nnstudio.widgets.train.training_plot import MetricPlot

    return window.findChild(MetricPlot, "lossPlot")


def test_the_theme_menu_switches_plots_matrix_and_canvas_and_keeps_the_model_input(window, qtbot):
    plot = loss_plot(window)
    matrix = window.evaluation_panel.confusion_view
    matrix.set_matrix(np.array([[9, 1], [0, 10]]), ("a", "b"))
    window.tabs.setCurrentWidget(window.draw_panel)
    canvas = window.draw_panel.canvas
    qtbot.waitExposed(canvas)
    drag(qtbot, canvas, [(60, 140), (220, 140)])  # a horizontal bar of ink through the middle
    model_input_light = canvas.image_array().copy()
    preprocessed_light = preprocess_drawing(model_input_light, "mnist")

    def colours():
        window.tabs.setCurrentWidget(window.dashboard)
        qtbot.waitExposed(plot)
        # The viewport: grab() of the PlotWidget itself crashes offscreen (also before this change).
        background = pixel(plot.viewport(), plot.width() - 6, plot.height() // 2)  # right margin of the plot
        window.tabs.setCurrentWidget(window.evaluation_panel)
        qtbot.waitUntil(lambda: matrix.isVisible())
        diagonal = pixel(matrix.viewport(), *matrix.cell_center(1, 1).toTuple())
        empty = pixel(matrix.viewport(), *matrix.cell_center(1, 0).toTuple())
        window.tabs.setCurrentWidget(window.draw_panel)
        qtbot.waitExposed(canvas)
        paper, ink = pixel(canvas, 20, 20), pixel(canvas, 140, 140)
        return background, diagonal, empty, paper, ink

    background, diagonal, empty, paper, ink = colours()
    assert background.name() == "#ffffff"
    assert empty.lightness() > 230 and diagonal.lightness() < 80  # white (0) to dark blue (1)
    assert paper.name() == "#ffffff" and ink.name() == "#000000"  # black ink on white paper
    assert window.theme_actions["light"].isChecked()

    choose_theme(qtbot, window, "dark")
    assert is_dark() and window.theme_actions["dark"].isChecked()
    assert window.palette().color(window.backgroundRole()).lightness() < 80
    background, diagonal, empty, paper, ink = colours()
    assert background.lightness() < 50, background.name()
    axis = plot.getPlotItem().getAxis("bottom")
    assert axis.textPen().color().lightness() > 180  # tick labels readable on the dark background
    assert all("color:#e6e6e6" in label.item.toHtml() for _, label in plot.legend.items)  # legend texts too
    assert empty.lightness() < 80 and diagonal.lightness() > 200  # the map reversed: the diagonal glows
    # Muted captions (style sheets with palette(placeholder-text)) are re-read: light grey, not black.
    hint = window.findChild(QLabel, "layerSettingsHint")
    assert hint.palette().color(QPalette.ColorRole.WindowText).lightness() > 120
    assert paper.name() == "#000000" and ink.name() == "#ffffff"  # white ink on black
    # Only the screen changed: the model gets exactly the same input.
    assert np.array_equal(canvas.image_array(), model_input_light)
    assert np.array_equal(preprocess_drawing(canvas.image_array(), "mnist"), preprocessed_light)

    choose_theme(qtbot, window, "light")
    background, diagonal, empty, paper, ink = colours()
    assert background.name() == "#ffffff" and paper.name() == "#ffffff" and empty.lightness() > 230


def test_the_choice_is_remembered_and_applied_at_the_next_start(window, qtbot, dialogs):
    choose_theme(qtbot, window, "dark")
    assert saved_theme() == "dark"
    assert app_settings().value(SETTINGS_KEY) == "dark"  # the temporary NNSTUDIO_HOME's settings
    theme_manager().apply("light", remember=False)  # as if the app started afresh, light
    assert not is_dark()
    apply_saved_theme()  # what app.main() does at start-up
    assert is_dark()
    second = MainWindow(dialogs=dialogs)
    qtbot.addWidget(second)
    assert second.theme_actions["dark"].isChecked() and not second.theme_actions["system"].isChecked()
    second.controller.shutdown()


def test_system_follows_the_platform_and_unknown_values_fall_back_to_system(window, qtbot):
    choose_theme(qtbot, window, "system")
    assert saved_theme() == "system"
    # The offscreen platform reports no scheme and a light palette: System means light here.
    assert not is_dark()
    app_settings().setValue(SETTINGS_KEY, "purple")
    assert saved_theme() == "system"
    with pytest.raises(ValueError, match="unknown theme 'purple'"):
        theme_manager().apply("purple")


def test_gradient_check_rows_follow_the_theme(qtbot, dialogs):
    from nnstudio.state.document import Document
    from tests.gui.test_eval_grad_check import background, run_check_by_click
    from tests.gui.test_evaluation_panel import WAIT, make_panel, train

    theme_manager().apply("light", remember=False)
    document = Document()
    train(document, epochs=1)
    panel = make_panel(qtbot, document, dialogs)
    try:
        view, _rows = run_check_by_click(qtbot, panel)
        assert background(view, 0) == "#e5f5e0"  # pale green on a light theme
        theme_manager().apply("dark", remember=False)
        qtbot.waitUntil(lambda: background(view, 0) != "#e5f5e0")
        assert QColor(background(view, 0)).lightness() < 80  # a dark green on a dark theme
    finally:
        theme_manager().apply("system", remember=False)
        assert panel.shutdown(WAIT)


def test_message_bar_colours_follow_the_theme(window, qtbot):
    window.show_message("The file could not be read.", "error")
    bar = window.message_bar
    qtbot.waitUntil(bar.isVisible)
    light = pixel(bar, 4, bar.height() // 2)
    assert light.lightness() > 200 and light.red() > light.blue()  # pale red
    choose_theme(qtbot, window, "dark")
    qtbot.waitUntil(lambda: pixel(bar, 4, bar.height() // 2).lightness() < 100)
    dark = pixel(bar, 4, bar.height() // 2)
    assert dark.red() > dark.blue()  # still red, now dark
    text = bar.findChild(QLabel, "messageText")
    assert text.palette().color(QPalette.ColorRole.WindowText).lightness() > 150  # light text on it
