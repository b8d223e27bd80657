"""Growable series and the per-run curves the training dashboard draws."""

from __future__ import annotations

import numpy as np
import pytest

from core import BatchReport, ChangeEvent, EpochReport, History, Network
from core.monitor.curves import TrainingCurves
from core.monitor.series import GrowableSeries, nearest_index
from core.monitor.smoothing import ema, weight_for_span


def batch(epoch, i, n, loss, acc=0.5, lr=0.1, bs=10):
    return BatchReport(epoch, i, n, epoch + (i + 1) / n, loss, acc, lr, bs, (i + 1) * bs)


def epoch_report(epoch, loss, acc, val_loss=None, val_acc=None):
    return EpochReport(epoch, loss, acc, val_loss, val_acc, 0.1, 1.0, 100.0)


def test_series_doubles_and_keeps_old_views_intact():
    s = GrowableSeries(capacity=2)
    s.append([0.0, 1.0], [10.0, 11.0])
    view = s.y
    s.append(np.arange(2.0, 7.0), np.arange(12.0, 17.0))
    assert len(s) == 7 and s.capacity == 8
    assert np.array_equal(s.x, np.arange(7.0)) and np.array_equal(s.y, np.arange(10.0, 17.0))
    assert np.array_equal(view, [10.0, 11.0])
    s.append(7.0, 17.0)  # scalars too
    assert s.capacity == 8 and s.y[-1] == 17.0
    with pytest.raises(ValueError, match="x has 2 points but y has 1"):
        s.append([1.0, 2.0], [1.0])


def test_series_capacity_grows_logarithmically():
    s = GrowableSeries(capacity=1)
    grows = 0
    for i in range(10_000):
        before = s.capacity
        s.append(float(i), float(i))
        grows += s.capacity != before
    assert grows == 14 and len(s) == 10_000


def test_nearest_index():
    xs = np.array([0.0, 1.0, 2.0, 4.0])
    assert [nearest_index(xs, v) for v in (-5, 0.4, 0.5, 0.6, 3.1, 99)] == [0, 0, 0, 1, 3, 3]
    assert nearest_index(xs[:0], 1.0) is None and nearest_index(xs, float("nan")) is None


def test_curves_from_reports_in_chunks_equal_one_chunk():
    reports = [batch(0, i, 4, loss) for i, loss in enumerate([4.0, 3.0, 2.5, 2.0])]
    reports.append(epoch_report(0, 2.9, 0.4, 3.1, 0.35))
    reports.append(ChangeEvent(1.0, "learning_rate", 0.1, 0.01))
    reports += [batch(1, i, 4, loss) for i, loss in enumerate([1.5, 1.4, 1.2, 1.0])]
    reports.append(epoch_report(1, 1.3, 0.7))  # no validation this epoch
    whole = TrainingCurves(span=3)
    changed = whole.add(reports)
    assert "events" in changed and "val_loss" in changed
    parts = TrainingCurves(span=3)
    for r in reports:
        parts.add([r])
    for name in whole.series:
        assert np.array_equal(whole[name].x, parts[name].x) and np.array_equal(whole[name].y, parts[name].y)
    assert np.allclose(whole["batch_loss"].x, [0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0])
    assert np.allclose(whole["batch_loss_smooth"].y, ema(whole["batch_loss"].y, weight_for_span(3)))
    assert np.array_equal(whole["epoch_loss"].x, [1.0, 2.0]) and np.array_equal(whole["val_loss"].x, [1.0])
    assert [e.label() for e in whole.events] == ["lr 0.1 → 0.01"]
    assert whole.last_x == 2.0


