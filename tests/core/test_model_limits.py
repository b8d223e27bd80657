"""Save and load share one set of limits (core.limits): for each limit, a file exactly at it
is saved and reopened, and the same content one unit over it is refused on save (the
previous file stays byte-identical, no temporary file is left) and on load.

The cases are derived from core.limits: ``test_every_limit_has_a_case`` fails when a limit
is added to the module without a case here.
"""

from __future__ import annotations

import json
import math
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from core import Network, limits
from core.saving import ModelFileError, load_model, save_model
from core.saving.history_bounds import bounded_history
from core.training.loop import BatchReport, ChangeEvent, EpochReport


def small_net(**spec) -> Network:
    data = {"input_shape": [3], "layers": [{"type": "Dense", "units": 2}], "loss": "mse",
            "optimizer": {"type": "Adam", "learning_rate": 0.01}, "seed": 1}
    data.update(spec)
    return Network.from_spec(data)


def trained_net() -> Network:
    """Adam after one step: weights and optimizer slots (6 members), all incompressible."""
    net = small_net()
    rng = np.random.default_rng(0)
    net.fit(rng.normal(size=(8, 3)).astype(np.float32), rng.normal(size=(8, 2)).astype(np.float32),
            epochs=1, batch_size=8)
    return net


def zero_net(units: int = 64) -> Network:
    """A network whose arrays are all zeros: they compress about 1000 times."""
    net = small_net(input_shape=[256], layers=[{"type": "Dense", "units": units}])
    net.set_weights({k: np.zeros_like(p) for k, p, _ in net.parameters()})
    return net


def with_metadata(net: Network, metadata: dict) -> Network:
    net.metadata = metadata
    return net


def infos(path: Path) -> list[zipfile.ZipInfo]:
    with zipfile.ZipFile(path) as zf:
        return zf.infolist()


def member(path: Path, name: str) -> zipfile.ZipInfo:
    return next(i for i in infos(path) if i.filename == name)


