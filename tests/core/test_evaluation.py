"""core.analysis.evaluation: one pass gives the engine's own loss/accuracy, a confusion matrix that
adds up, the engine's report, the samples behind each cell in confidence order, and CSV."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

import core
from core.analysis.evaluation import (
    as_class_probabilities,
    class_probabilities,
    confusion_csv,
    evaluate,
    evaluation_csv,
    normalize_rows,
    report_csv,
    samples_for_cell,
)
from core.data import load_dataset
from core.spec.dataset_fit import check_compatibility


def mlp(units_out=10, inputs=64, last="softmax", loss="cross_entropy", seed=0):
    layers = [{"type": "Dense", "units": 16}, {"type": "Activation", "function": "relu"},
              {"type": "Dense", "units": units_out}]
    if last:
        layers.append({"type": "Activation", "function": last})
    return core.Network.from_spec({"input_shape": [inputs], "layers": layers, "loss": loss,
                                   "optimizer": {"type": "Adam", "learning_rate": 0.01}, "seed": seed})


@pytest.fixture(scope="module")
def digits_run():
    data = load_dataset("digits8x8")
    splits = data.split(seed=0, validation_fraction=0.0, test_fraction=0.2)
    net = mlp()
    net.fit(splits.x_train, splits.y_train, epochs=3, batch_size=64)
    return net, splits, data.class_names


def test_loss_and_accuracy_are_the_engines(digits_run):
    net, s, names = digits_run
    result = evaluate(net, s.x_test, s.y_test, names, batch_size=100)  # several batches
    expected = net.evaluate(s.x_test, s.y_test)
    assert result.loss == pytest.approx(expected["loss"], rel=1e-6)
    assert result.accuracy == pytest.approx(expected["accuracy"])
    assert np.array_equal(result.y_pred, net.predict_classes(s.x_test))


def test_confusion_adds_up_and_report_matches_metrics(digits_run):
    net, s, names = digits_run
    result = evaluate(net, s.x_test, s.y_test, names)
    assert result.confusion.shape == (10, 10)
    assert result.confusion.sum() == len(s.y_test)
    assert np.trace(result.confusion) / len(s.y_test) == pytest.approx(result.accuracy)
    assert np.array_equal(result.confusion.sum(axis=1), np.bincount(s.y_test, minlength=10))
    report = core.classification_report(s.y_test, net.predict_classes(s.x_test), names)
    for field in ("precision", "recall", "f1", "support"):
        assert np.array_equal(getattr(result.report, field), getattr(report, field))
    assert 0.3 < result.accuracy < 1.0  # three epochs: learned something, still makes mistakes


def test_probabilities_are_distributions_and_confidence_is_the_predicted_class(digits_run):
    net, s, names = digits_run
    result = evaluate(net, s.x_test, s.y_test, names)
    assert result.probabilities.shape == (len(s.y_test), 10)
    assert np.allclose(result.probabilities.sum(axis=1), 1.0)
    assert np.allclose(result.probabilities, net.predict_proba(s.x_test), atol=1e-6)
    assert np.array_equal(result.confidence, result.probabilities[np.arange(len(s.y_test)), result.y_pred])
    assert not result.y_pred.flags.writeable  # a result shared with views cannot be altered


def test_samples_for_cell_exactly_those_pairs_most_confident_first(digits_run):
    net, s, names = digits_run
    result = evaluate(net, s.x_test, s.y_test, names)
    off = np.argwhere((result.confusion > 1) & ~np.eye(10, dtype=bool))
    assert len(off), "the short run should make at least one repeated mistake"
    for t, p in [*off, (3, 3)]:
        idx = result.samples_for_cell(t, p)
        assert len(idx) == result.confusion[t, p]
        assert set(idx) == set(np.flatnonzero((s.y_test == t) & (result.y_pred == p)))
        assert np.all(np.diff(result.confidence[idx]) <= 0)


def test_samples_for_cell_ties_keep_index_order_and_empty_cells_are_empty():
    y_true = np.array([1, 1, 1, 0, 1])
    y_pred = np.array([0, 0, 0, 0, 1])
    conf = np.array([0.6, 0.9, 0.6, 0.99, 0.7])
    assert samples_for_cell(y_true, y_pred, conf, 1, 0).tolist() == [1, 0, 2]
    empty = samples_for_cell(y_true, y_pred, conf, 0, 1)
    assert empty.dtype == np.int64 and empty.size == 0


def test_single_sigmoid_output_becomes_two_class_probabilities():
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 0])
    net = mlp(units_out=1, inputs=2, last="sigmoid", loss="binary_cross_entropy")
    net.fit(x, y, epochs=400, batch_size=4)
    result = evaluate(net, x, y, ("zero", "one"))
    assert result.probabilities.shape == (4, 2)
    p1 = net.predict_proba(x)[:, 0]
    assert np.allclose(result.probabilities[:, 1], p1, atol=1e-6)
    assert np.array_equal(result.y_pred, (p1 > 0.5).astype(int))
    assert result.loss == pytest.approx(net.evaluate(x, y)["loss"], rel=1e-6)


def test_logits_network_gets_softmax_probabilities():
    net = mlp(units_out=3, inputs=4, last=None)
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    probs = class_probabilities(net, x)
    z = net.predict(x).astype(np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    assert np.allclose(probs, e / e.sum(axis=1, keepdims=True), atol=1e-6)


def test_as_class_probabilities_for_scores_that_are_not_distributions():
    tanh_out = np.array([[-0.3], [0.2], [1.4]])
    assert np.allclose(as_class_probabilities(tanh_out), [[1, 0], [0.8, 0.2], [0, 1]])
    mse = np.array([[0.9, 0.3, -0.2], [-1.0, -2.0, -0.5]])
    p = as_class_probabilities(mse)
    assert np.allclose(p[0], [0.75, 0.25, 0.0])
    assert np.allclose(p[1], 1 / 3)  # nothing positive: no preference
    dist = np.array([[0.2, 0.8]])
    assert np.allclose(as_class_probabilities(dist), dist)
    with pytest.raises(ValueError, match="scores"):
        as_class_probabilities(np.zeros(3))


def test_mismatched_data_is_refused_with_a_reason():
    net = mlp()
    with pytest.raises(ValueError, match="expects 64 inputs but the dataset has 784 inputs: train the network"):
        evaluate(net, np.zeros((3, 784), np.float32), np.zeros(3, int))
    with pytest.raises(ValueError, match="10 outputs but the dataset has 3 classes"):
        evaluate(net, np.zeros((3, 64), np.float32), np.zeros(3, int), ("a", "b", "c"))
    with pytest.raises(ValueError, match="at least one labelled sample"):
        evaluate(net, np.zeros((0, 64), np.float32), np.zeros(0, int))
    # evaluate makes the one network↔dataset check (core.spec.dataset_fit), on the trained network's spec
    assert check_compatibility(net.to_spec(), (64,), 10, trained=True) == []
    assert "1 output" in str(check_compatibility(mlp(units_out=1, last="sigmoid").to_spec(), (64,), 3, trained=True)[0])


def test_one_output_fits_two_classes_except_with_softmax_cross_entropy():
    """The one network↔dataset check's rule (core.spec.dataset_fit): evaluate used to accept one
    output unit for two classes with any loss."""
    data, labels = np.zeros((4, 64), np.float32), np.array([0, 1, 0, 1])
    assert evaluate(mlp(units_out=1, last="sigmoid", loss="binary_cross_entropy"), data, labels).n_classes == 2
    with pytest.raises(ValueError, match="has 1 output but the dataset has 2 classes"):
        evaluate(mlp(units_out=1, last="softmax", loss="cross_entropy"), data, labels)


def test_normalize_rows_keeps_empty_rows_at_zero():
    m = np.array([[3, 1], [0, 0]])
    assert np.allclose(normalize_rows(m), [[0.75, 0.25], [0, 0]])


def test_confusion_csv_round_trips_and_quotes_names():
    m = np.array([[5, 1], [2, 7]])
    rows = list(csv.reader(io.StringIO(confusion_csv(m, ["cat, small", "dog"]))))
    assert rows[0] == ["true \\ predicted", "cat, small", "dog"]
    assert rows[1] == ["cat, small", "5", "1"] and rows[2] == ["dog", "2", "7"]
    norm = list(csv.reader(io.StringIO(confusion_csv(m, ["a", "b"], normalized=True))))
    assert [float(v) for v in norm[1][1:]] == pytest.approx([5 / 6, 1 / 6], abs=1e-6)
    with pytest.raises(ValueError, match="does not fit 3 class names"):
        confusion_csv(m, ["a", "b", "c"])


def test_report_and_evaluation_csv_hold_the_reports_numbers(digits_run):
    net, s, names = digits_run
    result = evaluate(net, s.x_test, s.y_test, names)
    rows = list(csv.reader(io.StringIO(report_csv(result.report))))
    assert rows[0] == ["class", "precision", "recall", "f1", "support"]
    for row, (name, p, r, f, n) in zip(rows[1:11], result.report.rows(), strict=False):
        assert row[0] == name and int(row[4]) == n
        assert [float(v) for v in row[1:4]] == pytest.approx([p, r, f], abs=1e-6)
    assert rows[11][0] == "accuracy" and float(rows[11][3]) == pytest.approx(result.accuracy, abs=1e-6)
    text = evaluation_csv(result)
    assert text.startswith("true \\ predicted,0,1") and "\n\nclass,precision" in text
    assert result.to_csv() == text


