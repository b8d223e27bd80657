"""The Step-through tab, driven like a user: real mouse and key events, waits on GUI-thread
signals (never a sleep, never a modal dialog).

Covers: the drawing traced on the MNIST CNN (strokes drawn on ``digitCanvas``), stepping
forward and back (buttons and Left/Right), clicking a conv pixel and a Dense unit to see
their formulas with the engine's numbers, "Apply this step" changing the weights by exactly
the updates shown, a paused run traced / applied / resumed ending with the weights of an
uninterrupted run, the finite-difference check, the XOR walk-through, and refusals.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

import numpy as np
import pytest
import threadpoolctl
from PySide6.QtCore import QPoint, Qt

from core import Network
from core.analysis.trace_views import BarsPanel, GridPanel
from nnstudio.state.presets import load_presets
from nnstudio.widgets.stepthrough.panels import BarsView, GridView

TIMEOUT = 30_000

pytestmark = pytest.mark.usefixtures("one_blas_thread")


# ------------------------------------------------------------------------------------- helpers
def preset(key: str):
    return {p.key: p for p in load_presets()}[key].state()


def click(qtbot, widget, pos: QPoint | None = None) -> None:
    """A left click: press and release at ``pos`` (the centre by default)."""
    pos = pos if pos is not None else widget.rect().center()
    qtbot.mousePress(widget, Qt.MouseButton.LeftButton, pos=pos)
    qtbot.mouseRelease(widget, Qt.MouseButton.LeftButton, pos=pos)


def click_tab(qtbot, window, widget) -> None:
    bar = window.tabs.tabBar()
    click(qtbot, bar, bar.tabRect(window.tabs.indexOf(widget)).center())
    assert window.tabs.currentWidget() is widget


def choose_source(qtbot, view, data: str) -> None:
    """Pick a source in the combo with the keyboard (Home, then Down as often as needed)."""
    combo = view.source_combo
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key.Key_Home)
    for _ in range(combo.findData(data)):
        qtbot.keyClick(combo, Qt.Key.Key_Down)
    assert view.source == data


def type_into(qtbot, spin, value: int) -> None:
    spin.setFocus()
    qtbot.keyClick(spin, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(spin, str(value))
    qtbot.keyClick(spin, Qt.Key.Key_Tab)
    assert spin.value() == value


def trace(qtbot, view):
    with qtbot.waitSignal(view.controller.traced, timeout=TIMEOUT) as traced:
        click(qtbot, view.trace_button)
    return traced.args[0]


def draw_seven(qtbot, canvas) -> None:
    """A 7 drawn with real mouse events: the bar, then the stem."""
    w, h = canvas.width(), canvas.height()
    strokes = [[(0.3, 0.25), (0.5, 0.25), (0.7, 0.25)], [(0.7, 0.25), (0.6, 0.45), (0.5, 0.6), (0.42, 0.8)]]
    for stroke in strokes:
        points = [QPoint(int(x * w), int(y * h)) for x, y in stroke]
        qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=points[0])
        for a, b in pairwise(points):
            for t in np.linspace(0, 1, 8)[1:]:
                qtbot.mouseMove(canvas, QPoint(int(a.x() + t * (b.x() - a.x())), int(a.y() + t * (b.y() - a.y()))))
        qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=points[-1])


def click_number(qtbot, view, quantity: str, layer: int, index: tuple, kind=None):
    """Click the number ``index`` of ``quantity`` in the stage on screen; return the explanation."""
    target = view.stage_view(quantity, layer, kind)
    view.panels_scroll.ensureWidgetVisible(target)
    with qtbot.waitSignal(view.controller.explained, timeout=TIMEOUT) as explained:
        click(qtbot, target, target.point_of(index))
    return explained.args[0]


@pytest.fixture
def window(open_main_window):
    return open_main_window(size=(1400, 860), active=True)


# --------------------------------------------------------------------------------------- tests
def test_the_tab_sits_beside_train(window):
    tabs = window.tabs
    assert tabs.tabText(tabs.indexOf(window.step_view)) == "Step through"
    assert tabs.indexOf(window.step_view) == tabs.indexOf(window.dashboard) + 1
    assert window.findChild(type(window.step_view), "stepThroughView") is window.step_view
    view = window.step_view  # nothing traced yet: nothing to walk through
    assert not view.back_button.isEnabled() and not view.forward_button.isEnabled()
    assert not view.row_spin.isEnabled()


def test_drawing_on_the_cnn_walk_forward_and_back_and_a_conv_pixel_formula(qtbot, window):
    doc = window.document
    doc.reset(preset("05-mnist-cnn"))
    view = window.step_view
    click_tab(qtbot, window, window.draw_panel)
    draw_seven(qtbot, window.draw_panel.canvas)
    click_tab(qtbot, window, view)
    choose_source(qtbot, view, "drawing")
    type_into(qtbot, view.label_spin, 7)
    result = trace(qtbot, view)

    trace_ = result.trace
    assert result.origin == "document" and result.batch_size == 1
    np.testing.assert_array_equal(trace_.targets[0], np.eye(10)[7])
    assert trace_.layers[0].input.max() > 0.5  # the drawing reached the network
    assert doc.network is result.base and not doc.modified  # tracing trained nothing
    n = len(trace_.layers)
    assert len(view.stages) == 2 * n + 1 and view.stage_index == 0

    # Walk: buttons and the arrow keys.
    click(qtbot, view.forward_button)
    assert view.stage_index == 1
    qtbot.keyClick(view.panels_scroll, Qt.Key.Key_Right)
    assert view.stage_index == 2
    qtbot.keyClick(view.panels_scroll, Qt.Key.Key_Left)
    qtbot.keyClick(view.panels_scroll, Qt.Key.Key_Left)
    assert view.stage_index == 0 and not view.back_button.isEnabled()
    qtbot.keyClick(view.panels_scroll, Qt.Key.Key_Left)
    assert view.stage_index == 0
    for _ in range(n):
        click(qtbot, view.forward_button)
    assert view.stages[view.stage_index].direction == "loss"
    click(qtbot, view.forward_button)
    assert view.stages[view.stage_index].direction == "backward" and view.stages[view.stage_index].layer == n - 1
    click(qtbot, view.back_button)
    assert view.stages[view.stage_index].direction == "loss"
    while view.stage_index > 0:
        click(qtbot, view.back_button)

    # Click the brightest pixel of the first convolution's output: its formula, window and kernel.
    out = trace_.layers[0].output[0]
    index = tuple(int(i) for i in np.unravel_index(np.argmax(out), out.shape))
    explanation = click_number(qtbot, view, "output", 0, index)
    formula = explanation.formula
    assert formula.engine_value == float(out[index])
    assert formula.exact or abs(formula.value - formula.engine_value) <= formula.tolerance
    pane = view.side.formula
    assert pane.title_label.text() == formula.title and "Conv2D" in formula.title
    assert pane.equation_label.text() == formula.equation
    assert pane.lines_edit.toPlainText() == "\n".join(formula.lines)
    assert repr(formula.value) in pane.check_label.text()
    windows = [p.panel for p in pane.findChildren(GridView)]
    assert [p.title for p in windows] == ["input window", "kernel", "input × kernel"]
    np.testing.assert_array_equal(windows[1].values, trace_.layers[0].params["W"][index[0]])
    framed = view.stage_view(None, -1)  # the network's input: the window is framed on it
    assert len(framed.outlines) == 1 and framed.outlines[0][2:] == (5, 5)  # 5×5 kernel, "same" padding

    # MaxPool2D (layer 3): the winner of a window is named and marked.
    while view.stages[view.stage_index].layer != 2:
        click(qtbot, view.forward_button)
    pooled = trace_.layers[2].output[0]
    index = tuple(int(i) for i in np.unravel_index(np.argmax(pooled), pooled.shape))
    explanation = click_number(qtbot, view, "output", 2, index)
    assert explanation.formula.engine_value == float(pooled[index]) and "winner" in pane.lines_edit.toPlainText()
    window_view = next(v for v in pane.findChildren(GridView) if v.panel.title == "input window")
    assert window_view._selected == window_view.panel.pixel_of(explanation.winner)
    assert len(view.stage_view("output", 1).outlines) == 1  # the window framed in the pooled feature map


def test_a_winograd_convolution_pixel_is_explained_with_its_bound(qtbot, window):
    """The shipped model's second convolution (32 -> 64 channels, 3×3) computes by Winograd's
    F(2×2, 3×3): clicking one of its pixels, then one of its weight gradients, replays that
    arithmetic to the last bit."""
    from core.resource_files import resource_file

    with resource_file("models/mnist_cnn.nnz") as path:
        assert window.open_path(path)
    view = window.step_view
    click_tab(qtbot, window, window.draw_panel)
    draw_seven(qtbot, window.draw_panel.canvas)
    click_tab(qtbot, window, view)
    choose_source(qtbot, view, "drawing")
    trace_ = trace(qtbot, view).trace
    assert window.document.network.layers[3].arithmetic(1).layout == "winograd"
    while view.stages[view.stage_index].layer != 3:
        click(qtbot, view.forward_button)
    out = trace_.layers[3].output[0]
    index = tuple(int(i) for i in np.unravel_index(np.argmax(out), out.shape))
    formula = click_number(qtbot, view, "output", 3, index).formula
    assert formula.engine_value == float(out[index]) and formula.title.startswith("Conv2D 64 3×3 same (layer 4)")
    pane = view.side.formula
    assert "Winograd's F(2×2, 3×3)" in pane.lines_edit.toPlainText()
    assert formula.exact and formula.value == formula.engine_value  # replayed as the engine computes it
    assert "bit for bit" in pane.check_label.text()

    # A weight gradient of that layer: Winograd's backward, replayed to the last bit too.
    while view.stages[view.stage_index].direction != "backward" or view.stages[view.stage_index].layer != 3:
        click(qtbot, view.forward_button)
    grad = click_number(qtbot, view, "grad:W", 3, (5, 7, 1, 1)).formula
    assert grad.exact and grad.value == grad.engine_value == float(trace_.layers[3].grads["W"][5, 7, 1, 1])
    assert "bit for bit" in pane.check_label.text() and "Winograd" in pane.lines_edit.toPlainText()


def test_a_dense_unit_formula_and_apply_changes_the_weights_by_the_shown_update(qtbot, window):
    doc = window.document  # the default document: an MLP on the 8×8 digits
    view = window.step_view
    click_tab(qtbot, window, view)
    choose_source(qtbot, view, "sample")
    type_into(qtbot, view.sample_spin, 5)
    result = trace(qtbot, view)
    trace_ = result.trace
    np.testing.assert_array_equal(trace_.layers[0].input[0], doc.dataset().x[5].reshape(-1))
    dense = next(r for r in trace_.layers if r.type == "Dense")

    # Forward stage of the first Dense layer: click one of its units (a bar).
    while view.stages[view.stage_index].layer != dense.index:
        click(qtbot, view.forward_button)
    outputs = dense.output[0]
    unit = int(np.argmax(np.abs(outputs)))
    explanation = click_number(qtbot, view, "output", dense.index, (unit,), BarsView)
    assert explanation.formula.engine_value == float(outputs[unit])
    assert explanation.formula.exact or abs(explanation.formula.value - explanation.formula.engine_value) \
        <= explanation.formula.tolerance
    assert view.side.formula.title_label.text() == explanation.formula.title

    # Its backward stage: click one weight's update, then apply the step.
    while not (view.stages[view.stage_index].direction == "backward"
               and view.stages[view.stage_index].layer == dense.index):
        click(qtbot, view.forward_button)
    update = dense.update["W"]
    i, j = (int(v) for v in np.unravel_index(np.argmax(np.abs(update)), update.shape))
    explanation = click_number(qtbot, view, "update:W", dense.index, (i, j))
    assert explanation.formula.engine_value == float(update[i, j])

    before = {k: v.copy() for k, v in doc.network.get_weights().items()}
    assert not doc.modified
    with qtbot.waitSignal(view.controller.applied, timeout=TIMEOUT):
        click(qtbot, view.apply_button)
    after = doc.network
    assert after is result.network and doc.modified  # a real, unsaved change of the weights
    for record in trace_.layers:
        for name, shown in record.update.items():
            key = f"layers.{record.index}.{name}"
            assert np.array_equal(after.get_weights()[key], record.params_after[name])
            assert np.array_equal(after.get_weights()[key] - before[key], shown)
    assert float(after.get_weights()[f"layers.{dense.index}.W"][i, j] - before[f"layers.{dense.index}.W"][i, j]) \
        == explanation.formula.engine_value
    # Applying traces the same sample again on the changed network, and the old step cannot be applied twice.
    qtbot.waitUntil(lambda: view.result is not result, timeout=TIMEOUT)
    assert view.result.trace.loss < trace_.loss


def test_apply_on_a_network_changed_since_the_trace_is_refused(qtbot, window):
    doc = window.document
    view = window.step_view
    click_tab(qtbot, window, view)
    choose_source(qtbot, view, "sample")
    trace(qtbot, view)
    doc.reset_weights()  # the network the step was traced on is gone
    fresh = doc.network_for_training()
    weights = {k: v.copy() for k, v in fresh.get_weights().items()}
    with qtbot.waitSignal(view.controller.problem, timeout=TIMEOUT) as problem:
        click(qtbot, view.apply_button)
    assert "changed since this step was traced" in problem.args[0]
    assert "changed since" in view.status_label.text()
    assert doc.network is fresh
    for key, value in fresh.get_weights().items():
        assert np.array_equal(value, weights[key])


def test_a_paused_run_traced_applied_and_resumed_ends_as_an_uninterrupted_run(qtbot, window):
    doc = window.document
    doc.change("settings", training=replace(doc.training, epochs=2, batch_size=50))
    controller = window.controller
    view = window.step_view
    with qtbot.waitSignal(controller.started, timeout=TIMEOUT):
        controller.step_batch()  # one batch, then paused
    qtbot.waitUntil(lambda: controller.waiting, timeout=TIMEOUT)
    click_tab(qtbot, window, view)
    assert view.source_combo.itemText(0) == "Next batch of the run"
    choose_source(qtbot, view, "batch")
    first = trace(qtbot, view)
    assert first.origin == "run" and first.batch_size == 50

    # Apply = the run trains exactly that batch; the view then traces the run's next one.
    with qtbot.waitSignal(view.controller.traced, timeout=TIMEOUT) as traced:
        click(qtbot, view.apply_button)
    second = traced.args[0]
    assert second.origin == "run" and second is not first
    for old, new in zip(first.trace.layers, second.trace.layers, strict=True):
        for name, after in old.params_after.items():
            assert np.array_equal(new.params[name], after)  # the run's weights moved by exactly the shown update

    with qtbot.waitSignal(controller.finished, timeout=TIMEOUT):
        controller.resume()
    s = doc.splits()
    reference = Network.from_spec(doc.spec)
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        reference.fit(s.x_train, s.y_train, epochs=2, batch_size=50, validation_data=(s.x_val, s.y_val),
                      shuffle=doc.training.shuffle)
    got, want = doc.network.get_weights(), reference.get_weights()
    assert got.keys() == want.keys()
    for key in got:
        assert np.array_equal(got[key], want[key]), key


def test_tracing_is_refused_while_training_runs(qtbot, window):
    doc = window.document
    doc.change("settings", training=replace(doc.training, epochs=200, batch_size=8))
    view = window.step_view
    with qtbot.waitSignal(window.controller.started, timeout=TIMEOUT):
        window.controller.start()
    assert not view.trace_button.isEnabled() and "pause it" in view.trace_button.toolTip()
    window.controller.stop()


def test_finite_differences_for_the_layer_on_screen(qtbot, window):
    view = window.step_view
    click_tab(qtbot, window, view)
    choose_source(qtbot, view, "sample")
    result = trace(qtbot, view)
    weights_before = {k: v.copy() for k, v in result.network.get_weights().items()}
    dense = next(r for r in result.trace.layers if r.type == "Dense")
    while not (view.stages[view.stage_index].direction == "backward"
               and view.stages[view.stage_index].layer == dense.index):
        click(qtbot, view.forward_button)
    with qtbot.waitSignal(view.controller.checked, timeout=TIMEOUT) as checked:
        click(qtbot, view.check_button)
    check = checked.args[0]
    assert check.layer == dense.index and len(check.rows) > 0
    assert all(row.agrees for row in check.rows)
    text = view.side.check.text()
    assert "backprop" in text and check.rows[0].what in text
    assert view.side.currentWidget().widget() is view.side.check
    for key, value in result.network.get_weights().items():
        assert np.array_equal(value, weights_before[key])  # checking changes nothing


def test_xor_walk_through_like_the_article(qtbot, window):
    doc = window.document
    doc.reset(preset("01-xor-seed1"))
    view = window.step_view
    click_tab(qtbot, window, view)
    assert view.walk_button.isEnabled()
    with qtbot.waitSignal(view.controller.traced, timeout=TIMEOUT) as traced:
        click(qtbot, view.walk_button)
    result = traced.args[0]
    assert result.batch_size == 1 and result.walkthrough
    text = view.side.walkthrough.toPlainText()
    assert view.side.currentWidget() is view.side.walkthrough
    for step in result.walkthrough:
        assert step.title in text
    assert "dE/dY" in text and "dE/dW" in text


def test_the_drawing_is_refused_when_empty_or_when_the_network_takes_no_image(qtbot, window):
    view = window.step_view
    window.document.reset(preset("05-mnist-cnn"))
    click_tab(qtbot, window, view)
    choose_source(qtbot, view, "drawing")
    click(qtbot, view.trace_button)
    assert "canvas is empty" in view.status_label.text() and view.result is None
    window.document.reset(preset("01-xor-seed1"))
    assert not view.trace_button.isEnabled()
    assert "28×28 or 8×8" in view.trace_button.toolTip()


def test_long_layers_are_summarised_and_every_value_is_a_click_away(qtbot, window):
    doc = window.document
    doc.reset(preset("05-mnist-cnn"))
    view = window.step_view
    click_tab(qtbot, window, view)
    draw_target = window.draw_panel.canvas
    click_tab(qtbot, window, window.draw_panel)
    draw_seven(qtbot, draw_target)
    click_tab(qtbot, window, view)
    choose_source(qtbot, view, "drawing")
    result = trace(qtbot, view)
    dense = next(r for r in result.trace.layers if r.type == "Dense")  # Dense 120
    while view.stages[view.stage_index].layer != dense.index:
        click(qtbot, view.forward_button)
    bars = view.stage_view("output", dense.index, BarsView).panel
    assert isinstance(bars, BarsPanel) and bars.total == 120 and len(bars.values) < 120
    grid = view.stage_view("output", dense.index, GridView).panel
    assert isinstance(grid, GridPanel) and grid.values.size == 120
    unit = int(np.argmin(np.abs(dense.output[0])))  # a small one: not among the bars
    explanation = click_number(qtbot, view, "output", dense.index, (unit,), GridView)
    assert explanation.pick.index == (unit,) and explanation.formula.engine_value == float(dense.output[0][unit])


def test_changing_the_settings_after_a_trace_disables_apply(qtbot, window):
    doc = window.document
    view = window.step_view
    click_tab(qtbot, window, view)
    choose_source(qtbot, view, "sample")
    trace(qtbot, view)
    assert view.apply_button.isEnabled()
    optimizer = dict(doc.spec.optimizer, learning_rate=0.5)
    doc.change("learning rate", spec=replace(doc.spec, optimizer=optimizer))
    assert not view.apply_button.isEnabled() and "changed since this step was traced" in view.status_label.text()
    trace(qtbot, view)  # traced again: the new settings' step can be applied
    assert view.apply_button.isEnabled()


@pytest.mark.parametrize("key", [p.key for p in load_presets()])
def test_every_preset_traces_a_sample_and_explains_a_number_of_every_stage(qtbot, window, key, request):
    state = preset(key)
    if state.dataset.name == "mnist":
        request.getfixturevalue("mnist_dir")  # skips, saying why, where MNIST is not on this computer
    doc = window.document
    doc.reset(state)
    view = window.step_view
    click_tab(qtbot, window, view)
    choose_source(qtbot, view, "sample")
    result = trace(qtbot, view)
    assert result.batch_size == 1 and len(view.stages) == 2 * len(result.trace.layers) + 1
    for stage in range(len(view.stages)):
        view.show_stage(stage)
        box = next(b for b in view.panel_boxes if b.panel.quantity is not None)
        panel = box.panel
        index = panel.indices[-1] if isinstance(panel, BarsPanel) else \
            panel.pick_at(*(int(v) for v in np.argwhere(panel.index[..., 0] >= 0)[-1]))
        explanation = click_number(qtbot, view, panel.quantity, panel.layer, index, type(box.view))
        formula = explanation.formula
        assert formula.exact or abs(formula.value - formula.engine_value) <= formula.tolerance, formula.title
        assert view.side.formula.title_label.text() == formula.title
