"""The .nnz model file: exact round trip and resume, atomic save, and a strict, safe loader."""

from __future__ import annotations

import io
import json
import os
import struct
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import core
from core import Network, limits
from core.saving import ModelFileError, load_model, optimizer_member, save_model, weights_member
from core.saving.archive import read_member_limited
from core.spec.model import TrainingConfig


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
def mlp(seed: int = 4, optimizer: dict | None = None, dropout: float = 0.25) -> Network:
    """4 -> 8 relu -> Dropout -> 3 softmax, cross-entropy."""
    layers = [{"type": "Dense", "units": 8}, {"type": "Activation", "function": "relu"}]
    if dropout:
        layers.append({"type": "Dropout", "rate": dropout})
    layers += [{"type": "Dense", "units": 3}, {"type": "Activation", "function": "softmax"}]
    return Network.from_spec({"input_shape": [4], "layers": layers, "loss": "cross_entropy",
                              "optimizer": optimizer or {"type": "Adam", "learning_rate": 0.01}, "seed": seed})


def blobs(n: int = 90, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three Gaussian blobs in 4-D: x (n, 4) float32, y (n,) int64."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centers = np.array([[2, 0, 0, 1], [-2, 1, 0, 0], [0, -2, 1, -1]], dtype=np.float32)
    x = (centers[y] + rng.normal(scale=0.8, size=(n, 4))).astype(np.float32)
    return x, y.astype(np.int64)


def trained_mlp(**kw) -> Network:
    net = mlp(**kw)
    x, y = blobs()
    net.fit(x, y, epochs=2, batch_size=16, validation_split=0.2)
    net.metadata = {"dataset": {"name": "blobs", "fingerprint": "ab" * 32}, "class_names": ["a", "b", "c"],
                    "preprocessing": {"scale": 1.0}}
    return net


def assert_same_network(a: Network, b: Network) -> None:
    wa, wb = a.get_weights(), b.get_weights()
    assert wa.keys() == wb.keys()
    for k in wa:
        assert wa[k].dtype == wb[k].dtype and np.array_equal(wa[k], wb[k]), k
    assert a.to_spec() == b.to_spec()
    assert a.history.to_dict() == b.history.to_dict()
    assert a.epochs_done == b.epochs_done
    sa, sb = a.optimizer.state_dict(), b.optimizer.state_dict()
    assert sa["iterations"] == sb["iterations"] and sa["slots"].keys() == sb["slots"].keys()
    for k in sa["slots"]:
        assert np.array_equal(sa["slots"][k], sb["slots"][k]), k
    assert a.rng.bit_generator.state == b.rng.bit_generator.state


@pytest.fixture
def saved(tmp_path) -> tuple[Network, Path]:
    net = trained_mlp()
    path = tmp_path / "model.nnz"
    save_model(net, path, training_config=TrainingConfig(epochs=2, batch_size=16, validation_split=0.2))
    return net, path


def members_of(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def write_zip(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def hand_npy(descr: str, shape: tuple[int, ...], payload: bytes) -> bytes:
    """A .npy (version 1.0) with a hand-written header (np.save would pickle object arrays)."""
    header = f"{{'descr': {descr}, 'fortran_order': False, 'shape': {shape!r}, }}"
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1") + payload


def with_members(path: Path, tmp_path: Path, changes: dict[str, bytes | None]) -> Path:
    members = members_of(path)
    for name, data in changes.items():
        if data is None:
            members.pop(name)
        else:
            members[name] = data
    return write_zip(tmp_path / "bad.nnz", members)


def json_member(path: Path, name: str) -> dict:
    return json.loads(members_of(path)[name])


def expect_error(path: Path, *fragments: str) -> str:
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    assert "\n" not in message
    return message


# ----------------------------------------------------------------------------------------------
# round trip
# ----------------------------------------------------------------------------------------------
def test_round_trip_mlp_adam_dropout_is_bit_identical(saved):
    net, path = saved
    loaded = load_model(path)
    assert_same_network(net, loaded)
    assert loaded.metadata["class_names"] == ["a", "b", "c"]
    assert loaded.metadata["dataset"] == net.metadata["dataset"]
    assert loaded.metadata["training"] == TrainingConfig(epochs=2, batch_size=16, validation_split=0.2).to_dict()
    x, _ = blobs(20, seed=5)
    assert np.array_equal(net.predict(x), loaded.predict(x))
    assert net.summary() == loaded.summary()


def test_file_layout_and_manifest(saved):
    _, path = saved
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in zf.infolist())
    assert {"manifest.json", "spec.json", "training.json", "metadata.json", "rng.json",
            "weights/layers.0.W.npy", "weights/layers.3.b.npy", "optimizer/layers.0.W%2Fm.npy"} <= set(names)
    manifest = json_member(path, "manifest.json")
    assert manifest["format"] == "nnstudio-model" and manifest["format_version"] == 1
    assert manifest["numpy_version"] == np.__version__ and manifest["created_utc"].endswith("Z")
    training = json_member(path, "training.json")
    assert training["optimizer"]["slots"]["layers.0.W/m"] == "optimizer/layers.0.W%2Fm.npy"
    assert training["epochs_done"] == 2 and training["optimizer"]["iterations"] > 0
    assert json_member(path, "rng.json")["bit_generator"] == "PCG64"


def test_member_names_encode_keys_safely():
    assert weights_member("layers.0.W") == "weights/layers.0.W.npy"
    assert optimizer_member("layers.12.b/velocity") == "optimizer/layers.12.b%2Fvelocity.npy"


def test_round_trip_history_with_hyperparameter_events(tmp_path):
    from core import TrainingControl

    net = mlp()
    x, y = blobs()
    control = TrainingControl()
    control.set_learning_rate(0.02)
    net.fit(x, y, epochs=1, batch_size=30, control=control)
    assert net.history.events
    save_model(net, tmp_path / "m.nnz")
    loaded = load_model(tmp_path / "m.nnz")
    assert loaded.history.events == net.history.events
    assert loaded.optimizer.learning_rate == 0.02


def test_round_trip_untrained_network_sgd_without_state(tmp_path):
    net = mlp(optimizer={"type": "SGD", "learning_rate": 0.1}, dropout=0)
    save_model(net, tmp_path / "m.nnz")
    loaded = load_model(tmp_path / "m.nnz")
    assert_same_network(net, loaded)
    assert loaded.metadata == {}


def test_round_trip_float64_network(tmp_path):
    spec = mlp().to_spec().replace(dtype="float64")
    net = Network.from_spec(spec)
    x, y = blobs()
    net.fit(x, y, epochs=1, batch_size=16)
    save_model(net, tmp_path / "m.nnz")
    loaded = load_model(tmp_path / "m.nnz")
    assert loaded.dtype == np.float64
    assert_same_network(net, loaded)


def test_round_trip_conv_network(tmp_path):
    pytest.importorskip("core.layers.conv")
    net = Network.from_spec({"input_shape": [1, 6, 6], "layers": [
        {"type": "Conv2D", "filters": 3, "kernel_size": 3, "padding": "same"},
        {"type": "Activation", "function": "relu"}, {"type": "MaxPool2D", "pool_size": 2},
        {"type": "Flatten"}, {"type": "Dropout", "rate": 0.2}, {"type": "Dense", "units": 2},
        {"type": "Activation", "function": "softmax"}],
        "loss": "cross_entropy", "optimizer": {"type": "Adam", "learning_rate": 0.01}, "seed": 1})
    rng = np.random.default_rng(1)
    x = rng.normal(size=(24, 1, 6, 6)).astype(np.float32)
    y = (x[:, 0, :3].sum(axis=(1, 2)) > 0).astype(np.int64)
    net.fit(x, y, epochs=2, batch_size=8)
    save_model(net, tmp_path / "conv.nnz")
    loaded = load_model(tmp_path / "conv.nnz")
    assert_same_network(net, loaded)
    assert np.array_equal(net.predict(x), loaded.predict(x))
    net.fit(x, y, epochs=1, batch_size=8)
    loaded.fit(x, y, epochs=1, batch_size=8)
    for key, w in net.get_weights().items():
        assert np.array_equal(w, loaded.get_weights()[key]), key


# ----------------------------------------------------------------------------------------------
# exact resume
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("optimizer", [
    {"type": "Adam", "learning_rate": 0.01},
    {"type": "SGD", "learning_rate": 0.05, "momentum": 0.9},
    {"type": "SGD", "learning_rate": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.001},
])
def test_exact_resume_after_save_and_load(tmp_path, optimizer):
    x, y = blobs(70)
    n, k = 5, 2
    a = mlp(seed=11, optimizer=optimizer)
    a.fit(x, y, epochs=n, batch_size=8, shuffle=True, validation_split=0.2)

    b = mlp(seed=11, optimizer=optimizer)
    b.fit(x, y, epochs=k, batch_size=8, shuffle=True, validation_split=0.2)
    save_model(b, tmp_path / "b.nnz")
    c = load_model(tmp_path / "b.nnz")
    c.fit(x, y, epochs=n - k, batch_size=8, shuffle=True, validation_split=0.2)

    for key, w in a.get_weights().items():
        assert np.array_equal(w, c.get_weights()[key]), key
    assert c.epochs_done == n
    assert a.history.to_dict()["batches"]["loss"] == c.history.to_dict()["batches"]["loss"]
    assert a.optimizer.iterations == c.optimizer.iterations
    assert a.rng.bit_generator.state == c.rng.bit_generator.state


def test_resume_without_restoring_state_would_differ(tmp_path):
    """Guards the exact-resume test: dropout and shuffling really depend on the generator."""
    x, y = blobs(70)
    a = mlp(seed=11)
    a.fit(x, y, epochs=3, batch_size=8)
    b = mlp(seed=11)
    b.fit(x, y, epochs=1, batch_size=8)
    save_model(b, tmp_path / "b.nnz")
    c = load_model(tmp_path / "b.nnz")
    c.rng = np.random.default_rng(99)  # the layers still hold the restored generator ...
    for layer in c.layers:
        if hasattr(layer, "_rng"):
            layer._rng = c.rng  # ... so swap it everywhere
    c.fit(x, y, epochs=2, batch_size=8)
    assert not np.array_equal(a.get_weights()["layers.0.W"], c.get_weights()["layers.0.W"])


# ----------------------------------------------------------------------------------------------
# non-trainable layer state (tests/core/stateful_layer.py: a test-only layer with a running mean)
# ----------------------------------------------------------------------------------------------
@pytest.fixture
def stateful_saved(tmp_path):
    """A trained 4 -> Dense 6 -> TestCenter -> tanh -> Dense 3 network and its saved file."""
    from tests.core.stateful_layer import Center, registered

    with registered():
        net = Network([core.Dense(6), Center(), core.Activation("tanh"), core.Dense(3)], input_shape=(4,),
                      loss="cross_entropy", optimizer={"type": "Adam", "learning_rate": 0.01}, seed=2)
        x, y = blobs()
        net.fit(x + 3.0, y, epochs=2, batch_size=16)  # inputs far from 0: the running mean moves
        path = tmp_path / "stateful.nnz"
        save_model(net, path)
        yield net, path


def test_state_round_trips_through_the_file_as_format_2(stateful_saved):
    net, path = stateful_saved
    state = net.state_dict()["layers.1.running_mean"]
    assert np.abs(state).max() > 1.0  # really trained away from its initial zeros
    assert json_member(path, "manifest.json")["format_version"] == 2
    assert "state/layers.1.running_mean.npy" in members_of(path)
    loaded = load_model(path)
    assert_same_network(net, loaded)  # get_weights includes the state
    assert np.array_equal(loaded.state_dict()["layers.1.running_mean"], state)
    x, y = blobs(20, seed=5)
    assert np.array_equal(loaded.predict(x + 3.0), net.predict(x + 3.0))
    # training continues exactly: the state keeps moving the same way in both
    net.fit(x + 3.0, y, epochs=1, batch_size=8)
    loaded.fit(x + 3.0, y, epochs=1, batch_size=8)
    for key, w in net.get_weights().items():
        assert np.array_equal(w, loaded.get_weights()[key]), key


def test_a_network_without_state_is_still_written_as_format_1(saved):
    _, path = saved
    assert json_member(path, "manifest.json")["format_version"] == 1
    assert not any(name.startswith("state/") for name in members_of(path))


def test_state_members_are_checked_like_weights(stateful_saved, tmp_path):
    _, path = stateful_saved
    member = "state/layers.1.running_mean.npy"
    expect_error(with_members(path, tmp_path, {member: None}), f"member {member!r} is missing")
    expect_error(with_members(path, tmp_path, {member: npy_bytes(np.zeros(5, np.float32))}),
                 member, "has shape (5,) but the network needs (6,)")
    expect_error(with_members(path, tmp_path, {member: npy_bytes(np.full(6, np.nan, np.float32))}),
                 member, "NaN or infinite")
    expect_error(with_members(path, tmp_path, {"state/layers.0.running_mean.npy": npy_bytes(np.zeros(6, np.float32))}),
                 "unknown member 'state/layers.0.running_mean.npy'")


def test_a_format_1_file_cannot_hold_state(stateful_saved, saved, tmp_path):
    stateful_path = stateful_saved[1]
    manifest = dict(json_member(stateful_path, "manifest.json"), format_version=1)
    expect_error(with_members(stateful_path, tmp_path, {"manifest.json": _json_bytes(manifest)}),
                 "spec.json has layers with state (layers.1.running_mean) but a format-1 file cannot hold state")
    plain = saved[1]
    expect_error(with_members(plain, tmp_path, {"state/layers.0.running_mean.npy": npy_bytes(np.zeros(8, np.float32))}),
                 "unknown member 'state/layers.0.running_mean.npy'")


# ----------------------------------------------------------------------------------------------
# atomic save
# ----------------------------------------------------------------------------------------------
def test_failed_save_keeps_previous_file_and_leaves_no_temp(saved, monkeypatch):
    net, path = saved
    before = path.read_bytes()
    calls = {"n": 0}
    real_save = np.save

    def failing_save(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 1:
            raise RuntimeError("disk on fire")
        return real_save(*args, **kwargs)

    monkeypatch.setattr(np, "save", failing_save)
    net.fit(*blobs(), epochs=1, batch_size=16)
    with pytest.raises(RuntimeError, match="disk on fire"):
        save_model(net, path)
    assert calls["n"] == 2
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.nnz"]


def test_failed_zip_write_cleans_up_as_os_error(saved, monkeypatch):
    net, path = saved
    before = path.read_bytes()

    def failing_writestr(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(zipfile.ZipFile, "writestr", failing_writestr)
    with pytest.raises(ModelFileError, match="No space left on device"):
        save_model(net, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.nnz"]


def test_saving_over_an_existing_file_replaces_it(saved):
    net, path = saved
    os.chmod(path, 0o640)
    net.fit(*blobs(), epochs=1, batch_size=16)
    save_model(net, path)
    loaded = load_model(path)
    assert loaded.epochs_done == 3
    assert_same_network(net, loaded)
    assert oct(os.stat(path).st_mode & 0o777) == oct(0o640)
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.nnz"]


def test_metadata_that_is_not_json_is_refused_before_writing(tmp_path):
    net = mlp()
    net.metadata = {"when": object()}
    with pytest.raises(ModelFileError, match=r"metadata\.json"):
        save_model(net, tmp_path / "m.nnz")
    assert list(tmp_path.iterdir()) == []


def test_invalid_training_config_is_refused_on_save(tmp_path):
    with pytest.raises(ModelFileError, match="training settings"):
        save_model(mlp(), tmp_path / "m.nnz", training_config={"epochs": -1})


def test_save_into_missing_folder_is_a_model_file_error(tmp_path):
    with pytest.raises(ModelFileError, match="cannot save"):
        save_model(mlp(), tmp_path / "nope" / "m.nnz")


# ----------------------------------------------------------------------------------------------
# bad input: files and archives
# ----------------------------------------------------------------------------------------------
def test_missing_file(tmp_path):
    expect_error(tmp_path / "none.nnz", "no such model file")


def test_folder_instead_of_file(tmp_path):
    expect_error(tmp_path, "folder")


def test_empty_file(tmp_path):
    (tmp_path / "e.nnz").write_bytes(b"")
    expect_error(tmp_path / "e.nnz", "empty")


def test_random_bytes(tmp_path):
    (tmp_path / "r.nnz").write_bytes(np.random.default_rng(0).bytes(5000))
    expect_error(tmp_path / "r.nnz", "not a zip archive")


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.9, 0.99])
def test_truncated_file(saved, tmp_path, keep):
    _, path = saved
    data = path.read_bytes()
    cut = tmp_path / "cut.nnz"
    cut.write_bytes(data[:int(len(data) * keep)])
    expect_error(cut, "cut.nnz")


def test_file_over_disk_budget(saved, monkeypatch):
    _, path = saved
    monkeypatch.setattr(limits, "MAX_FILE_BYTES", 100)
    expect_error(path, "over the")


def test_not_a_model_zip(tmp_path):
    expect_error(write_zip(tmp_path / "x.nnz", {"readme.txt": b"hi"}), "unknown member 'readme.txt'")


@pytest.mark.parametrize("name, fragment", [
    ("../evil.npy", "'..'"),
    ("weights/../../evil.npy", "'..'"),
    ("/etc/x", "absolute path"),
    ("C:/x.npy", "absolute path"),
    ("weights\\layers.0.W.npy", "backslash"),
    ("weights/sub/x.npy", "unknown member"),
    ("weights/", "'..', '.' or an empty"),
    ("notes.json", "unknown member"),
])
def test_hostile_member_names(saved, tmp_path, name, fragment):
    _, path = saved
    bad = with_members(path, tmp_path, {name: b"x"})
    expect_error(bad, fragment, "bad.nnz")


def test_unknown_weights_member_for_this_network(saved, tmp_path):
    _, path = saved
    bad = with_members(path, tmp_path, {"weights/layers.9.W.npy": npy_bytes(np.zeros(2, np.float32))})
    expect_error(bad, "unknown member 'weights/layers.9.W.npy'")


@pytest.mark.parametrize("member", ["manifest.json", "spec.json", "rng.json", "weights/layers.0.W.npy",
                                    "optimizer/layers.3.b%2Fv.npy"])
def test_missing_member(saved, tmp_path, member):
    _, path = saved
    expect_error(with_members(path, tmp_path, {member: None}), f"{member!r}", "missing")


def test_duplicate_member(saved, tmp_path):
    _, path = saved
    members = members_of(path)
    bad = tmp_path / "dup.nnz"
    with pytest.warns(UserWarning), zipfile.ZipFile(bad, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        zf.writestr("spec.json", members["spec.json"])
    expect_error(bad, "'spec.json' appears twice")


def test_too_many_members(saved, tmp_path, monkeypatch):
    _, path = saved
    monkeypatch.setattr(limits, "MAX_MEMBERS", 5)
    expect_error(path, "members, more than the 5 allowed")


def test_unsupported_compression(saved, tmp_path):
    _, path = saved
    members = members_of(path)
    bad = tmp_path / "bz.nnz"
    with zipfile.ZipFile(bad, "w", zipfile.ZIP_BZIP2) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    expect_error(bad, "compression method 12")


def test_stored_members_are_accepted(saved, tmp_path):
    net, path = saved
    plain = write_zip(tmp_path / "stored.nnz", members_of(path), zipfile.ZIP_STORED)
    assert_same_network(net, load_model(plain))


def _patch_central_size(data: bytes, member: str, size: int, field_offset: int = 24) -> bytes:
    """Rewrite a member's uncompressed size (offset 24) in the central directory."""
    raw = bytearray(data)
    pos = raw.find(b"PK\x01\x02")
    while pos >= 0:
        name_len = struct.unpack("<H", raw[pos + 28:pos + 30])[0]
        name = bytes(raw[pos + 46:pos + 46 + name_len]).decode()
        if name == member:
            raw[pos + field_offset:pos + field_offset + 4] = struct.pack("<I", size)
            return bytes(raw)
        pos = raw.find(b"PK\x01\x02", pos + 4)
    raise AssertionError(f"{member} not in central directory")


def test_declared_size_over_member_budget_is_refused_before_decompressing(saved, tmp_path, monkeypatch):
    _, path = saved
    bad = tmp_path / "huge.nnz"
    bad.write_bytes(_patch_central_size(path.read_bytes(), "weights/layers.0.W.npy", 0x7FFF0000))
    opened = []
    monkeypatch.setattr(zipfile.ZipFile, "open",
                        lambda *a, **k: opened.append(a) or (_ for _ in ()).throw(AssertionError))
    expect_error(bad, "'weights/layers.0.W.npy' declares", "budget")
    assert opened == []


def test_declared_total_over_budget(saved, monkeypatch):
    _, path = saved
    monkeypatch.setattr(limits, "MAX_TOTAL_BYTES", 2000)
    expect_error(path, "in total", "budget")


def test_zip_bomb_member_is_refused(saved, tmp_path, monkeypatch):
    """60 MB of zeros compress to ~60 KB; with a 1 MiB member budget it is refused up front."""
    _, path = saved
    monkeypatch.setattr(limits, "MAX_ARRAY_BYTES", 1024 * 1024)
    bomb = hand_npy("'<f4'", (15_000_000,), bytes(60_000_000))
    bad = with_members(path, tmp_path, {"weights/layers.0.W.npy": bomb})
    assert bad.stat().st_size < 1_000_000
    expect_error(bad, "'weights/layers.0.W.npy' declares", "zip bomb")


def test_declared_size_that_understates_the_data_is_caught(saved, tmp_path):
    _, path = saved
    bad = tmp_path / "lie.nnz"
    bad.write_bytes(_patch_central_size(path.read_bytes(), "spec.json", 10))
    expect_error(bad, "'spec.json'")


def test_streaming_read_stops_at_the_limit_with_bounded_memory(tmp_path):
    """Declared sizes can lie: the reader stops as soon as more than ``limit`` bytes come out."""
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("weights/x.npy", bytes(40_000_000))
    with zipfile.ZipFile(bomb) as zf:
        info = zf.getinfo("weights/x.npy")
        tracemalloc.start()
        try:
            with pytest.raises(ModelFileError, match="decompresses to more than"):
                read_member_limited(zf, info, 3_000_000, ModelFileError)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 12_000_000


# ----------------------------------------------------------------------------------------------
# bad input: JSON members
# ----------------------------------------------------------------------------------------------
def _json_bytes(value) -> bytes:
    return json.dumps(value).encode()


def test_newer_format_version(saved, tmp_path):
    _, path = saved
    manifest = dict(json_member(path, "manifest.json"), format_version=99)
    message = expect_error(with_members(path, tmp_path, {"manifest.json": _json_bytes(manifest)}))
    assert message.endswith("made by a newer nnstudio (format 99); this version reads up to format 2 — update nnstudio")


@pytest.mark.parametrize("manifest, fragment", [
    ({"format": "keras", "format_version": 1}, "not an nnstudio model"),
    ({"format": "nnstudio-model", "format_version": "1"}, "invalid format_version"),
    ({"format": "nnstudio-model", "format_version": 0}, "invalid format_version"),
    ({"format": "nnstudio-model", "format_version": True}, "invalid format_version"),
    ([1, 2], "must hold an object, not a list"),
])
def test_bad_manifest(saved, tmp_path, manifest, fragment):
    _, path = saved
    expect_error(with_members(path, tmp_path, {"manifest.json": _json_bytes(manifest)}), "manifest.json", fragment)


@pytest.mark.parametrize("raw, fragment", [
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe{}", "not UTF-8"),
    (b'{"a": 1' + b"0" * 5000 + b"}", "spec.json"),  # digit limit of int()
    (b"[" * 100_000 + b"]" * 100_000, "spec.json"),
])
def test_malformed_json(saved, tmp_path, raw, fragment):
    _, path = saved
    expect_error(with_members(path, tmp_path, {"spec.json": raw}), fragment)


def test_unknown_layer_type(saved, tmp_path):
    _, path = saved
    spec = json_member(path, "spec.json")
    spec["layers"][1] = {"type": "Lambda", "code": "__import__('os')"}
    expect_error(with_members(path, tmp_path, {"spec.json": _json_bytes(spec)}),
                 "spec.json describes an invalid network", "unknown layer type 'Lambda'")


def test_invalid_spec_setting(saved, tmp_path):
    _, path = saved
    spec = json_member(path, "spec.json")
    spec["layers"][0]["units"] = -3
    expect_error(with_members(path, tmp_path, {"spec.json": _json_bytes(spec)}), "spec.json", "units")


def test_spec_too_large_for_the_budget_is_refused_before_building(saved, tmp_path):
    _, path = saved
    spec = {"input_shape": [100_000], "layers": [{"type": "Dense", "units": 100_000}], "loss": "mse",
            "optimizer": {"type": "SGD", "learning_rate": 0.1}, "seed": 0}
    expect_error(with_members(path, tmp_path, {"spec.json": _json_bytes(spec)}), "10,000,100,000 parameters")


@pytest.mark.parametrize("change, fragment", [
    ({"epochs_done": "3"}, "'epochs_done' must be a non-negative integer"),
    ({"epochs_done": -1}, "'epochs_done'"),
    ({"extra": 1}, "unknown key 'extra'"),
    ({"config": [1]}, "'config' must be an object"),
    ({"config": {"epochs": 0, "batch_size": 1, "validation_split": 0.0, "shuffle": True}}, "invalid training settings"),
    ({"history": []}, "'history' must be an object"),
    ({"history": {"batches": {}, "epochs": [], "events": []}}, "lacks the key"),
])
def test_bad_training_json(saved, tmp_path, change, fragment):
    _, path = saved
    training = dict(json_member(path, "training.json"), **change)
    expect_error(with_members(path, tmp_path, {"training.json": _json_bytes(training)}), "training.json", fragment)


def test_bad_history_records(saved, tmp_path):
    _, path = saved
    training = json_member(path, "training.json")
    training["history"]["epochs"][0]["loss"] = "low"
    expect_error(with_members(path, tmp_path, {"training.json": _json_bytes(training)}), "item 1", "'loss'")
    training = json_member(path, "training.json")
    training["history"]["batches"]["loss"].append(1.0)
    expect_error(with_members(path, tmp_path, {"training.json": _json_bytes(training)}), "different lengths")
    training = json_member(path, "training.json")
    training["history"]["events"] = [{"progress": 1.0, "name": "learning_rate", "old": 0.1}]
    expect_error(with_members(path, tmp_path, {"training.json": _json_bytes(training)}), "lacks the key 'new'")


def test_optimizer_index_problems(saved, tmp_path):
    _, path = saved
    training = json_member(path, "training.json")
    training["optimizer"]["type"] = "SGD"
    expect_error(with_members(path, tmp_path, {"training.json": _json_bytes(training)}), "optimizer state is for 'SGD'")
    training = json_member(path, "training.json")
    training["optimizer"]["slots"]["layers.0.W/m"] = "optimizer/other.npy"
    expect_error(with_members(path, tmp_path, {"training.json": _json_bytes(training)}), "must be stored as")
    training = json_member(path, "training.json")
    training["optimizer"]["slots"]["layers.7.W/m"] = optimizer_member("layers.7.W/m")
    expect_error(with_members(path, tmp_path, {"training.json": _json_bytes(training)}),
                 "'layers.7.W/m' does not name a parameter")


def test_metadata_wrong_types(saved, tmp_path):
    _, path = saved
    expect_error(with_members(path, tmp_path, {"metadata.json": b'{"class_names": "abc"}'}), "class_names")
    expect_error(with_members(path, tmp_path, {"metadata.json": b"[]"}), "metadata.json", "must hold an object")


@pytest.mark.parametrize("state, fragment", [
    ({"bit_generator": "MT19937"}, "'MT19937' generator"),
    ({"state": {"state": -1, "inc": 1}}, "state 'state' must be an integer"),
    ({"state": {"state": 1, "inc": 2**130}}, "state 'inc' must be an integer"),
    ({"state": {"state": 1.5, "inc": 3}}, "state 'state'"),
    ({"has_uint32": 7}, "'has_uint32'"),
    ({"uinteger": "x"}, "'uinteger'"),
    ({"more": 1}, "unknown key 'more'"),
])
def test_bad_rng_state(saved, tmp_path, state, fragment):
    _, path = saved
    rng = dict(json_member(path, "rng.json"), **state)
    expect_error(with_members(path, tmp_path, {"rng.json": _json_bytes(rng)}), "rng.json", fragment)


# ----------------------------------------------------------------------------------------------
# bad input: arrays
# ----------------------------------------------------------------------------------------------
W = "weights/layers.0.W.npy"


def test_object_dtype_array_is_refused_without_unpickling(saved, tmp_path):
    _, path = saved
    payload = b"\x80\x04cos\nsystem\n."  # would be a pickle, must never be touched
    bad = with_members(path, tmp_path, {W: hand_npy("'|O'", (4, 8), payload)})
    expect_error(bad, f"{W!r}", "object or structured")


def test_structured_dtype_array_is_refused(saved, tmp_path):
    _, path = saved
    bad = with_members(path, tmp_path, {W: hand_npy("[('a', '<f4'), ('b', '<f4')]", (4, 8), bytes(256))})
    expect_error(bad, f"{W!r}", "structured")


def test_shape_mismatch(saved, tmp_path):
    _, path = saved
    bad = with_members(path, tmp_path, {W: npy_bytes(np.zeros((8, 4), np.float32))})
    expect_error(bad, f"{W!r}", "has shape (8, 4) but the network needs (4, 8)")


def test_dtype_mismatch(saved, tmp_path):
    _, path = saved
    bad = with_members(path, tmp_path, {W: npy_bytes(np.zeros((4, 8), np.float64))})
    expect_error(bad, f"{W!r}", "dtype '<f8' but the network uses float32")


def test_big_endian_array_is_refused(saved, tmp_path):
    _, path = saved
    bad = with_members(path, tmp_path, {W: npy_bytes(np.zeros((4, 8), ">f4"))})
    expect_error(bad, "'>f4'")


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_weights(saved, tmp_path, value):
    _, path = saved
    arr = np.zeros((4, 8), np.float32)
    arr[2, 3] = value
    expect_error(with_members(path, tmp_path, {W: npy_bytes(arr)}), f"{W!r}", "NaN or infinite")


def test_non_finite_optimizer_slot(saved, tmp_path):
    _, path = saved
    member = "optimizer/layers.0.W%2Fv.npy"
    arr = np.full((4, 8), np.nan, np.float32)
    expect_error(with_members(path, tmp_path, {member: npy_bytes(arr)}), member, "NaN")


def test_header_declaring_a_huge_shape_allocates_nothing(saved, tmp_path):
    _, path = saved
    bad = with_members(path, tmp_path, {W: hand_npy("'<f4'", (4, 8_000_000_000), bytes(128))})
    tracemalloc.start()
    try:
        expect_error(bad, f"{W!r}", "shape")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000


@pytest.mark.parametrize("data, fragment", [
    (b"not an array at all", "bad magic"),
    (b"\x93NUMPY\x09\x00" + bytes(100), "unsupported .npy format version"),
    (b"\x93NUMPY\x01\x00\xff\x00{'descr'", "cut short"),
    (hand_npy("'<f4'", (4, 8), bytes(64)), "data bytes"),
    (hand_npy("__import__('os')", (4, 8), bytes(128)), "not a valid dictionary"),
    (hand_npy("'<f4'", (4, -8), bytes(128)), "invalid shape"),
])
def test_damaged_npy_members(saved, tmp_path, data, fragment):
    _, path = saved
    expect_error(with_members(path, tmp_path, {W: data}), f"{W!r}", fragment)


# ----------------------------------------------------------------------------------------------
# property: any mutation of a valid file loads or raises ModelFileError, in bounded memory
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_model_bytes(tmp_path_factory) -> bytes:
    net = Network.from_spec({"input_shape": [3], "layers": [
        {"type": "Dense", "units": 4}, {"type": "Activation", "function": "tanh"}, {"type": "Dropout", "rate": 0.1},
        {"type": "Dense", "units": 2}, {"type": "Activation", "function": "softmax"}],
        "loss": "cross_entropy", "optimizer": {"type": "Adam", "learning_rate": 0.01}, "seed": 2})
    rng = np.random.default_rng(0)
    net.fit(rng.normal(size=(12, 3)).astype(np.float32), rng.integers(0, 2, 12), epochs=1, batch_size=4)
    net.metadata = {"class_names": ["no", "yes"]}
    path = tmp_path_factory.mktemp("prop") / "small.nnz"
    save_model(net, path)
    return path.read_bytes()


mutations = st.one_of(
    st.tuples(st.just("flip"), st.integers(min_value=0), st.integers(min_value=1, max_value=255)),
    st.tuples(st.just("truncate"), st.integers(min_value=0), st.just(0)),
    st.tuples(st.just("insert"), st.integers(min_value=0), st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("overwrite"), st.integers(min_value=0), st.binary(min_size=1, max_size=8)),
)


def apply_mutation(data: bytes, mutation) -> bytes:
    kind, pos, arg = mutation
    if not data:
        return arg if kind == "insert" else data
    pos %= len(data)
    if kind == "flip":
        return data[:pos] + bytes([data[pos] ^ arg]) + data[pos + 1:]
    if kind == "truncate":
        return data[:pos]
    if kind == "insert":
        return data[:pos] + arg + data[pos:]
    return data[:pos] + arg + data[pos + len(arg):]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(mutations, min_size=1, max_size=3))
def test_mutated_files_load_or_raise_model_file_error(small_model_bytes, tmp_path, mutation_list):
    data = small_model_bytes
    for m in mutation_list:
        data = apply_mutation(data, m)
    path = tmp_path / "mutant.nnz"
    path.write_bytes(data)
    tracemalloc.start()
    try:
        try:
            net = load_model(path)
        except ModelFileError as exc:
            assert str(exc) and "\n" not in str(exc)
            net = None
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024 * 1024
    if net is not None:
        out = net.predict(np.ones((5, 3), np.float32))
        assert out.shape == (5, 2) and np.all(np.isfinite(out))
