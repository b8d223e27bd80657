"""The Evaluate tab: evaluation after a run and on demand, confusion matrix, report, gallery,
CSV / PNG export, staleness and data problems. Offscreen, real clicks, no sleeps."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QImage

import core
from core.data import DataError
from nnstudio.state.document import DatasetChoice, Document, DocumentState
from nnstudio.widgets.evaluate.evaluation_panel import EvaluationPanel

WAIT = 20_000


class FakeController(QObject):
    """The three signals the panel may rely on (the real TrainingController has more)."""

    finished = Signal(str, object)
    epochReport = Signal(object)
    stateChanged = Signal(str)


def train(document: Document, epochs: int = 5, batch_size: int = 32) -> None:
    """A short run outside the controller: the document's network, then network_trained()."""
    network = document.network_for_training()
    splits = document.splits()
    network.fit(splits.x_train, splits.y_train, epochs=epochs, batch_size=batch_size)
    document.network_trained()


def make_panel(qtbot, document, dialogs=None, controller=None, size=(1100, 820)) -> EvaluationPanel:
    panel = EvaluationPanel(document, controller, dialogs)
    qtbot.addWidget(panel)
    panel.resize(*size)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def evaluate_by_click(qtbot, panel: EvaluationPanel):
    with qtbot.waitSignal(panel.evaluationFinished, timeout=WAIT) as blocker:
        qtbot.mouseClick(panel.evaluate_button, Qt.MouseButton.LeftButton)
    return blocker.args[0]


@pytest.fixture
def trained(qtbot, document, dialogs):
    """A panel on the default digits MLP after a 5-epoch run, evaluated by a click."""
    train(document, epochs=5)
    panel = make_panel(qtbot, document, dialogs)
    evaluate_by_click(qtbot, panel)
    yield panel
    assert panel.shutdown(WAIT)


def model_counts(panel) -> np.ndarray:
    model = panel.confusion_view.model()
    k = model.rowCount()
    return np.array([[model.index(r, c).data(Qt.ItemDataRole.UserRole) for c in range(k)] for r in range(k)])


def test_matrix_total_is_the_test_set_and_diagonal_the_accuracy(trained, document):
    splits = document.splits()
    counts = model_counts(trained)
    assert counts.shape == (10, 10)
    assert counts.sum() == len(splits.y_test)
    expected = document.snapshot.evaluate(splits.x_test, splits.y_test)
    assert np.trace(counts) / counts.sum() == pytest.approx(expected["accuracy"])
    assert f"{expected['accuracy']:.1%}" in trained.summary.text()
    assert f"{expected['loss']:.4f}" in trained.summary.text()
    # Labels on both axes are the class names.
    model = trained.confusion_view.model()
    assert [model.headerData(i, Qt.Orientation.Horizontal) for i in range(10)] == list("0123456789")
    assert [model.headerData(i, Qt.Orientation.Vertical) for i in range(10)] == list("0123456789")
    assert model.index(3, 3).data() == str(counts[3, 3])  # counts written in the cells


def test_report_table_equals_the_engines_metrics(trained, document):
    splits = document.splits()
    predicted = document.snapshot.predict_classes(splits.x_test)
    report = core.classification_report(splits.y_test, predicted, document.dataset().class_names)
    model = trained.report_table.model()

    def cell(r, c, role=Qt.ItemDataRole.DisplayRole):
        return model.index(r, c).data(role)

    assert model.rowCount() == 13  # 10 classes + accuracy, macro and weighted averages
    for r, (name, p, rec, f1, support) in enumerate(report.rows()):
        assert cell(r, 0) == name
        assert [cell(r, c, Qt.ItemDataRole.UserRole) for c in range(1, 5)] == [p, rec, f1, support]
        assert cell(r, 1) == f"{p:.3f}"
    assert cell(10, 0) == "accuracy"
    assert cell(10, 3, Qt.ItemDataRole.UserRole) == report.accuracy
    assert [cell(11, c, Qt.ItemDataRole.UserRole) for c in (1, 2, 3)] == list(report.macro_avg)
    assert [cell(12, c, Qt.ItemDataRole.UserRole) for c in (1, 2, 3)] == list(report.weighted_avg)
    assert [model.headerData(c, Qt.Orientation.Horizontal) for c in range(5)] == [
        "Class", "Precision", "Recall", "F1", "Support"]