def raw_member(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as zf:
        return zf.read(name)


def arrays(path: Path) -> list[zipfile.ZipInfo]:
    return [i for i in infos(path) if i.filename.endswith(".npy")]


@dataclass(frozen=True)
class Case:
    """``limit``: the name in core.limits (``name[key]`` for a dict entry). ``network``:
    builds the content. ``value(path, net)``: the size of that content measured the way the
    limit counts it. ``setup(monkeypatch)``: other limits to lower so this one decides."""

    limit: str
    network: Callable[[], Network]
    value: Callable[[Path, Network], int]
    setup: Callable[[pytest.MonkeyPatch], None] = lambda mp: None

    def set(self, monkeypatch: pytest.MonkeyPatch, value: int) -> None:
        name, _, key = self.limit.partition("[")
        if key:
            monkeypatch.setitem(getattr(limits, name), key.rstrip("]"), value)
        else:
            monkeypatch.setattr(limits, name, value)


def _no_free(*members: str) -> Callable[[pytest.MonkeyPatch], None]:
    def setup(mp: pytest.MonkeyPatch) -> None:
        for m in members:
            mp.setitem(limits.JSON_FREE_BYTES, m, 0)
    return setup


def _no_free_arrays(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(limits, "ARRAYS_FREE_BYTES", 0)
    mp.setattr(limits, "ARRAYS_RATIO", 10**9)  # until the case sets it


LONG_NAMES = {"class_names": ["x" * 4096]}
MANY_NAMES = {"class_names": [f"c{i}" for i in range(limits.MAX_CLASS_NAMES)]}
REPETITIVE = {"notes": ["the same words again"] * 20_000}

CASES = [
    Case("MAX_LAYERS", lambda: small_net(input_shape=[2], layers=[{"type": "Dense", "units": 2}]
                                          + [{"type": "Activation", "function": "tanh"}] * (limits.MAX_LAYERS - 1)),
         lambda p, n: len(n.layers)),
    Case("MAX_PARAMETERS", lambda: small_net(input_shape=[99], layers=[{"type": "Dense", "units": 10}]),
         lambda p, n: sum(a.size for _, a, _ in n.parameters())),
    Case("MAX_VALUES_PER_SAMPLE", lambda: small_net(input_shape=[40], layers=[{"type": "Dense", "units": 50}]),
         lambda p, n: 50),
    Case("MAX_EPOCHS_DONE", lambda: _set(trained_net(), epochs_done=limits.MAX_EPOCHS_DONE),
         lambda p, n: n.epochs_done),
    Case("MAX_ITERATIONS", lambda: _iterations(trained_net(), limits.MAX_ITERATIONS),
         lambda p, n: n.optimizer.iterations),
    Case("MAX_FILE_BYTES", trained_net, lambda p, n: p.stat().st_size),
    Case("MAX_TOTAL_BYTES", trained_net, lambda p, n: sum(i.file_size for i in infos(p))),
    Case("MAX_ARRAY_BYTES", trained_net, lambda p, n: max(i.file_size for i in arrays(p))),
    Case("MAX_MEMBERS", trained_net, lambda p, n: len(infos(p))),
    Case("MAX_NAME_LENGTH", trained_net, lambda p, n: max(len(i.filename) for i in infos(p))),
    Case("MAX_NPY_HEADER_BYTES", trained_net,
         lambda p, n: max(i.file_size - 4 * math.prod(a.shape) for i, a in _array_pairs(p, n))),
    Case("ARRAYS_FREE_BYTES", zero_net, lambda p, n: sum(i.file_size for i in arrays(p))),
    Case("ARRAYS_RATIO", zero_net, lambda p, n: math.ceil(sum(i.file_size for i in arrays(p))
                                                          / sum(i.compress_size for i in arrays(p))),
         _no_free_arrays),
    Case("JSON_FREE_BYTES[metadata.json]", lambda: with_metadata(small_net(), REPETITIVE),
         lambda p, n: member(p, "metadata.json").file_size),
    Case("JSON_RATIO", lambda: with_metadata(small_net(), REPETITIVE),
         lambda p, n: math.ceil(member(p, "metadata.json").file_size / member(p, "metadata.json").compress_size),
         lambda mp: (_no_free("metadata.json")(mp), mp.setattr(limits, "JSON_RATIO", 10**9))),
    Case("JSON_MAX_BYTES", lambda: with_metadata(small_net(), REPETITIVE),
         lambda p, n: member(p, "metadata.json").file_size,
         lambda mp: (_no_free("metadata.json")(mp), mp.setattr(limits, "JSON_RATIO", 10**6))),
    Case("MAX_JSON_VALUES", lambda: with_metadata(small_net(), {"values": list(range(5000))}),
         lambda p, n: limits.json_value_count(raw_member(p, "metadata.json"))),
    Case("MAX_METADATA_STRING", lambda: with_metadata(small_net(), LONG_NAMES), lambda p, n: 4096),
    Case("MAX_CLASS_NAMES", lambda: with_metadata(small_net(), MANY_NAMES), lambda p, n: limits.MAX_CLASS_NAMES),
]


def _set(net: Network, **attrs) -> Network:
    for k, v in attrs.items():
        setattr(net, k, v)
    return net


def _iterations(net: Network, value: int) -> Network:
    net.optimizer.iterations = value
    return net


def _array_pairs(path: Path, net: Network):
    shapes = {f"weights/{k}.npy": p for k, p, _ in net.parameters()}
    shapes.update({f"optimizer/{k.replace('/', '%2F')}.npy": a for k, a in net.optimizer.state_dict()["slots"].items()})
    return [(i, shapes[i.filename]) for i in arrays(path)]


#: Limits that are not refusals: longer histories are stored decimated (tested below).
DECIMATION_LIMITS = {"HISTORY_BATCH_POINTS", "HISTORY_EPOCHS", "HISTORY_EVENTS"}


def test_every_limit_has_a_case():
    names = {n for n in dir(limits) if n.isupper() and not n.startswith("_") and n not in ("KIB", "MIB")}
    covered = {c.limit.partition("[")[0] for c in CASES} | DECIMATION_LIMITS
    assert names == covered


@pytest.mark.parametrize("case", CASES, ids=[c.limit for c in CASES])
def test_limit_just_under_loads_and_just_over_is_refused_on_save_and_load(case, tmp_path, monkeypatch):
    net = case.network()
    path = tmp_path / "model.nnz"
    case.setup(monkeypatch)
    save_model(net, path)
    value = case.value(path, net)

    case.set(monkeypatch, value)  # the content is exactly at the limit: accepted both ways
    save_model(net, path)
    assert case.value(path, net) == value
    load_model(path)

    before = path.read_bytes()
    case.set(monkeypatch, value - 1)  # the same content is now one over
    with pytest.raises(ModelFileError) as saving:
        save_model(net, path)
    assert str(saving.value).startswith("cannot save") or "too large" in str(saving.value)
    assert path.read_bytes() == before, "a refused save must leave the previous file untouched"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.nnz"], "no temporary file is left behind"
    with pytest.raises(ModelFileError) as loading:
        load_model(path)
    assert str(loading.value).startswith(("model.nnz", str(path)))


# ----------------------------------------------------------------------------------------------
# The history: bounded by decimation, not refused
# ----------------------------------------------------------------------------------------------
def long_batch_size_1_history(net: Network, epochs: int, batches_per_epoch: int, seed: int = 0) -> None:
    """Synthesise what a batch-size-1 run records (no training): per-batch loss falling
    with noise, 0/1 accuracies, an epoch record per epoch, one learning-rate change."""
    rng = np.random.default_rng(seed)
    h = net.history
    lr = 0.001
    for epoch in range(epochs):
        if epoch == epochs // 2:
            h.events.append(ChangeEvent(float(epoch), "learning_rate", lr, lr / 2))
            lr /= 2
        trend = 2.0 * np.exp(-(epoch + np.arange(1, batches_per_epoch + 1) / batches_per_epoch) / 3)
        losses = trend * rng.exponential(1.0, batches_per_epoch)
        correct = rng.random(batches_per_epoch) < 1 - trend / 2.5
        h.batches["progress"].extend((epoch + np.arange(1, batches_per_epoch + 1) / batches_per_epoch).tolist())
        h.batches["loss"].extend(losses.tolist())
        h.batches["accuracy"].extend(correct.astype(float).tolist())
        h.batches["learning_rate"].extend([lr] * batches_per_epoch)
        h.batches["batch_size"].extend([1] * batches_per_epoch)
        h.epochs.append(EpochReport(epoch, float(losses.mean()), float(correct.mean()), None, None, lr, 10.0, 6000.0))
    net.epochs_done = epochs


def test_a_long_batch_size_1_history_saves_small_and_reopens_with_the_same_curves(tmp_path):
    """17 epochs of MNIST at batch size 1 made a 64 MiB training.json that would not reopen."""
    from core.monitor.curves import TrainingCurves

    net = small_net()
    long_batch_size_1_history(net, epochs=20, batches_per_epoch=60_000)
    path = tmp_path / "long.nnz"
    save_model(net, path)
    assert member(path, "training.json").file_size < limits.JSON_FREE_BYTES["training.json"]
    assert path.stat().st_size < 2 * 1024 * 1024

    loaded = load_model(path)
    assert loaded.history.epochs == net.history.epochs  # every epoch record, exactly
    assert loaded.history.events == net.history.events
    b = loaded.history.batches
    assert 0.9 * limits.HISTORY_BATCH_POINTS <= len(b["progress"]) <= limits.HISTORY_BATCH_POINTS
    assert b["progress"][-1] == net.history.batches["progress"][-1] == 20.0
    assert all(np.diff(b["progress"]) > 0)
    # Each point is a bucket mean, so the sample-weighted mean loss of every epoch survives.
    orig = TrainingCurves.from_history(net.history)
    back = TrainingCurves.from_history(loaded.history)
    for epoch in range(20):
        o = (orig["batch_loss"].x > epoch) & (orig["batch_loss"].x <= epoch + 1)
        r = (back["batch_loss"].x > epoch) & (back["batch_loss"].x <= epoch + 1)
        assert orig["batch_loss"].y[o].mean() == pytest.approx(back["batch_loss"].y[r].mean(), rel=0.02)
    # The smoothed line of the reopened run follows the live one (compared where both exist).
    live = np.interp(back["batch_loss_smooth"].x, orig["batch_loss_smooth"].x, orig["batch_loss_smooth"].y)
    late = back["batch_loss_smooth"].x > 1
    assert np.median(np.abs(back["batch_loss_smooth"].y[late] - live[late]) / live[late]) < 0.1
    # The learning rate halves at the event, in the stored points too.
    lr = np.array(b["learning_rate"])
    assert set(lr[np.array(b["progress"]) <= 10]) == {0.001}
    assert set(lr[np.array(b["progress"]) > 10]) == {0.0005}


@pytest.mark.parametrize("limit, count", [("HISTORY_BATCH_POINTS", "batches"), ("HISTORY_EPOCHS", "epochs"),
                                          ("HISTORY_EVENTS", "events")])
def test_history_at_its_bound_is_kept_whole_and_one_over_is_thinned(limit, count, monkeypatch, tmp_path):
    monkeypatch.setattr(limits, limit, 50)
    net = small_net()
    for i in range(51):
        net.history.add_batch(BatchReport(i, 0, 1, i + 1.0, 1.0 / (i + 1), 0.5, 0.01, 4, 4))
        net.history.epochs.append(EpochReport(i, 1.0, 0.5, None, None, 0.01, 1.0, 4.0))
        net.history.events.append(ChangeEvent(i + 0.5, "learning_rate", 0.01, 0.01))
    net.epochs_done = 51

    def stored(h) -> int:
        return len(h.batches["progress"]) if count == "batches" else len(getattr(h, count))

    save_model(net, tmp_path / "over.nnz")
    assert stored(load_model(tmp_path / "over.nnz").history) <= 50
    del net.history.batches["progress"][50:], net.history.epochs[50:], net.history.events[50:]
    for col in net.history.batches.values():
        del col[50:]
    save_model(net, tmp_path / "at.nnz")
    assert stored(load_model(tmp_path / "at.nnz").history) == 50


def test_an_old_file_with_a_long_history_still_opens_decimated(tmp_path):
    """Files written before histories were bounded: a long (but honestly sized) history
    loads, and comes back bounded."""
    net = small_net()
    long_batch_size_1_history(net, epochs=3, batches_per_epoch=60_000)
    path = tmp_path / "old.nnz"
    save_model(net, path)
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    training = json.loads(members["training.json"])
    training["history"] = net.history.to_dict()  # what the old writer stored: every batch
    members["training.json"] = json.dumps(training, indent=1).encode()
    assert len(members["training.json"]) > limits.JSON_FREE_BYTES["training.json"]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    loaded = load_model(path)
    assert len(loaded.history.batches["progress"]) <= limits.HISTORY_BATCH_POINTS
    assert loaded.history.epochs == net.history.epochs


def test_bounded_history_keeps_short_runs_exactly():
    net = small_net()
    long_batch_size_1_history(net, epochs=2, batches_per_epoch=100)
    assert bounded_history(net.history).to_dict() == net.history.to_dict()
