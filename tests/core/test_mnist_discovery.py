"""Finding MNIST on the computer, user folders, and the decoded-array cache."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from core.data import DataError, find_mnist, load_mnist, locate_mnist_in, mnist_search_places
from core.data import mnist as mnist_module
from core.data.mnist import load as mnist_load
from core.data.paths import user_cache_dir, user_data_dir
from tests.core.data_fixtures import (
    MNIST_GZ,
    TRAIN_COUNTS,
    isolated_home,  # noqa: F401 - a pytest fixture, used by name
    write_fake_idx_folder,
    write_fake_npz,
)

REPO = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- user folders


def test_user_dirs_follow_nnstudio_home(monkeypatch, tmp_path):
    monkeypatch.setenv("NNSTUDIO_HOME", str(tmp_path / "nh"))
    assert user_data_dir() == tmp_path / "nh"
    assert user_cache_dir() == tmp_path / "nh" / "cache"


def test_user_dirs_linux(monkeypatch, tmp_path):
    monkeypatch.delenv("NNSTUDIO_HOME", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert user_data_dir() == tmp_path / ".local" / "share" / "nnstudio"
    assert user_cache_dir() == tmp_path / ".cache" / "nnstudio"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xd"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xc"))
    assert user_data_dir() == tmp_path / "xd" / "nnstudio"
    assert user_cache_dir() == tmp_path / "xc" / "nnstudio"


def test_user_dirs_macos_and_windows(monkeypatch, tmp_path):
    monkeypatch.delenv("NNSTUDIO_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(sys, "platform", "darwin")
    assert user_data_dir() == tmp_path / "Library" / "Application Support" / "nnstudio"
    assert user_cache_dir() == tmp_path / "Library" / "Caches" / "nnstudio"
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("APPDATA", str(tmp_path / "Roaming"))
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "Local"))
    assert user_data_dir() == tmp_path / "Roaming" / "nnstudio"
    assert user_cache_dir() == tmp_path / "Local" / "nnstudio" / "Cache"


def test_user_dirs_are_not_inside_the_package(monkeypatch):
    import core

    package = Path(core.__file__).resolve().parent
    monkeypatch.delenv("NNSTUDIO_HOME", raising=False)
    for folder in (user_data_dir(), user_cache_dir()):
        assert package not in folder.resolve().parents


# --------------------------------------------------------------------------- discovery


def test_nothing_found(isolated_home):
    assert find_mnist() is None
    with pytest.raises(DataError) as e:
        load_mnist()
    message = str(e.value)
    assert "not found" in message and "Download" in message and "locate a folder" in message
    assert str(isolated_home / ".keras" / "datasets" / "mnist.npz") in message


def test_finds_keras_npz(isolated_home):
    npz = write_fake_npz(isolated_home / ".keras" / "datasets" / "mnist.npz")
    found = find_mnist()
    assert found is not None and found.kind == "npz" and found.paths == (npz,)
    assert found.source == "Keras cache" and str(npz) in found.describe()


def test_keras_home_env(isolated_home, tmp_path, monkeypatch):
    npz = write_fake_npz(tmp_path / "kh" / "datasets" / "mnist.npz")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    assert find_mnist().paths == (npz,)


def test_npz_without_mnist_keys_is_ignored(isolated_home):
    path = isolated_home / ".keras" / "datasets" / "mnist.npz"
    path.parent.mkdir(parents=True)
    np.savez(path, something=np.zeros(3))
    assert find_mnist() is None
    path.write_bytes(b"not a zip at all")
    assert find_mnist() is None


@pytest.mark.parametrize("root", ["data", "datasets", ".torchvision"])
@pytest.mark.parametrize("compress", [False, True])
def test_finds_torchvision_raw_folder(isolated_home, root, compress):
    raw = write_fake_idx_folder(isolated_home / root / "MNIST" / "raw", compress=compress)
    found = find_mnist()
    assert found is not None and found.kind == "idx" and found.source == "torchvision folder"
    assert found.folder == raw
    assert [p.name.split("-")[0] for p in found.paths] == ["train", "train", "t10k", "t10k"]


def test_finds_torchvision_folder_under_working_directory(isolated_home):
    raw = write_fake_idx_folder(Path.cwd() / "data" / "MNIST" / "raw")
    assert find_mnist().folder == raw


def test_incomplete_folder_is_ignored(isolated_home):
    raw = write_fake_idx_folder(isolated_home / "data" / "MNIST" / "raw")
    (raw / "t10k-labels-idx1-ubyte.gz").unlink()
    assert find_mnist() is None
    (raw / "t10k-labels-idx1-ubyte.gz").write_bytes(b"")  # empty files do not count either
    assert find_mnist() is None


def test_dotted_file_names(isolated_home, tmp_path):
    folder = write_fake_idx_folder(tmp_path / "kaggle", compress=False)
    for path in folder.iterdir():
        path.rename(path.with_name(path.name.replace("-idx", ".idx")))
    found = locate_mnist_in(folder)
    assert found is not None and found.paths[0].name == "train-images.idx3-ubyte"


@pytest.mark.parametrize("sub", ["", "mnist"])
def test_nnstudio_data_env(isolated_home, tmp_path, monkeypatch, sub):
    data = tmp_path / "shared"
    folder = write_fake_idx_folder(data / sub if sub else data)
    monkeypatch.setenv("NNSTUDIO_DATA", str(data))
    found = find_mnist()
    assert found.folder == folder and found.source == "NNSTUDIO_DATA"


def test_search_order(isolated_home, tmp_path, monkeypatch):
    write_fake_idx_folder(isolated_home / "data" / "MNIST" / "raw")
    assert find_mnist().source == "torchvision folder"
    write_fake_npz(isolated_home / ".keras" / "datasets" / "mnist.npz")
    assert find_mnist().source == "Keras cache"
    app = write_fake_idx_folder(user_data_dir() / "mnist")
    assert find_mnist().folder == app and find_mnist().source == "nnstudio data folder"
    env = write_fake_idx_folder(tmp_path / "env")
    monkeypatch.setenv("NNSTUDIO_DATA", str(env))
    assert find_mnist().folder == env
    places = mnist_search_places([tmp_path / "picked"])
    assert places[0] == env and places[-1] == tmp_path / "picked"


def test_extra_dirs_and_locate(isolated_home, tmp_path):
    picked = write_fake_idx_folder(tmp_path / "picked" / "MNIST" / "raw")
    assert find_mnist() is None
    found = find_mnist(extra_dirs=[tmp_path / "picked"])
    assert found.folder == picked and found.source == "chosen folder"
    assert locate_mnist_in(tmp_path / "picked").folder == picked
    npz = write_fake_npz(tmp_path / "elsewhere" / "mnist.npz")
    assert locate_mnist_in(npz).kind == "npz"
    assert locate_mnist_in(tmp_path / "elsewhere").paths == (npz,)
    assert locate_mnist_in(tmp_path / "nothing-here") is None


def test_home_read_at_call_time(isolated_home, tmp_path, monkeypatch):
    other = tmp_path / "other-home"
    write_fake_npz(other / ".keras" / "datasets" / "mnist.npz")
    assert find_mnist() is None
    monkeypatch.setenv("HOME", str(other))
    assert find_mnist().paths[0].is_relative_to(other)


def test_find_writes_nothing(isolated_home, tmp_path):
    before = sorted(p for p in tmp_path.rglob("*"))
    find_mnist(extra_dirs=[tmp_path / "x"])
    assert sorted(p for p in tmp_path.rglob("*")) == before


# --------------------------------------------------------------------------- loading and cache


def _copy_real_mnist(src: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in MNIST_GZ:
        shutil.copyfile(src / name, dest / name)
    return dest


@pytest.mark.mnist
def test_load_from_torchvision_folder_and_keras_npz_agree(isolated_home, mnist_dir):
    raw = _copy_real_mnist(mnist_dir, isolated_home / "data" / "MNIST" / "raw")
    x_train, y_train, x_test, y_test = load_mnist()
    assert find_mnist().folder == raw
    assert x_train.shape == (60_000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.dtype == np.int64 and np.bincount(y_train).tolist() == TRAIN_COUNTS
    assert x_test.shape == (10_000, 28, 28) and y_test.shape == (10_000,)
    assert not x_train.flags.writeable  # shared cached arrays
    npz = isolated_home / ".keras" / "datasets" / "mnist.npz"
    npz.parent.mkdir(parents=True)
    np.savez(npz, x_train=x_train, y_train=y_train.astype(np.uint8), x_test=x_test,
             y_test=y_test.astype(np.uint8))
    from_npz = load_mnist(locate_mnist_in(npz))
    for a, b in zip((x_train, y_train, x_test, y_test), from_npz, strict=True):
        np.testing.assert_array_equal(a, b)
    assert from_npz[1].dtype == np.int64


def test_npz_with_wrong_shapes_refused(isolated_home):
    npz = write_fake_npz(isolated_home / ".keras" / "datasets" / "mnist.npz")
    with pytest.raises(DataError) as e:
        load_mnist()
    assert str(npz) in str(e.value) and "(60000, 28, 28)" in str(e.value)


@pytest.mark.mnist
def test_damaged_idx_names_the_file(isolated_home, mnist_dir):
    raw = _copy_real_mnist(mnist_dir, isolated_home / "data" / "MNIST" / "raw")
    data = (raw / "t10k-images-idx3-ubyte.gz").read_bytes()
    (raw / "t10k-images-idx3-ubyte.gz").write_bytes(data[: len(data) // 3])
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte\.gz.*truncated"):
        load_mnist()


@pytest.mark.mnist
def test_memory_and_disk_cache(isolated_home, mnist_dir, monkeypatch):
    location = locate_mnist_in(_copy_real_mnist(mnist_dir, isolated_home / "m"))
    first = load_mnist(location)
    assert load_mnist(location)[0] is first[0]  # in-process cache
    entries = list((user_cache_dir() / "mnist").iterdir())
    assert len(entries) == 1 and sorted(p.name for p in entries[0].iterdir()) == [
        "x_test.npy", "x_train.npy", "y_test.npy", "y_train.npy"]

    mnist_module.clear_mnist_memory_cache()
    decoded = []
    original_decode = mnist_load._decode
    monkeypatch.setattr(mnist_load, "_decode", lambda loc: decoded.append(loc) or original_decode(loc))
    second = load_mnist(location)
    assert decoded == []  # served from the disk cache
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)

    # A damaged cache entry is noticed and rebuilt.
    mnist_module.clear_mnist_memory_cache()
    (entries[0] / "x_train.npy").write_bytes(b"garbage")
    third = load_mnist(location)
    assert len(decoded) == 1
    np.testing.assert_array_equal(third[0], first[0])

    # Changing a source file changes the key: decoded again.
    mnist_module.clear_mnist_memory_cache()
    os.utime(location.paths[1], ns=(time.time_ns(), time.time_ns() + 10**9))
    load_mnist(location)
    assert len(decoded) == 2


@pytest.mark.mnist
def test_second_load_in_new_process_is_fast(isolated_home, mnist_dir):
    """The on-disk cache makes a later process load MNIST in at most 0.5 s."""
    folder = _copy_real_mnist(mnist_dir, isolated_home / "m")
    start = time.perf_counter()
    load_mnist(locate_mnist_in(folder))
    first = time.perf_counter() - start
    script = textwrap.dedent(f"""
        import time
        from core.data import load_mnist, locate_mnist_in
        location = locate_mnist_in({str(folder)!r})
        start = time.perf_counter()
        x_train, y_train, x_test, y_test = load_mnist(location)
        print(time.perf_counter() - start, x_train.shape[0] + x_test.shape[0])
    """)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                         cwd=str(REPO), timeout=120)
    assert out.returncode == 0, out.stderr
    second, count = out.stdout.split()
    assert int(count) == 70_000
    print(f"MNIST load: first {first:.3f} s, second (new process) {float(second):.3f} s")
    assert float(second) <= 0.5, f"second load took {float(second):.3f} s (first {first:.3f} s)"