def _expected_cell(document, true, predicted):
    splits = document.splits()
    probs = document.snapshot.predict_proba(splits.x_test).astype(np.float64)
    pred = probs.argmax(axis=1)
    members = np.flatnonzero((splits.y_test == true) & (pred == predicted))
    return members[np.argsort(-probs[members, predicted], kind="stable")], probs


def test_clicking_a_cell_shows_exactly_its_samples_most_confidently_wrong_first(qtbot, trained, document):
    counts = model_counts(trained)
    off = np.argwhere((counts >= 2) & ~np.eye(10, dtype=bool))
    assert len(off), "five epochs should leave a repeated mistake"
    true, predicted = (int(v) for v in off[0])
    view = trained.confusion_view
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.cell_center(true, predicted))
    expected, probs = _expected_cell(document, true, predicted)
    assert trained.gallery.sample_indices() == expected.tolist()
    shown = trained.gallery.probabilities()
    assert shown == pytest.approx(probs[expected, predicted].tolist(), abs=1e-6)
    assert shown == sorted(shown, reverse=True)
    title = trained.gallery_title.text()
    assert f"True {true} predicted as {predicted}: {len(expected)} samples" in title
    assert "most confidently wrong first" in title
    # Another cell, the diagonal: replaced, not appended.
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.cell_center(4, 4))
    assert trained.gallery.sample_indices() == _expected_cell(document, 4, 4)[0].tolist()
    assert trained.gallery.count() == counts[4, 4]


def test_clicking_a_sample_emits_its_image_and_probes_the_network(qtbot, trained, document):
    view = trained.confusion_view
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.cell_center(2, 2))
    gallery = trained.gallery
    with qtbot.waitSignal(trained.sampleChosen, timeout=WAIT) as blocker:
        qtbot.mouseClick(gallery.viewport(), Qt.MouseButton.LeftButton, pos=gallery.item_rect(1).center())
    image, caption = blocker.args
    index = gallery.sample_indices()[1]
    x = document.splits().x_test[index]
    assert image.shape == (8, 8) and image.min() >= 0 and image.max() <= 1
    assert np.allclose(image, x.reshape(8, 8))  # digits: 0..16 / 16 is the drawing's own scale
    assert caption.startswith(f"Test sample {index}: true 2, predicted 2 with probability")
    assert np.array_equal(trained.weights_view.probe, x)  # its activations can be inspected


def test_row_normalised_toggle(qtbot, trained):
    counts = model_counts(trained)
    qtbot.mouseClick(trained.normalize_check, Qt.MouseButton.LeftButton)
    assert trained.normalize_check.isChecked()
    model = trained.confusion_view.model()
    r = int(np.argmax(counts.sum(axis=1)))
    assert model.index(r, r).data() == str(round(100 * counts[r, r] / counts[r].sum()))
    zero = np.argwhere(counts == 0)[0]
    assert model.index(*map(int, zero)).data() == "0"
    qtbot.mouseClick(trained.normalize_check, Qt.MouseButton.LeftButton)
    assert model.index(r, r).data() == str(counts[r, r])


def test_evaluates_after_the_controllers_run_finished(qtbot, document):
    controller = FakeController()
    panel = make_panel(qtbot, document, controller=controller)
    assert "No trained network yet" in panel.summary.text()
    assert not panel.evaluate_button.isEnabled()
    train(document, epochs=2)
    with qtbot.waitSignal(panel.evaluationFinished, timeout=WAIT):
        controller.finished.emit("training", None)
    assert panel.evaluation.n_samples == len(document.splits().y_test)
    assert panel.shutdown(WAIT)


def test_evaluate_without_a_network_explains(qtbot, document):
    panel = make_panel(qtbot, document)
    assert panel.evaluate() is False
    assert "train it on the Train tab" in panel.summary.text()
    assert panel.evaluation is None


