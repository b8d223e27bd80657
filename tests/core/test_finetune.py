"""Fine-tuning a digit reader on the user's handwriting (core.training.finetune)."""

from __future__ import annotations

import numpy as np
import pytest

from core import Network, TrainingError
from core.data import DataError, find_mnist, load_dataset
from core.data.drawing import center_of_mass, ink_bounding_box
from core.training import FineTuneResult, fine_tune, replay_samples
from core.training.finetune import hold_back_split


def mlp_spec(seed: int = 0) -> dict:
    return {"input_shape": [64],
            "layers": [{"type": "Dense", "units": 64}, {"type": "Activation", "function": "relu"},
                       {"type": "Dropout", "rate": 0.2},
                       {"type": "Dense", "units": 10}, {"type": "Activation", "function": "softmax"}],
            "loss": "cross_entropy", "optimizer": {"type": "Adam", "learning_rate": 0.005}, "seed": seed}


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits8x8").split(0)


@pytest.fixture(scope="module")
def trained(digits):
    """A small 8×8 digit reader, trained for a fraction of a second (~95% on its test set)."""
    net = Network.from_spec(mlp_spec())
    net.fit(digits.x_train, digits.y_train, epochs=15, batch_size=32)
    return net


def other_hand(x: np.ndarray) -> np.ndarray:
    """A deliberately different "handwriting" of 8×8 digits: every digit mirrored left-right
    (the base network reads about 40% of them)."""
    return x.reshape(-1, 8, 8)[:, :, ::-1].reshape(len(x), 64)


def pick(y: np.ndarray, per_digit: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.choice(np.flatnonzero(y == k), per_digit, replace=False) for k in range(10)])


def snapshot(net: Network) -> dict:
    """Everything fine-tuning must leave alone, as copies."""
    return {"weights": {k: v.copy() for k, v in net.get_weights().items()},
            "optimizer": net.optimizer.to_dict(),
            "slots": {k: {s: np.array(v, copy=True) for s, v in slot.items()} if isinstance(slot, dict) else
                      np.array(slot, copy=True) for k, slot in net.optimizer.state.items()},
            "rng": net.rng.bit_generator.state, "epochs": net.epochs_done,
            "history": len(net.history.epochs), "metadata": repr(net.metadata)}


def test_accuracy_on_held_back_drawings_rises_and_the_base_network_is_untouched(trained, digits):
    idx = pick(digits.y_test, 10, seed=0)
    x, y = other_hand(digits.x_test[idx]), digits.y_test[idx]
    before_state = snapshot(trained)
    # The default step size is tuned for the shipped CNN (a nudge); this 8×8 MLP, trained at
    # 5e-3, needs a larger one and more passes to take on a new hand from 80 drawings.
    result = fine_tune(trained, x, y, seed=1, learning_rate=1e-3, epochs=12)
    assert isinstance(result, FineTuneResult)
    # 1 in 4 per digit held back: 2 of each digit's 10, 80 trained on.
    assert (result.held_back, result.trained_on) == (20, 80)
    assert sum(t for t, _, _ in result.per_digit.values()) == 20 and sorted(result.per_digit) == list(range(10))
    assert result.before_accuracy is not None and result.after_accuracy is not None
    assert result.after_accuracy >= result.before_accuracy + 0.2, (result.before_accuracy, result.after_accuracy)
    # It learnt the hand, not the 80 drawings: other drawings of that hand are read better too.
    rest = np.setdiff1d(np.arange(len(digits.y_test)), idx)
    x_rest, y_rest = other_hand(digits.x_test[rest]), digits.y_test[rest]
    base_rest = (trained.predict_classes(x_rest) == y_rest).mean()
    tuned_rest = (result.network.predict_classes(x_rest) == y_rest).mean()
    assert tuned_rest >= base_rest + 0.15, (base_rest, tuned_rest)
    # ... without forgetting the ordinary digits (replay).
    plain_base = (trained.predict_classes(digits.x_test) == digits.y_test).mean()
    plain_tuned = (result.network.predict_classes(digits.x_test) == digits.y_test).mean()
    assert plain_tuned >= plain_base - 0.04, (plain_base, plain_tuned)
    assert result.seconds < 5 and not result.stopped
    # The base network: weights, optimizer and its slots, generator, counters, bit for bit.
    after_state = snapshot(trained)
    assert after_state["optimizer"] == before_state["optimizer"]
    assert after_state["rng"] == before_state["rng"]
    assert (after_state["epochs"], after_state["history"], after_state["metadata"]) == \
        (before_state["epochs"], before_state["history"], before_state["metadata"])
    for key, value in before_state["weights"].items():
        assert np.array_equal(after_state["weights"][key], value), key
    assert result.network is not trained
    assert result.network.metadata["fine_tuned"]["drawings"] == 80


def test_same_seed_same_result(trained, digits):
    idx = pick(digits.y_test, 4, seed=2)
    x, y = other_hand(digits.x_test[idx]), digits.y_test[idx]
    a = fine_tune(trained, x, y, seed=5)
    b = fine_tune(trained, x, y, seed=5)
    assert a.after_accuracy == b.after_accuracy
    for key, value in a.network.get_weights().items():
        assert np.array_equal(b.network.get_weights()[key], value)


