"""Hostile and careless model files (issue 14): opening any file of under 1 MB is accepted or
refused in under a second and 100 MB; metadata that would break the app later is refused at
load; saving never raises anything but a sentence and writes editors' way (symbolic links
written through, special files refused, temporary files of killed saves cleaned up)."""

from __future__ import annotations

import fcntl
import io
import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

from core import Network, limits
from core.saving import ModelFileError, load_model, save_model

ROOT = Path(__file__).resolve().parents[2]


def small_net() -> Network:
    return Network.from_spec({"input_shape": [4], "layers": [{"type": "Dense", "units": 3}], "loss": "mse",
                              "optimizer": {"type": "SGD", "learning_rate": 0.1}, "seed": 0})


def members_of(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


@pytest.fixture
def base(tmp_path) -> dict[str, bytes]:
    save_model(small_net(), tmp_path / "base.nnz")
    return members_of(tmp_path / "base.nnz")


def variant(base: dict[str, bytes], tmp_path: Path, name: str, **changes: bytes) -> Path:
    members = dict(base)
    for member, data in changes.items():
        members[member.replace("__", "/").replace("_json", ".json").replace("_npy", ".npy")] = data
    return write_zip(tmp_path / name, members)


def spec_with(base: dict[str, bytes], **fields) -> bytes:
    return json.dumps({**json.loads(base["spec.json"]), **fields}).encode()


# ----------------------------------------------------------------------------------------------
# Any file under 1 MB: accepted or refused in under 1 s and 100 MB (measured in a subprocess)
# ----------------------------------------------------------------------------------------------
def _zero_bomb(base: dict[str, bytes]) -> dict[str, bytes]:
    return {"spec_json": spec_with(base, input_shape=[20000], layers=[{"type": "Dense", "units": 1000}]),
            "weights__layers.0.W_npy": npy(np.zeros((20000, 1000), np.float32)),
            "weights__layers.0.b_npy": npy(np.zeros(1000, np.float32))}


#: name -> (members to change, given the base members; whether the file must load).
HOSTILE: dict[str, tuple] = {
    # The issue's reproductions: a 2.7 KB file whose spec declares a 100000 -> 1300 Dense
    # (peaked at 1.5 GB), and 1,000,000 Flatten layers in 53 KB (92 s, 1.8 GB).
    "dense_100000_to_1300": (lambda b: {"spec_json": spec_with(b, input_shape=[100000],
                                                               layers=[{"type": "Dense", "units": 1300}])}, False),
    "million_flatten": (lambda b: {"spec_json": spec_with(b, layers=[{"type": "Flatten"}] * 1_000_000)}, False),
    # Within every spec limit (20M parameters), arrays tiny: refused before building.
    "dense_within_limits_tiny_arrays": (lambda b: {"spec_json": spec_with(b, input_shape=[20000],
                                                                          layers=[{"type": "Dense", "units": 1000}])},
                                        False),
    # Honest declared sizes: 76 MiB of zeros compressed to 80 KB.
    "zero_weights_bomb": (_zero_bomb, False),
    # JSON members just under their byte allowance, of the cheapest values to write and
    # the dearest to parse.
    "training_zeros": (lambda b: {"training_json": b"[" + b"0," * (limits.JSON_FREE_BYTES["training.json"] // 2 - 2)
                                  + b"0]"}, False),
    "metadata_empty_lists": (lambda b: {"metadata_json": b"["
                                        + b"[]," * (limits.JSON_FREE_BYTES["metadata.json"] // 3 - 2)
                                        + b"[]]"}, False),
    "metadata_deep": (lambda b: {"metadata_json": b"[" * 200_000 + b"]" * 200_000}, False),
    "spec_many_layers": (lambda b: {"spec_json": spec_with(b, layers=[{"type": "Flatten"}] * 40_000)}, False),
    # Accepted: metadata at the value limit.
    "metadata_at_value_limit": (lambda b: {"metadata_json": b'{"v": [' + b"0," * (limits.MAX_JSON_VALUES - 11)
                                           + b"0]}"}, True),
}


def hostile_file(base: dict[str, bytes], tmp_path: Path, name: str) -> tuple[Path, bool]:
    changes, must_load = HOSTILE[name]
    path = variant(base, tmp_path, name + ".nnz", **changes(base))
    assert path.stat().st_size < 1_000_000
    return path, must_load


MEASURE = textwrap.dedent("""
    import json, sys, time
    from core import load_model, ModelFileError
    out = {}
    for path in sys.argv[1:]:
        # CPU time: what the load costs, whatever else the (shared) machine is doing.
        start = time.process_time()
        try:
            load_model(path)
            result = "loaded"
        except ModelFileError as exc:
            result = str(exc)
        out[path] = [time.process_time() - start, result]
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forked parent across exec.
    with open("/proc/self/status") as status:
        out["peak_mb"] = next(int(l.split()[1]) for l in status if l.startswith("VmHWM:")) / 1024
    print(json.dumps(out))
""")


def measure(paths: list[Path]) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", MEASURE, *map(str, paths)], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_file_under_1_mb_is_decided_in_under_a_second_and_100_mb(base, tmp_path, name):
    path, must_load = hostile_file(base, tmp_path, name)
    result = measure([path])
    seconds, outcome = result[str(path)]
    print(f"{name}: {path.stat().st_size:,} bytes, {seconds:.3f} s, peak {result['peak_mb']:.0f} MB: {outcome}")
    assert (outcome == "loaded") == must_load, outcome
    if not must_load:
        assert outcome.startswith(path.name + ":"), outcome
    assert seconds < 1.0, (seconds, outcome)
    assert result["peak_mb"] < 100, (result["peak_mb"], outcome)


def test_the_issue_reproductions_name_the_limit(base, tmp_path):
    for name, fragment in [("dense_100000_to_1300", "130,001,300 parameters"),
                           ("million_flatten", "spec.json"),
                           ("dense_within_limits_tiny_arrays",
                            r"'weights/layers.0.W.npy' has shape \(4, 3\) but the network needs \(20000, 1000\)"),
                           ("zero_weights_bomb", "arrays"), ("training_zeros", "values")]:
        with pytest.raises(ModelFileError, match=fragment):
            load_model(hostile_file(base, tmp_path, name)[0])


# ----------------------------------------------------------------------------------------------
# Metadata and counters that loaded but broke later
# ----------------------------------------------------------------------------------------------
def metadata_variant(base, tmp_path, metadata: dict | bytes) -> Path:
    raw = metadata if isinstance(metadata, bytes) else json.dumps(metadata).encode()
    return variant(base, tmp_path, "meta.nnz", metadata_json=raw)


@pytest.mark.parametrize("metadata, fragment", [
    ({"dataset": {"name": "moons", "params": [1, 2]}}, "'params' must be an object, not a list"),
    ({"dataset": {"name": "moons", "params": "noise=0.1"}}, "'params' must be an object"),
    ({"dataset": {"name": "moons", "params": {"bogus": 1}}}, "dataset 'moons' has no parameter 'bogus'"),
    ({"dataset": {"name": "moons", "params": {"noise": "loud"}}}, "'noise' must be a number"),
    ({"dataset": {"name": "moons", "params": {"noise": {"deep": 1}}}}, "must be a plain value"),
    ({"dataset": {"name": "import-csv", "params": {}}}, "needs the parameter 'path'"),
    ({"dataset": {"name": "import-idx", "params": {"images": "a.idx"}}}, "needs the parameter 'labels'"),
    ({"dataset": {"name": "import-csv", "params": {"path": 7}}}, "'path' must be a string"),
    ({"dataset": {"params": {}}}, "'name' must be a non-empty string"),
    ({"dataset": {"name": "moons", "extra": 1}}, "unknown key 'extra'"),
    ({"dataset": "moons"}, "'dataset' must be an object"),
    ({"class_names": ["a", 3]}, "'class_names' must be a list of strings"),
    ({"preprocessing": {"scale": "big"}}, "'scale' must be a finite, non-zero number"),
    ({"preprocessing": {"image_shape": [28, -28]}}, "'image_shape'"),
    ({"split": {"seed": -1}}, "'seed' must be a non-negative integer"),
    ({"split": {"validation_fraction": 2}}, "'validation_fraction' must be a number in [0, 1)"),
    ({"training": {"epochs": 0}}, "'training' holds invalid training settings"),
    ({"test_accuracy": "99%"}, "'test_accuracy' must be a number between 0 and 1"),
    ({"notes": "x" * (limits.MAX_METADATA_STRING + 1)}, "characters long"),
])
def test_metadata_of_the_wrong_type_or_with_unknown_keys_is_refused_at_load(base, tmp_path, metadata, fragment):
    with pytest.raises(ModelFileError) as info:
        load_model(metadata_variant(base, tmp_path, metadata))
    assert str(info.value).startswith("meta.nnz: metadata.json")
    assert fragment in str(info.value)


def test_valid_dataset_params_of_every_kind_load(base, tmp_path):
    for dataset in ({"name": "moons", "params": {"noise": 0.2, "n_samples": 100, "seed": 3}},
                    {"name": "mnist", "params": {"layout": "image", "include_drawings": True}},
                    {"name": "import-csv", "params": {"path": "/data/x.csv", "label_column": "y", "has_header": None}},
                    {"name": "import-idx", "params": {"images": "i.idx", "labels": "l.idx", "layout": "flat"}},
                    {"name": "a script's own data", "fingerprint": "ab" * 32, "params": {"anything": 1}}):
        load_model(metadata_variant(base, tmp_path, {"dataset": dataset}))


def test_a_lone_surrogate_in_metadata_is_refused_at_load(base, tmp_path):
    raw = b'{"class_names": ["a", "b\\ud800"]}'
    with pytest.raises(ModelFileError, match=r"'class_names' › \[1\] contains a lone surrogate"):
        load_model(metadata_variant(base, tmp_path, raw))


def test_a_lone_surrogate_in_metadata_is_a_sentence_on_save_and_the_old_file_stays(tmp_path):
    net = small_net()
    path = tmp_path / "m.nnz"
    save_model(net, path)
    before = path.read_bytes()
    for metadata in ({"class_names": ["ok", "bad\udc80"]}, {"dataset": {"name": "import-csv",
                                                                         "params": {"path": "/tmp/\udcff.csv"}}},
                     {"key\ud800": 1}):
        net.metadata = metadata
        with pytest.raises(ModelFileError, match="lone surrogate"):
            save_model(net, path)
        assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.nnz"]


def training_variant(base, tmp_path, change) -> Path:
    training = json.loads(base["training.json"])
    change(training)
    return variant(base, tmp_path, "train.nnz", training_json=json.dumps(training).encode())


@pytest.mark.parametrize("change, fragment", [
    (lambda t: t.update(epochs_done=10**4000),
     "'epochs_done' must be a non-negative integer up to 1,000,000,000, not an integer with about"),
    (lambda t: t.update(epochs_done=-5), "'epochs_done' must be a non-negative integer"),
    (lambda t: t["optimizer"].update(iterations=10**300), "'iterations' must be a non-negative integer up to"),
    (lambda t: t["history"].update(batches={"progress": [1e308], "loss": [1.0], "accuracy": [1.0],
                                            "learning_rate": [0.1], "batch_size": [1]}), "'progress'"),
    (lambda t: t["history"].update(batches={"progress": [1.0], "loss": [1.0], "accuracy": [1.0],
                                            "learning_rate": [0.1], "batch_size": [2.5]}), "'batch_size'"),
    (lambda t: t["history"].update(epochs=[{"epoch": 10**30, "loss": 1, "accuracy": 1, "val_loss": None,
                                            "val_accuracy": None, "learning_rate": 0.1, "seconds": 1,
                                            "samples_per_second": 1}]), "'epoch'"),
    (lambda t: t["history"].update(events=[{"progress": 1.0, "name": "momentum", "old": 1, "new": 2}]), "'name'"),
])
def test_counters_and_history_values_out_of_range_are_refused_at_load(base, tmp_path, change, fragment):
    with pytest.raises(ModelFileError) as info:
        load_model(training_variant(base, tmp_path, change))
    assert fragment in str(info.value)
    assert len(str(info.value)) < 400  # a sentence, not thousands of digits


# ----------------------------------------------------------------------------------------------
# Where saving writes
# ----------------------------------------------------------------------------------------------
def test_saving_to_a_symlink_writes_through_to_its_target(tmp_path):
    net = small_net()
    real = tmp_path / "models" / "real.nnz"
    real.parent.mkdir()
    save_model(net, real)
    link = tmp_path / "link.nnz"
    link.symlink_to(real)
    net.epochs_done = 7
    save_model(net, link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert load_model(real).epochs_done == 7
    assert sorted(p.name for p in real.parent.iterdir()) == ["real.nnz"]


def test_saving_to_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.nnz"
    link.symlink_to("target.nnz")
    save_model(small_net(), link)
    assert link.is_symlink() and (tmp_path / "target.nnz").is_file()


@pytest.mark.parametrize("kind", ["fifo", "device", "folder", "link to fifo"])
def test_saving_onto_a_special_file_is_refused(tmp_path, kind):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    target = {"fifo": fifo, "device": Path("/dev/null"), "folder": tmp_path, "link to fifo": tmp_path / "l"}[kind]
    if kind == "link to fifo":
        target.symlink_to(fifo)
    with pytest.raises(ModelFileError, match="not a file; choose a file name"):
        save_model(small_net(), target)
    assert stat_kind(fifo) == "fifo"


def stat_kind(path: Path) -> str:
    import stat

    return "fifo" if stat.S_ISFIFO(os.stat(path).st_mode) else "other"


@pytest.mark.parametrize("path", ["", "   "])
def test_an_empty_path_gets_a_sentence(path):
    with pytest.raises(ModelFileError, match="no file name was given"):
        save_model(small_net(), path)


def test_opening_a_fifo_or_a_device_is_refused_without_reading(tmp_path):
    fifo = tmp_path / "pipe.nnz"
    os.mkfifo(fifo)
    code = f"from core import load_model, ModelFileError\nfor p in [{str(fifo)!r}, '/dev/zero']:\n" \
           "    try:\n        load_model(p)\n    except ModelFileError as e:\n        print(e)\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
    lines = proc.stdout.splitlines()
    assert len(lines) == 2 and all("is not a regular file" in line for line in lines), proc.stdout + proc.stderr


KILLED_SAVE = textwrap.dedent("""
    import os, signal, sys
    from core import Network, save_model
    net = Network.from_spec({"input_shape": [4], "layers": [{"type": "Dense", "units": 3}], "loss": "mse"})
    os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)  # die after writing, before the rename
    save_model(net, sys.argv[1])
""")


def test_a_killed_save_leaves_the_old_file_and_the_next_save_removes_its_temporary_file(tmp_path):
    path = tmp_path / "m.nnz"
    save_model(small_net(), path)
    before = path.read_bytes()
    proc = subprocess.run([sys.executable, "-c", KILLED_SAVE, str(path)], env={**os.environ, "PYTHONPATH": str(ROOT)},
                          timeout=60, check=False)
    assert proc.returncode == -9
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "m.nnz"]
    assert len(leftovers) == 1 and leftovers[0].startswith(".m.nnz.nnsave-") and leftovers[0].endswith(".tmp")
    assert path.read_bytes() == before
    save_model(small_net(), tmp_path / "other.nnz")  # any save to the folder cleans up
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.nnz", "other.nnz"]


def test_cleanup_spares_a_save_in_progress_and_files_that_are_not_ours(tmp_path):
    busy = tmp_path / ".a.nnz.nnsave-abcd1234.tmp"
    busy.write_bytes(b"being written")
    stale = tmp_path / ".b.nnz.nnsave-wxyz9876.tmp"
    stale.write_bytes(b"left by a killed save")
    not_ours = [tmp_path / ".b.nnz.abcd1234.tmp", tmp_path / "notes.nnsave-abcd1234.tmp", tmp_path / ".x.tmp"]
    for p in not_ours:
        p.write_bytes(b"someone else's")
    fd = os.open(busy, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # what a save in progress in another process holds
        save_model(small_net(), tmp_path / "m.nnz")
        assert busy.exists() and not stale.exists() and all(p.exists() for p in not_ours)
    finally:
        os.close(fd)