def test_results_go_stale_when_weights_change(qtbot, trained, document):
    assert "Out of date" not in trained.summary.text()
    train(document, epochs=1)  # a new snapshot
    assert "Out of date: the weights have changed" in trained.summary.text()
    evaluate_by_click(qtbot, trained)
    assert "Out of date" not in trained.summary.text()


def test_a_network_that_does_not_fit_the_dataset_is_explained(qtbot, trained, document):
    messages = []
    document.message.connect(lambda *args: messages.append(args))
    document.change("Use XOR", dataset=DatasetChoice("xor"))  # the spec (and network) stay
    assert trained.evaluation is None  # another dataset's results are cleared
    assert trained.evaluate() is False
    assert messages and messages[-1][1] == "warning"
    assert "the network expects 64 inputs but the dataset has 2 inputs" in messages[-1][0]


def test_a_dataset_that_cannot_load_is_reported_once(qtbot, tmp_path):
    state = DocumentState(Document().spec, Document().training,
                          DatasetChoice("import-csv", {"path": str(tmp_path / "missing.csv")}))
    document = Document(state)
    messages = []
    document.message.connect(lambda *args: messages.append(args))
    panel = make_panel(qtbot, document)
    panel.tabs.setCurrentWidget(panel.boundary_view.parentWidget())
    panel.boundary_view.refresh()
    panel.weights_view.refresh()
    with qtbot.waitSignal(panel.grad_check_view.checkFinished, timeout=WAIT):
        assert panel.grad_check_view.run_check()  # falls back to random inputs
    assert "random inputs" in panel.grad_check_view.status.text()
    assert len(messages) == 1 and "missing.csv" in messages[0][0] and messages[0][1] == "error"
    with pytest.raises(DataError):
        document.dataset()
    assert panel.shutdown(WAIT)


# -- export ------------------------------------------------------------------------------------------
def test_export_csv_writes_matrix_and_report(qtbot, trained, dialogs, tmp_path):
    dialogs.save_path = str(tmp_path / "results")  # no suffix: .csv is added
    qtbot.mouseClick(trained.export_csv_button, Qt.MouseButton.LeftButton)
    assert dialogs.asked == ["export"]
    text = (tmp_path / "results.csv").read_text(encoding="utf-8")
    matrix_text, report_text = text.split("\n\n")
    rows = list(csv.reader(io.StringIO(matrix_text)))
    assert rows[0] == ["true \\ predicted", *"0123456789"]
    assert np.array_equal(np.array([[int(v) for v in row[1:]] for row in rows[1:]]), model_counts(trained))
    report_rows = list(csv.reader(io.StringIO(report_text)))
    assert report_rows[0] == ["class", "precision", "recall", "f1", "support"]
    assert float(report_rows[1][2]) == pytest.approx(trained.evaluation.report.recall[0], abs=1e-6)


def test_export_csv_cancelled_or_failing_loses_nothing(qtbot, trained, dialogs, document, tmp_path):
    messages = []
    document.message.connect(lambda *args: messages.append(args))
    dialogs.save_path = None
    qtbot.mouseClick(trained.export_csv_button, Qt.MouseButton.LeftButton)
    assert list(tmp_path.iterdir()) == [] and messages == []
    dialogs.save_path = str(tmp_path / "no such folder" / "x.csv")
    qtbot.mouseClick(trained.export_csv_button, Qt.MouseButton.LeftButton)
    assert messages[-1][1] == "error" and "Could not save x.csv" in messages[-1][0]
    assert trained.evaluation is not None


@pytest.mark.parametrize("button, tab", [("exportConfusionPngButton", 0), ("exportWeightsPngButton", 1),
                                         ("exportBoundaryPngButton", 2)])
def test_every_plot_exports_as_png(qtbot, trained, dialogs, tmp_path, button, tab):
    from PySide6.QtWidgets import QPushButton

    trained.tabs.setCurrentIndex(tab)
    dialogs.save_path = str(tmp_path / "plot")
    qtbot.mouseClick(trained.findChild(QPushButton, button), Qt.MouseButton.LeftButton)
    image = QImage(str(tmp_path / "plot.png"))
    assert not image.isNull() and image.width() > 100 and image.height() > 100