def test_hold_back_split_per_digit():
    y = np.array([0] * 10 + [1] * 2 + [2] * 1 + [3] * 5)
    train, held = hold_back_split(y, 0.25, np.random.default_rng(0))
    assert sorted(np.concatenate([train, held]).tolist()) == list(range(len(y)))
    counts = np.bincount(y[held], minlength=4).tolist()
    # floor(10/4) = 2; two drawings -> still one; one drawing -> only trained on; 5 -> 1.
    assert counts == [2, 1, 0, 1]
    assert hold_back_split(y, 0.0, np.random.default_rng(0))[1].size == 0


def test_stop_keeps_what_was_learnt_and_reports_it(trained, digits):
    idx = pick(digits.y_test, 4, seed=3)
    calls = []
    result = fine_tune(trained, other_hand(digits.x_test[idx]), digits.y_test[idx], seed=0,
                       progress=lambda f, text: calls.append(f), should_stop=lambda: len(calls) >= 5)
    assert result.stopped and result.stop_reason == "cancelled" and result.steps == 5
    assert calls == sorted(calls) and 0 < calls[-1] < 1
    budget = fine_tune(trained, other_hand(digits.x_test[idx]), digits.y_test[idx], seed=0, seconds_budget=0.0)
    assert budget.stopped and "budget" in budget.stop_reason and budget.steps == 0


def test_replay_samples_for_8x8_and_28x28_readers():
    rng = np.random.default_rng(0)
    x, y = replay_samples((64,), 50, rng)
    assert x.shape == (50, 64) and x.dtype == np.float32 and y.shape == (50,)
    assert np.allclose(x * 16, np.round(x * 16))  # the bundled digits: block counts / 16
    x, y = replay_samples((1, 8, 8), 7, rng)
    assert x.shape == (7, 1, 8, 8)
    x, y = replay_samples((1, 28, 28), 30, rng)
    assert x.shape == (30, 1, 28, 28) and x.dtype == np.float32 and set(y.tolist()) <= set(range(10))
    assert x.min() >= 0.0 and x.max() <= 1.0 and (x.reshape(30, -1).max(axis=1) > 0.5).all()
    if find_mnist() is not None:
        assert np.allclose(x * 255, np.round(x * 255), atol=1e-4)  # MNIST's own pixels
    with pytest.raises(DataError, match="no replay data fits"):
        replay_samples((3,), 5, rng)


def test_replay_without_mnist_is_real_pen_handwriting_read_as_drawings(monkeypatch):
    import core.training.finetune as finetune

    monkeypatch.setattr(finetune, "find_mnist", lambda: None)
    x, y = replay_samples((784,), 20, np.random.default_rng(0))
    assert x.shape == (20, 784) and y.shape == (20,) and set(y.tolist()) <= set(range(10))
    images = x.reshape(20, 28, 28)
    # Read as drawings: the canvas's MNIST recipe put each digit's ink in the 20-px box, centred.
    assert (images.reshape(20, -1).max(axis=1) > 0.8).all()
    for image in images:
        row, col = center_of_mass(image)
        assert abs(row - 14) <= 1 and abs(col - 14) <= 1
        top, bottom, left, right = ink_bounding_box(image)
        assert max(bottom - top, right - left) in (19, 20, 21)
    # They are the pen digits rendered through the canvas path: the same generator state gives
    # the same picks and renderings.
    again, labels = replay_samples((784,), 20, np.random.default_rng(0))
    assert np.array_equal(again, x) and np.array_equal(labels, y)


def test_replay_mixes_pen_handwriting_with_the_readers_own_data():
    x, y = replay_samples((64,), 40, np.random.default_rng(1))
    digits = load_dataset("digits8x8")
    own = {row.tobytes() for row in np.asarray(digits.x, dtype=np.float32).reshape(len(digits.y), -1)}
    from_digits = sum(row.tobytes() in own for row in x)
    assert 15 <= from_digits <= 25  # half the bundled 8×8 digits (a rendered pen digit may equal one)
    assert y.shape == (40,) and set(y.tolist()) <= set(range(10)) and len(set(y.tolist())) >= 5


def test_bad_input_is_refused_with_a_sentence(trained, digits):
    x, y = digits.x_test[:20], digits.y_test[:20]
    with pytest.raises(DataError, match="no drawings to learn from"):
        fine_tune(trained, np.zeros((0, 64), np.float32), np.zeros(0, np.int64))
    with pytest.raises(DataError, match=r"label 12 is outside the network.s classes 0\.\.9"):
        fine_tune(trained, x, np.where(np.arange(20) == 3, 12, y))
    with pytest.raises(DataError, match="20 drawings but 19 labels"):
        fine_tune(trained, x, y[:19])
    with pytest.raises(DataError, match="must hold 64 numbers"):
        fine_tune(trained, np.zeros((20, 28, 28), np.float32), y)
    with pytest.raises(DataError, match="NaN or infinite"):
        fine_tune(trained, np.full((20, 64), np.nan, np.float32), y)
    points = Network.from_spec({"input_shape": [2], "layers": [{"type": "Dense", "units": 3},
                                                               {"type": "Activation", "function": "softmax"}],
                                "loss": "cross_entropy"})
    with pytest.raises(TrainingError, match="cannot read drawings"):
        fine_tune(points, x, y)
    regressor = Network.from_spec({"input_shape": [64], "layers": [{"type": "Dense", "units": 1}], "loss": "mse"})
    with pytest.raises(TrainingError, match="not a classifier"):
        fine_tune(regressor, x, y)
