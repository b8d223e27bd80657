"""The training loop: reports, control from another thread, knobs, guards, seed results."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import core
from core import BatchReport, ChangeEvent, EpochReport, Network, TrainingControl, TrainingError, run_training
from tests.core.test_network import make_data, mlp_spec


def new_net(seed=3, lr=0.05):
    return Network.from_spec(mlp_spec(seed=seed, optimizer={"type": "Adam", "learning_rate": lr}))


def drain(gen):
    reports = []
    while True:
        try:
            reports.append(next(gen))
        except StopIteration as stop:
            return reports, stop.value


def test_reports_per_batch_and_epoch():
    net = new_net()
    x, y = make_data(100)
    reports, result = drain(run_training(net, x, y, epochs=2, batch_size=32, validation_data=(x[:20], y[:20])))
    batches = [r for r in reports if isinstance(r, BatchReport)]
    epochs = [r for r in reports if isinstance(r, EpochReport)]
    assert len(batches) == 8 and [b.batch_size for b in batches] == [32] * 8
    assert [b.samples_seen for b in batches[:4]] == [32, 64, 96, 100]
    assert batches[3].progress == pytest.approx(1.0) and batches[0].progress == pytest.approx(0.32)
    assert all(b.batches == 4 for b in batches)
    assert len(epochs) == 2 and epochs[1].val_loss is not None
    # epoch loss is the sample-weighted mean of its batch losses
    weights = np.array([32, 32, 32, 4])
    assert epochs[0].loss == pytest.approx(np.dot([b.loss for b in batches[:4]], weights) / 100)
    assert result.status == "finished" and net.epochs_done == 2


def test_fit_continues_from_current_state():
    x, y = make_data()
    straight = new_net()
    straight.fit(x, y, epochs=4, batch_size=16)
    split = new_net()
    split.fit(x, y, epochs=1, batch_size=16)
    split.fit(x, y, epochs=3, batch_size=16)
    assert split.epochs_done == 4
    assert all(np.array_equal(a, b)
               for a, b in zip(straight.get_weights().values(), split.get_weights().values(), strict=True))


def run_in_thread(net, x, y, control, **kwargs):
    out = {}

    def work():
        out["reports"], out["result"] = drain(run_training(net, x, y, control=control, **kwargs))

    thread = threading.Thread(target=work)
    thread.start()
    return thread, out


def test_pause_step_resume_gives_the_same_weights_as_an_uninterrupted_run():
    x, y = make_data()
    reference = new_net()
    reference.fit(x, y, epochs=2, batch_size=16)

    net = new_net()
    control = TrainingControl()
    control.pause()
    thread, out = run_in_thread(net, x, y, control, epochs=2, batch_size=16)
    control.step_batch()
    control.step_batch(2)
    # while paused, with 3 batch credits, the loop runs exactly 3 batches then blocks
    wait_for(lambda: len(net.history.batches["loss"]) == 3)
    assert thread.is_alive() and len(net.history.batches["loss"]) == 3
    control.step_epoch()  # finishes epoch 1 (8 batches in all) and pauses again
    wait_for(lambda: len(net.history.epochs) == 1)
    assert len(net.history.batches["loss"]) == 8 and thread.is_alive()
    control.resume()
    thread.join(10)
    assert not thread.is_alive() and out["result"].status == "finished"
    assert all(np.array_equal(a, b)
               for a, b in zip(reference.get_weights().values(), net.get_weights().values(), strict=True))


def wait_for(condition, timeout=10.0):
    event = threading.Event()
    for _ in range(int(timeout / 0.005)):
        if condition():
            return
        event.wait(0.005)
    raise AssertionError("condition not reached")


def test_stop_mid_epoch_leaves_a_usable_model():
    x, y = make_data()
    net = new_net()
    control = TrainingControl()
    control.pause()
    thread, out = run_in_thread(net, x, y, control, epochs=5, batch_size=16)
    control.step_batch(3)
    wait_for(lambda: len(net.history.batches["loss"]) == 3)
    control.stop()
    thread.join(10)
    assert out["result"].status == "stopped" and net.epochs_done == 0
    assert np.all(np.isfinite(net.predict(x)))
    net.fit(x, y, epochs=1)  # and it can continue training
    assert net.epochs_done == 1


def test_learning_rate_change_applies_from_the_next_batch_and_is_recorded():
    x, y = make_data()
    net = new_net(lr=0.01)
    control = TrainingControl()
    control.pause()
    thread, out = run_in_thread(net, x, y, control, epochs=1, batch_size=16)
    control.step_batch(2)
    wait_for(lambda: len(net.history.batches["loss"]) == 2)
    control.set_learning_rate(0.001)
    control.set_batch_size(40)
    control.resume()
    thread.join(10)
    lrs = net.history.batches["learning_rate"]
    sizes = net.history.batches["batch_size"]
    assert lrs[:2] == [0.01, 0.01] and set(lrs[2:]) == {0.001}
    assert sizes[:2] == [16, 16] and sizes[2] == 40
    events = [r for r in out["reports"] if isinstance(r, ChangeEvent)]
    assert [(e.name, e.old, e.new) for e in events] == [("learning_rate", 0.01, 0.001), ("batch_size", 16, 40)]
    assert events[0].progress == pytest.approx(32 / 120) and events[0].label() == "lr 0.01 → 0.001"
    assert net.history.events == events


def test_divergence_stops_with_a_message_and_finite_weights():
    x, y = make_data()
    x = x * 1e3
    spec = mlp_spec(loss="mse", optimizer={"type": "SGD", "learning_rate": 9.0})
    spec["layers"] = [{"type": "Dense", "units": 5}, {"type": "Activation", "function": "relu"},
                      {"type": "Dense", "units": 3}]
    net = Network.from_spec(spec)
    with pytest.raises(TrainingError, match=r"at epoch \d+, batch \d+.*lower learning rate"):
        net.fit(x, y, epochs=50, batch_size=8)
    assert all(np.all(np.isfinite(w)) for w in net.get_weights().values())


def test_bad_training_data_is_refused():
    net = new_net()
    x, y = make_data()
    with pytest.raises(TrainingError, match="120 samples but y has 119"):
        net.fit(x, y[:-1])
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(TrainingError, match="NaN"):
        net.fit(bad, y)
    with pytest.raises(core.SpecError, match="batch_size"):
        net.fit(x, y, batch_size=0)


def test_callbacks_receive_reports():
    seen = []

    class Recorder:
        def on_epoch_end(self, report):
            seen.append(("epoch", report.epoch))

        def on_train_end(self, result):
            seen.append(("end", result.status))

    x, y = make_data()
    plain = []
    new_net().fit(x, y, epochs=2, batch_size=60, callbacks=[Recorder(), plain.append])
    assert seen == [("epoch", 0), ("epoch", 1), ("end", "finished")]
    assert sum(isinstance(r, BatchReport) for r in plain) == 4
