"""TrainingControl.inspect: look at the batch a run trains next (the Step-through view's
"Next batch of the run"); tracing it and letting the run train it equals not looking."""

from __future__ import annotations

import copy

import numpy as np

import core
from core import BatchReport, TrainingControl, run_training

SPEC = {"input_shape": [4], "layers": [{"type": "Dense", "units": 5}, {"type": "Activation", "function": "tanh"},
                                       {"type": "Dropout", "rate": 0.3}, {"type": "Dense", "units": 3},
                                       {"type": "Activation", "function": "softmax"}],
        "loss": "cross_entropy", "optimizer": {"type": "Adam", "learning_rate": 0.01}, "seed": 5, "dtype": "float64"}


def _data():
    rng = np.random.default_rng(2)
    return rng.normal(size=(23, 4)), rng.integers(0, 3, 23)


def _weights(net):
    return {k: v.copy() for k, v in net.get_weights().items()}


def test_inspected_batch_is_the_one_trained_and_the_run_is_unchanged():
    x, y = _data()
    reference = core.Network.from_spec(SPEC)
    reference.fit(x, y, epochs=2, batch_size=5)

    net = core.Network.from_spec(SPEC)
    control = TrainingControl()
    gen = run_training(net, x, y, epochs=2, batch_size=5, control=control)
    seen: list = []

    def job(network, xb, tb):
        assert network is net
        seen.append((copy.deepcopy(network), xb.copy(), tb.copy()))

    batches = 0
    checked = 0
    for report in gen:
        if not isinstance(report, BatchReport):
            continue
        batches += 1
        if seen:  # inspected before this batch: the trace of the copy is what the run just trained
            copy_net, xb, tb = seen.pop()
            trace = core.trace_step(copy_net, xb, tb)
            for layer in trace.layers:
                for name, after in layer.params_after.items():
                    np.testing.assert_array_equal(net.layers[layer.index].params[name], after)
            checked += 1
        if batches in (1, 5, 6):  # mid-epoch, across the epoch's end (5 batches/epoch) and after it
            control.inspect(job)
    assert checked == 3 and not seen
    ref, got = _weights(reference), _weights(net)
    assert ref.keys() == got.keys()
    for key in ref:
        np.testing.assert_array_equal(got[key], ref[key])


def test_inspect_while_paused_runs_in_the_loop_thread_and_stays_paused():
    import threading

    x, y = _data()
    net = core.Network.from_spec(SPEC)
    control = TrainingControl()
    control.pause()
    waits = threading.Event()
    control.before_wait = waits.set
    result: dict = {}

    def train():
        result["end"] = core.training.loop.drive(run_training(net, x, y, epochs=1, batch_size=4, control=control),
                                                 lambda r: None)

    thread = threading.Thread(target=train, daemon=True)  # a failing test must not hang pytest
    thread.start()
    assert waits.wait(10)
    got = threading.Event()

    def job(network, xb, tb):
        result["thread"] = threading.current_thread()
        result["batch"] = (xb.shape, tb.shape)
        got.set()

    control.inspect(job)
    assert got.wait(10)
    assert result["thread"] is thread
    assert result["batch"] == ((4, 4), (4, 3))
    assert control.paused and not net.history.batches["progress"]  # nothing trained
    control.stop()
    thread.join(10)
    assert not thread.is_alive() and result["end"].status == "stopped"