# -- issue 15, item 7: automatic evaluation, and texts that agree with the button ---------------

def test_a_reopened_model_is_evaluated_without_a_click(qtbot, document, tmp_path):
    train(document, epochs=2)
    path = tmp_path / "digits.nnz"
    document.save(path)
    expected = document.snapshot.evaluate(document.splits().x_test, document.splits().y_test)

    reopened = Document()
    panel = make_panel(qtbot, reopened)
    assert panel.evaluation is None
    with qtbot.waitSignal(panel.evaluationFinished, timeout=WAIT):
        reopened.open_file(path)
        # The data come a moment after the weights (loaded in the background): the panel
        # says it waits for them, and their arrival evaluates.
        assert reopened.dataset_loading() and "Loading the test data" in panel.summary.text()
    assert panel.evaluation.accuracy == pytest.approx(expected["accuracy"])
    assert f"{expected['accuracy']:.1%}" in panel.summary.text() and "weights after epoch 2" in panel.summary.text()
    assert "Out of date" not in panel.summary.text() and panel.evaluate_button.isEnabled()
    assert panel.shutdown(WAIT)


def test_a_model_whose_data_are_missing_is_not_evaluated_and_nothing_pops_up(qtbot, tmp_path):
    document = Document()
    train(document, epochs=1)
    state = DocumentState(document.spec, document.training,
                          DatasetChoice("import-csv", {"path": str(tmp_path / "missing.csv")}), document.network)
    messages = []
    document.message.connect(lambda *args: messages.append(args))
    panel = make_panel(qtbot, document)
    document.reset(state)
    qtbot.waitUntil(lambda: "test data are not available" in panel.summary.text(), timeout=WAIT)
    assert messages == [] and panel.evaluation is None and panel.evaluate_button.isEnabled()
    assert panel.shutdown(WAIT)


def test_out_of_date_never_asks_for_a_click_on_a_disabled_button(qtbot, trained, document):
    def agrees() -> bool:
        asks = "press Evaluate" in trained.summary.text()
        return asks == trained.evaluate_button.isEnabled() or not asks

    assert agrees() and trained.evaluate_button.isEnabled()
    document.reset_weights()  # the trained weights are gone: nothing to evaluate
    text = trained.summary.text()
    assert "Out of date: the network has changed" in text and "train it to evaluate it again" in text
    assert not trained.evaluate_button.isEnabled() and agrees()
    with qtbot.waitSignal(trained.evaluationFinished, timeout=WAIT):
        train(document, epochs=1)  # new weights: evaluated again by themselves
    assert "Out of date" not in trained.summary.text() and "weights after epoch 1" in trained.summary.text()
    assert agrees()


def test_stopping_during_an_epoch_names_the_epoch_and_batch_evaluated(qtbot, document):
    from dataclasses import replace

    from nnstudio.controllers.training_controller import BLAS_THREADS_KEY, TrainingController
    from nnstudio.settings import app_settings

    app_settings().setValue(BLAS_THREADS_KEY, 1)
    controller = TrainingController(document)
    panel = make_panel(qtbot, document, controller=controller)
    document.change("settings", training=replace(document.training, epochs=3, batch_size=64))
    try:
        with qtbot.waitSignal(controller.waitingChanged, timeout=WAIT):
            controller.step_epoch()
        for _ in range(3):
            with qtbot.waitSignal(controller.waitingChanged, check_params_cb=bool, timeout=WAIT):
                controller.step_batch()
        with qtbot.waitSignal(panel.evaluationFinished, timeout=WAIT):
            controller.stop()
        assert "weights at epoch 2, batch 3" in panel.summary.text()
        assert "after epoch 1" not in panel.summary.text()
    finally:
        assert controller.shutdown()
        assert panel.shutdown(WAIT)
        app_settings().remove(BLAS_THREADS_KEY)