def test_readout_names_the_exact_point_and_epoch():
    c = TrainingCurves(span=1)
    c.add([batch(0, i, 4, loss, acc=0.25 * (i + 1)) for i, loss in enumerate([4.0, 3.0, 2.5, 2.0])])
    c.add([epoch_report(0, 2.9, 0.4, 3.1, 0.35)])
    r = c.readout(0.52, "loss")
    assert (r.x, r.batch, r.smoothed) == (0.5, 3.0, 3.0)
    assert (r.epoch, r.train, r.val) == (1, 2.9, 3.1)
    a = c.readout(0.9, "accuracy")
    assert (a.batch, a.epoch, a.train, a.val) == (1.0, 1, 0.4, 0.35)
    far = c.readout(-3.0, "loss")
    assert far.x == 0.25 and far.epoch is None  # the epoch end is more than half an epoch away
    assert TrainingCurves().readout(1.0) is None


def test_from_history_matches_live_curves():
    net = Network.from_spec({"input_shape": [2], "layers": [{"type": "Dense", "units": 3},
                             {"type": "Activation", "function": "tanh"}, {"type": "Dense", "units": 2}],
                             "loss": "cross_entropy", "optimizer": {"type": "SGD", "learning_rate": 0.1}, "seed": 1})
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    live = TrainingCurves(span=4)
    net.fit(x, y, epochs=3, batch_size=8, validation_data=(x[:10], y[:10]), callbacks=[lambda r: live.add([r])])
    loaded = TrainingCurves.from_history(History.from_dict(net.history.to_dict()), span=4)
    for name in live.series:
        assert np.array_equal(live[name].x, loaded[name].x), name
        assert np.allclose(live[name].y, loaded[name].y), name


def test_copy_is_independent_and_continues_smoothing():
    c = TrainingCurves(span=5)
    c.add([batch(0, 0, 2, 2.0), batch(0, 1, 2, 1.0)])
    kept = c.copy()
    c.add([batch(1, 0, 2, 0.5)])
    kept.add([batch(1, 0, 2, 0.5)])
    assert len(kept["batch_loss"]) == 3 and np.array_equal(kept["batch_loss_smooth"].y, c["batch_loss_smooth"].y)
    c.add([batch(1, 1, 2, 0.1)])
    assert len(kept["batch_loss"]) == 3


def test_readout_after_a_rerun_epoch_finds_the_latest_overlapping_point():
    c = TrainingCurves(span=1)
    c.add([batch(0, i, 4, loss) for i, loss in enumerate([4.0, 3.0, 2.5])])  # stopped after 3 batches
    assert c.batches_sorted
    c.add([batch(0, i, 4, loss) for i, loss in enumerate([1.0, 0.9, 0.8, 0.7])])  # Continue re-runs epoch 1
    assert not c.batches_sorted
    assert c.readout(0.5).batch == 0.9 and c.readout(0.99).batch == 0.7
    assert c.copy().batches_sorted is False


def test_finite_bounds_and_merge():
    from core.monitor.series import Bounds, finite_bounds

    b = finite_bounds(np.array([3.0, np.nan, -1.0, 0.5, np.inf]))
    assert b == Bounds(-1.0, 3.0, 0.5)
    assert finite_bounds(np.array([np.nan])) is None
    assert b.merge(Bounds(0.0, 9.0)) == Bounds(-1.0, 9.0, 0.5) and b.merge(None) is b


def test_stable_range_changes_only_when_data_leave_or_shrink_a_lot():
    from core.monitor.series import Bounds, stable_range

    r = stable_range(None, Bounds(0.1, 2.3, 0.1))
    assert r[0] == 0.0 and r[1] > 2.3  # a loss: from zero, with headroom above
    assert stable_range(r, Bounds(0.05, 2.3, 0.05)) is None  # the loss falls: the axis stays
    grown = stable_range(r, Bounds(0.05, 3.0, 0.05))
    assert grown[1] > 3.0 and stable_range(grown, Bounds(0.05, 3.1, 0.05)) is None  # headroom absorbs the next rise
    refit = stable_range(grown, Bounds(0.01, 0.3, 0.01))  # the big values are gone (a new run)
    assert refit is not None and refit[1] < 1.0
    assert stable_range(None, None) is None
    neg = stable_range(None, Bounds(-2.0, 2.0))
    assert neg[0] < -2.0 and neg[1] > 2.0


