"""Gradient-check view: all green for a correct network, red for a deliberately broken
layer (test-only fault injection), readable parameter names, the learner's explanation."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

import core
from core.analysis.gradcheck import DEFAULT_THRESHOLD
from core.layers.activations import Activation
from core.layers.conv import Conv2D
from core.layers.dense import Dense
from nnstudio.widgets.evaluate.grad_check_view import COLUMNS
from tests.gui.test_evaluation_panel import WAIT, make_panel, train


def run_check_by_click(qtbot, panel):
    view = panel.grad_check_view
    panel.tabs.setCurrentWidget(view)
    qtbot.waitUntil(view.button.isVisible, timeout=WAIT)
    with qtbot.waitSignal(view.checkFinished, timeout=WAIT) as blocker:
        qtbot.mouseClick(view.button, Qt.MouseButton.LeftButton)
        assert not view.button.isEnabled()  # one check at a time
    assert view.button.isEnabled()
    return view, blocker.args[0]


def table_rows(view):
    m = view.table.model()
    return [[m.index(r, c).data() for c in range(m.columnCount())] for r in range(m.rowCount())]


def background(view, row):
    return view.table.model().index(row, 0).data(Qt.ItemDataRole.BackgroundRole).color().name()


def test_correct_network_passes_every_layer(qtbot, document):
    train(document, epochs=1)
    panel = make_panel(qtbot, document)
    before = document.snapshot.get_weights()
    view, rows = run_check_by_click(qtbot, panel)
    assert [r.result.key for r in rows] == ["layers.0.W", "layers.0.b", "layers.2.W", "layers.2.b", "input"]
    assert all(r.result.passed and r.result.relative_error < DEFAULT_THRESHOLD for r in rows)
    shown = table_rows(view)
    assert [row[0] for row in shown] == ["layer 1 (Dense 64) · weights W", "layer 1 (Dense 64) · bias b",
                                         "layer 3 (Dense 10) · weights W", "layer 3 (Dense 10) · bias b",
                                         "input (gradient with respect to the input)"]
    assert all(row[3] == "✓ passed" for row in shown)
    assert background(view, 0) == "#e5f5e0"  # green
    assert view.status.text().startswith("✓ All 5 gradients agree")
    assert "training samples" in view.status.text()
    explanation = view.explanation.text()
    assert "relative error = ||analytic − numeric|| / (||analytic|| + ||numeric||)" in explanation
    # The check works on a float64 copy: the user's weights are untouched.
    after = document.snapshot.get_weights()
    assert all(np.array_equal(before[k], after[k]) for k in before)
    assert panel.shutdown(WAIT)


def test_a_broken_backward_pass_is_flagged_on_its_layer(qtbot, document, monkeypatch):
    train(document, epochs=1)
    panel = make_panel(qtbot, document)
    original = Activation.backward

    def broken(self, dy, need_input_grad=True):
        grad = original(self, dy, need_input_grad)
        return grad * 1.5 if self.function == "relu" else grad  # fault: relu's gradient scaled

    monkeypatch.setattr(Activation, "backward", broken)
    view, rows = run_check_by_click(qtbot, panel)
    verdict = {r.result.key: r.result.passed for r in rows}
    # Layers before the relu get the wrong gradient; the last Dense layer (after it) does not.
    assert verdict == {"layers.0.W": False, "layers.0.b": False, "layers.2.W": True, "layers.2.b": True,
                       "input": False}
    shown = table_rows(view)
    assert shown[0][3] == "✗ failed" and shown[2][3] == "✓ passed"
    assert background(view, 0) == "#fde0dd"  # red
    assert float(shown[0][1]) > DEFAULT_THRESHOLD
    assert view.status.text().startswith("✗ 3 of 5 gradients disagree")
    assert "layer 1 (Dense 64) · weights W" in view.status.text()
    assert panel.shutdown(WAIT)


def test_a_broken_dense_weight_gradient_is_flagged(qtbot, document, monkeypatch):
    panel = make_panel(qtbot, document)  # untrained: a fresh network from the spec is checked
    original = Dense.backward

    def broken(self, dy, need_input_grad=True):
        dx = original(self, dy, need_input_grad)
        self.grads["W"] *= 0.9  # fault: weight gradient off by 10%
        return dx

    monkeypatch.setattr(Dense, "backward", broken)
    view, rows = run_check_by_click(qtbot, panel)
    failed = sorted(r.result.key for r in rows if not r.result.passed)
    assert failed == ["layers.0.W", "layers.2.W"]
    assert "untrained network" in view.status.text()
    assert panel.shutdown(WAIT)


def test_a_cnn_is_checked_layer_by_layer(qtbot, dialogs):
    from nnstudio.state.document import DatasetChoice, Document, DocumentState

    spec = core.NetworkSpec.from_dict({
        "input_shape": [1, 8, 8],
        "layers": [{"type": "Conv2D", "filters": 3, "kernel_size": 3}, {"type": "Activation", "function": "tanh"},
                   {"type": "MaxPool2D", "pool_size": 2}, {"type": "Flatten"}, {"type": "Dense", "units": 10},
                   {"type": "Activation", "function": "softmax"}],
        "loss": "cross_entropy", "optimizer": {"type": "Adam", "learning_rate": 0.01}, "seed": 0})
    document = Document(DocumentState(spec, core.TrainingConfig(), DatasetChoice("digits8x8", {"layout": "image"})))
    panel = make_panel(qtbot, document, dialogs)
    _view, rows = run_check_by_click(qtbot, panel)
    assert [r.title for r in rows][:2] == ["layer 1 (Conv2D 3 3×3) · weights W", "layer 1 (Conv2D 3 3×3) · bias b"]
    assert all(r.result.passed for r in rows)
    assert panel.shutdown(WAIT)


def test_an_invalid_spec_is_explained_instead_of_checked(qtbot, document):
    bad = document.spec.with_layers([core.LayerSpec.of("Conv2D", filters=2, kernel_size=3)])
    document.change("Break", spec=bad)
    panel = make_panel(qtbot, document)
    assert panel.grad_check_view.run_check() is False
    assert "cannot be built" in panel.grad_check_view.status.text()
    assert panel.grad_check_view.button.isEnabled()


@pytest.mark.parametrize("repeat", range(3))
def test_repeated_checks_report_once_each(qtbot, document, repeat):
    """Threading: a check started while one runs supersedes it; exactly one report arrives."""
    panel = make_panel(qtbot, document)
    view = panel.grad_check_view
    reports = []
    view.checkFinished.connect(reports.append)
    view.run_check()
    view.run_check()  # programmatic second start while the first may still run
    qtbot.waitUntil(lambda: len(reports) >= 1 and not view.running, timeout=WAIT)
    assert panel.shutdown(WAIT)
    qtbot.wait(0)  # deliver anything still queued (there must be nothing)
    assert len(reports) == 1


def relu_cnn_document():
    """A small LeNet-style CNN (relu + max-pool) on the 8×8 digits as images."""
    from nnstudio.state.document import DatasetChoice, Document, DocumentState

    spec = core.NetworkSpec.from_dict({
        "input_shape": [1, 8, 8],
        "layers": [{"type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": "same"},
                   {"type": "Activation", "function": "relu"}, {"type": "MaxPool2D", "pool_size": 2},
                   {"type": "Flatten"}, {"type": "Dense", "units": 16}, {"type": "Activation", "function": "relu"},
                   {"type": "Dense", "units": 10}, {"type": "Activation", "function": "softmax"}],
        "loss": "cross_entropy", "optimizer": {"type": "Adam", "learning_rate": 0.01}, "seed": 0})
    return Document(DocumentState(spec, core.TrainingConfig(), DatasetChoice("digits8x8", {"layout": "image"})))


def test_a_trained_relu_cnn_on_real_digits_is_not_accused_and_kinks_are_counted(qtbot, dialogs):
    """Issue 15 item 3: flat digit backgrounds put ReLU and max-pool at kinks; the check
    leaves those entries out, says how many, and passes a correct engine."""
    document = relu_cnn_document()
    train(document, epochs=2)
    panel = make_panel(qtbot, document, dialogs)
    view, rows = run_check_by_click(qtbot, panel)
    failed = {r.result.key: r.result.relative_error for r in rows if not r.result.passed}
    assert failed == {}, f"a correct engine was accused: {failed}"
    assert all(r.result.conclusive for r in rows)
    by_key = {r.result.key: r.result for r in rows}
    assert by_key["input"].kinks > 0  # background pixels: pooling ties broken differently by ±ε
    shown = table_rows(view)
    assert COLUMNS[-1] == "At a kink"
    assert [int(row[-1]) for row in shown] == [r.result.kinks for r in rows]
    assert all(row[3] == "✓ passed" for row in shown)
    total = sum(r.result.kinks for r in rows)
    status = view.status.text()
    assert status.startswith(f"✓ All {len(rows)} gradients agree")
    assert f"{total} sampled entries at a ReLU or max-pool kink excluded" in status
    assert "A real failure looks different" in view.explanation.text()
    assert panel.shutdown(WAIT)


def test_a_dropped_conv_bias_gradient_is_still_flagged_on_a_relu_cnn(qtbot, dialogs, monkeypatch):
    document = relu_cnn_document()
    train(document, epochs=2)
    panel = make_panel(qtbot, document, dialogs)
    original = Conv2D.backward

    def broken(self, dy, need_input_grad=True):
        dx = original(self, dy, need_input_grad)
        self.grads["b"][...] = 0  # fault: the bias gradient is dropped
        return dx

    monkeypatch.setattr(Conv2D, "backward", broken)
    view, rows = run_check_by_click(qtbot, panel)
    assert [r.result.key for r in rows if not r.result.passed] == ["layers.0.b"]
    assert view.status.text().startswith(f"✗ 1 of {len(rows)} gradients disagree")
    assert "layer 1 (Conv2D 4 3×3" in view.status.text()
    assert panel.shutdown(WAIT)
