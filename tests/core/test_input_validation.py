"""Training, evaluation and prediction inputs are checked once, in core.data.validate, and bad
ones are refused with a sentence before anything runs: NaN / infinite values (training,
validation and prediction inputs), fractional, non-finite or negative class labels."""

from __future__ import annotations

import time

import numpy as np
import pytest

import core
from core import Network, TrainingError, run_training
from core.analysis.evaluation import evaluate as evaluate_split
from core.data import DataError, dataset_from_arrays
from core.data.validate import InvalidInputError, check_finite, check_labels
from tests.core.test_network import make_data, mlp_spec


def new_net(seed=3):
    return Network.from_spec(mlp_spec(seed=seed))


def with_nan(x, row=7, value=np.nan):
    bad = x.copy()
    bad[row, 2] = value
    return bad


def test_invalid_input_error_is_both_data_error_and_training_error():
    # Every handler of either (GUI worker, CLI, scripts) catches it; DataError is a ValueError,
    # which core.analysis.evaluation.evaluate documents.
    assert issubclass(InvalidInputError, DataError) and issubclass(InvalidInputError, TrainingError)
    assert issubclass(InvalidInputError, ValueError)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_in_validation_data_is_refused_before_training(value):
    net = new_net()
    x, y = make_data()
    before = net.get_weights()
    gen = run_training(net, x, y, epochs=2, batch_size=16, validation_data=(with_nan(x[:30], 7, value), y[:30]))
    with pytest.raises(InvalidInputError) as e:
        next(gen)
    assert str(e.value).startswith("the validation inputs contain NaN or infinite values (the first is in sample 7")
    # refused before the first batch: nothing trained, nothing recorded (no "val_loss nan")
    assert all(np.array_equal(before[k], w) for k, w in net.get_weights().items())
    assert net.history.epochs == [] and net.epochs_done == 0


def test_nan_in_training_data_names_the_sample():
    net = new_net()
    x, y = make_data()
    with pytest.raises(InvalidInputError, match=r"^the training inputs contain NaN or infinite values "
                                               r"\(the first is in sample 41, counting from 0\)"):
        net.fit(with_nan(x, 41), y)


def test_float64_inputs_too_large_for_float32_are_refused():
    net = new_net()
    x, y = make_data()
    big = x.astype(np.float64)
    big[3, 0] = 1e300
    with pytest.raises(InvalidInputError, match=r"the training inputs hold values too large for float32 \(sample 3"):
        net.fit(big, y)


@pytest.mark.parametrize("call", ["predict", "predict_proba", "predict_classes", "scores"])
def test_nan_prediction_input_is_refused(call):
    net = new_net()
    x, _ = make_data(20)
    with pytest.raises(InvalidInputError,
                       match=r"^the inputs contain NaN or infinite values \(the first is in sample 7"):
        getattr(net, call)(with_nan(x))


def test_nan_input_to_engine_evaluations_is_refused():
    net = new_net()
    x, y = make_data(20)
    with pytest.raises(InvalidInputError, match="NaN"):
        net.evaluate(with_nan(x), y)
    with pytest.raises(InvalidInputError, match="NaN"):
        evaluate_split(net, with_nan(x), y)


@pytest.mark.parametrize("label", [2.7, 0.5, np.nan])
def test_fractional_or_nan_float_labels_are_refused_not_truncated(label):
    net = new_net()
    x, y = make_data()
    labels = y.astype(np.float64)
    labels[11] = label
    expected = "must be whole class numbers 0 … 2, but sample 11" if np.isfinite(label) else "NaN or infinite"
    with pytest.raises(InvalidInputError, match=expected):
        net.fit(x, labels)
    with pytest.raises(InvalidInputError, match=expected):
        net.fit(x, y, validation_data=(x, labels))
    with pytest.raises(InvalidInputError, match=expected):
        net.evaluate(x, labels)
    with pytest.raises(InvalidInputError, match=expected):
        evaluate_split(net, x, labels)


