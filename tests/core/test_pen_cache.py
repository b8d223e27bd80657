"""The pen digits' on-disk rendering cache (core.data.pen.cache): a later load reads the
renderings back instead of rendering again; a damaged, stale or implausible cache file is
ignored and rebuilt; a cache that cannot be written costs nothing but time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.data import load_dataset, user_cache_dir
from core.data.pen import cache

DRAWN: list[int] = []  # sizes of the batches the fake renderer was asked for


@pytest.fixture
def home(monkeypatch, tmp_path) -> Path:
    """A user folder of the test's own (the session's is shared with other tests, which must
    never see the fake renderings below) and a fast, counting stand-in for the renderer: the
    catalogue's code path around it is the real one."""
    from core.data import datasets, pen

    monkeypatch.setenv("NNSTUDIO_HOME", str(tmp_path))

    def fake_render(digits, rng, mode="mnist", vary=True):
        side = 28 if mode == "mnist" else 8
        DRAWN.append(len(digits))
        labels = np.array([d.label for d in digits], dtype=np.float32)
        return np.broadcast_to((labels / 9)[:, None, None, None], (len(digits), 1, side, side)).copy()

    monkeypatch.setattr(pen, "render_pen_digits", fake_render)
    DRAWN.clear()
    datasets._pen_rendered.cache_clear()
    yield tmp_path
    datasets._pen_rendered.cache_clear()


def fresh_load(mode: str = "digits8x8"):
    from core.data import datasets

    datasets._pen_rendered.cache_clear()  # a new process: nothing in memory
    return load_dataset("pendigits", mode=mode, layout="image")


def test_a_later_load_reads_the_cache_instead_of_rendering(home):
    first = fresh_load()
    assert [first.n_samples, len(first.y_test)] == DRAWN  # rendered once: training and test part
    path = cache.cache_file("digits8x8")
    assert path.is_file() and path.parent == user_cache_dir() / "pendigits"
    assert home in path.parents  # the test's folder, never the real user's
    again = fresh_load()
    assert [first.n_samples, len(first.y_test)] == DRAWN  # not rendered again
    assert np.array_equal(again.x, first.x) and np.array_equal(again.x_test, first.x_test)
    assert np.array_equal(again.y, first.y) and np.array_equal(again.groups, first.groups)
    assert again.fingerprint() == first.fingerprint()
    assert not again.x.flags.writeable
    # Each mode has its own file.
    fresh_load("mnist")
    assert len(DRAWN) == 4 and cache.cache_file("mnist") != path


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "folder"])
def test_a_damaged_cache_file_is_ignored_and_rebuilt(home, damage):
    first = fresh_load()
    path = cache.cache_file("digits8x8")
    if damage == "garbage":
        path.write_bytes(b"not a zip archive" * 100)
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        path.unlink()
        path.mkdir()
    DRAWN.clear()
    again = fresh_load()
    assert len(DRAWN) == 2 and np.array_equal(again.x, first.x)
    if damage != "folder":  # a folder in the way stays; the load works regardless
        assert cache.read_cached_renderings("digits8x8") is not None  # rebuilt


@pytest.mark.parametrize("change", ["pixel above 1", "nan", "label 10", "held-out writer", "float64",
                                    "lengths"])
def test_a_cache_file_that_does_not_hold_renderings_is_ignored(home, change):
    first = fresh_load()
    arrays = {name: np.array(a) for name, a in zip(cache.CACHE_MEMBERS, cache.read_cached_renderings("digits8x8"),
                                                   strict=True)}
    if change == "pixel above 1":
        arrays["x"][0, 0, 0, 0] = 2.0
    elif change == "nan":
        arrays["x_test"][0, 0, 0, 0] = np.nan
    elif change == "label 10":
        arrays["y"][0] = 10
    elif change == "held-out writer":
        arrays["writers"][0] = 1
    elif change == "float64":
        arrays["x"] = arrays["x"].astype(np.float64)
    else:
        arrays["y"] = arrays["y"][:-1]
    np.savez(cache.cache_file("digits8x8"), allow_pickle=False, **arrays)
    DRAWN.clear()
    again = fresh_load()
    assert len(DRAWN) == 2 and np.array_equal(again.x, first.x) and np.array_equal(again.y, first.y)


def test_a_stale_cache_is_rebuilt_and_removed(home, monkeypatch):
    fresh_load()
    old = cache.cache_file("digits8x8")
    monkeypatch.setattr(cache, "RENDER_VERSION", cache.RENDER_VERSION + 1)  # the rendering code changed
    new = cache.cache_file("digits8x8")
    assert new != old
    DRAWN.clear()
    fresh_load()
    assert len(DRAWN) == 2  # the old renderings were not used
    assert new.is_file() and not old.exists()


def test_a_cache_that_cannot_be_written_only_costs_time(home):
    (home / "cache").write_text("a file where the cache folder should be")
    data = fresh_load()
    assert data.n_samples > 0 and len(DRAWN) == 2
    DRAWN.clear()
    fresh_load()
    assert len(DRAWN) == 2  # rendered again, no error


def test_digits_from_another_source_are_never_cached(home, monkeypatch):
    from core.data import pen

    few = tuple(pen.load_pen_digits()[:300])
    monkeypatch.setattr(pen, "load_pen_digits", lambda: few)
    data = fresh_load()
    assert data.n_samples + len(data.y_test) == 300
    assert not cache.cache_file("digits8x8").exists()