def test_stable_log_range_is_in_decades_and_extends_below_as_the_loss_falls():
    import math

    from core.monitor.series import Bounds, stable_range

    r = stable_range(None, Bounds(0.0, 2.0, 0.1), log=True)
    assert r[0] < -1.0 and r[1] > math.log10(2.0)
    assert stable_range(r, Bounds(0.0, 2.0, 0.08), log=True) is None
    lower = stable_range(r, Bounds(0.0, 2.0, 0.001), log=True)
    assert lower[0] < -3.0
    assert stable_range(None, Bounds(-1.0, 0.0), log=True) is None  # nothing positive to show




def test_from_history_picks_a_span_from_its_batches_per_epoch():
    h = History()
    for e in range(3):
        for i in range(400):
            h.add_batch(batch(e, i, 400, 1.0))
    assert TrainingCurves.from_history(h).span == 100  # a quarter of 400 batches per epoch
    assert TrainingCurves.from_history(h, span=7).span == 7
    assert TrainingCurves.from_history(History()).empty


# -- where training stands (progress bar and evaluation captions) -------------------------------

def test_trained_position_counts_only_the_last_pass_of_an_unfinished_epoch():
    from core.monitor.curves import trained_position, trained_text, weights_text
    from core.training.loop import History

    h = History()
    h.batches["progress"] = [0.25, 0.5, 0.75, 1.0, 1.25, 1.5]
    assert trained_position(h, 1) == (1, 2)
    assert trained_text(1, 2) == "Trained 1 epoch and 2 batches"
    assert weights_text(1, 2) == "weights at epoch 2, batch 2"
    # Stopped during epoch 2, continued (epoch 2 re-run from its start), stopped again.
    h.batches["progress"] += [1.25, 1.5, 1.75]
    assert trained_position(h, 1) == (1, 3)
    h.batches["progress"] += [2.0]  # the epoch ended
    assert trained_position(h, 2) == (2, 0)
    assert trained_text(2, 0) == "Trained 2 epochs" and weights_text(17, 0) == "weights after epoch 17"
    assert trained_position(History(), 0) == (0, 0)
    assert trained_text(0, 0) == "Not trained yet" and weights_text(0, 0) == "initial weights"
    assert trained_text(0, 1) == "Trained 1 batch"


def test_run_label_names_every_setting_the_run_used():
    from core import BatchReport
    from core.monitor.curves import TrainingCurves, run_label
    from core.training.loop import ChangeEvent, History

    assert run_label("Adam", [0.001], [32]) == "Adam lr 0.001, batch 32"
    curves = TrainingCurves()
    reports = [BatchReport(0, i, 10, (i + 1) / 10, 1.0, 0.5, lr, bs, 8)
               for i, (lr, bs) in enumerate([(0.001, 32), (0.001, 32), (0.01, 32), (0.01, 64), (0.003, 64)])]
    curves.add([*reports[:2], ChangeEvent(0.2, "learning_rate", 0.001, 0.01)])
    curves.add(reports[2:])
    assert (curves.learning_rates, curves.batch_sizes) == ([0.001, 0.01, 0.003], [32, 64])
    assert run_label("Adam", curves.learning_rates, curves.batch_sizes) == "Adam lr 0.001 → 0.01 → 0.003, batch 32 → 64"
    # the same from a saved history, and kept by copies
    h = History()
    for r in reports:
        h.add_batch(r)
    loaded = TrainingCurves.from_history(h)
    assert (loaded.learning_rates, loaded.batch_sizes) == ([0.001, 0.01, 0.003], [32, 64])
    assert loaded.copy().learning_rates == [0.001, 0.01, 0.003]
    many = [0.1 / 2 ** i for i in range(6)]
    assert run_label("SGD", many, [8]) == "SGD lr 0.1 → 0.05 → … → 0.003125, batch 8"