def test_whole_float_labels_train_exactly_like_integer_labels():
    x, y = make_data()
    as_int, as_float = new_net(), new_net()
    as_int.fit(x, y, epochs=2, batch_size=16)
    as_float.fit(x, y.astype(np.float64), epochs=2, batch_size=16)
    for key, w in as_int.get_weights().items():
        assert np.array_equal(w, as_float.get_weights()[key])
    assert as_float.evaluate(x, y.astype(np.float32)) == as_int.evaluate(x, y)


@pytest.mark.parametrize("dtype", [np.int64, np.float32])
def test_negative_labels_say_labels_must_be_0_to_n_minus_1(dtype):
    net = new_net()
    x, y = make_data()
    labels = y.astype(dtype)
    labels[5] = -1
    for call in (lambda: net.fit(x, labels), lambda: net.evaluate(x, labels),
                 lambda: evaluate_split(net, x, labels)):
        with pytest.raises(InvalidInputError) as e:
            call()
        assert "must be 0 … 2 (one index per class), but sample 5 has the label -1" in str(e.value)
        assert "units" not in str(e.value)


def test_labels_beyond_the_outputs_still_say_how_many_units_are_needed():
    net = new_net()
    x, y = make_data()
    with pytest.raises(core.SpecError, match="set the last Dense layer's units to at least 6"):
        net.fit(x, np.where(y == 1, 5, y))
    # ... for validation labels too, before the first epoch rather than after it
    gen = run_training(net, x, y, epochs=1, validation_data=(x, np.where(y == 1, 5, y)))
    with pytest.raises(core.SpecError, match="at least 6"):
        next(gen)
    assert net.epochs_done == 0


def test_single_output_targets_are_values_not_classes():
    """With one output unit (sigmoid, tanh + MSE) targets may be any finite numbers: 0.3 is
    a soft target, not a bad class label. Only NaN is refused."""
    spec = mlp_spec(loss="mse")
    spec["layers"][2]["units"] = 1
    spec["layers"][3]["function"] = "tanh"
    net = Network.from_spec(spec)
    x, y = make_data()
    net.fit(x, np.where(y > 0, 0.8, -0.3), epochs=1)
    with pytest.raises(InvalidInputError, match="NaN"):
        net.fit(x, np.where(y > 0, np.nan, 0.0))


def test_dataset_from_arrays_validates_inputs_and_labels():
    x, y = make_data(40)
    with pytest.raises(DataError, match=r"dataset 'bad': the samples \(x\) contain NaN or infinite values"):
        dataset_from_arrays("bad", with_nan(x), y)
    with pytest.raises(DataError, match="must be whole class numbers"):
        dataset_from_arrays("bad", x, y + 0.5)
    with pytest.raises(DataError, match="more than 1,000 classes"):
        dataset_from_arrays("bad", x, np.where(y == 1, 10**9, y))
    assert dataset_from_arrays("ok", x, y.astype(np.float32)).class_names == ("0", "1", "2")


def test_validation_of_mnist_sized_inputs_is_cheap():
    """The check runs once per call; for 60,000 × 784 float32 (MNIST) it costs tens of ms.
    The bound is generous (a loaded CI machine); the point is that it is one vectorised pass."""
    x = np.random.default_rng(0).random((60_000, 784), dtype=np.float32)
    y = np.arange(60_000) % 10
    check_finite(x)  # warm up
    best = min(_timed(lambda: (check_finite(x), check_labels(y, 10))) for _ in range(3))
    # ~40 ms measured on a busy 2-core machine; a per-sample Python loop would take seconds
    assert best < 1.0, f"validating MNIST-sized inputs took {best * 1000:.0f} ms"
    x[59_999, 783] = np.nan
    with pytest.raises(InvalidInputError, match="sample 59,999"):
        check_finite(x)


def _timed(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start
