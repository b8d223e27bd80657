"""Named datasets, the Dataset container, seeded stratified splits, fingerprints, resources."""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pytest

from core.data import (
    DATASET_NAMES,
    DATASETS,
    DataError,
    Dataset,
    apply_preprocessing,
    dataset_from_arrays,
    dataset_from_csv,
    dataset_from_idx,
    load_dataset,
)
from core.errors import SpecError
from core.params import Param
from core.resource_files import read_resource_bytes, resource_file, resource_path
from core.spec.dataset_fit import dataset_param_schema
from tests.core.data_fixtures import TEST_COUNTS, TRAIN_COUNTS, small_mnist_like, squares_dataset_entry, write_idx

GENERATED = ("circles", "moons", "spirals", "blobs", "xor-cloud")
DIGITS_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


# --------------------------------------------------------------------------- registry


def test_registry_describes_every_name():
    assert set(DATASET_NAMES) == set(DATASETS)
    assert {"xor", "digits8x8", "mnist", *GENERATED} <= set(DATASET_NAMES)
    for name in DATASET_NAMES:
        info = DATASETS[name]
        assert info.name == name and info.title and info.description
        json.dumps(info.params)  # GUI forms are built from these defaults
    assert DATASETS["mnist"].needs_download and not DATASETS["digits8x8"].needs_download


def test_unknown_name_and_parameter():
    with pytest.raises(DataError, match=r"unknown dataset 'iris'.*digits8x8"):
        load_dataset("iris")
    with pytest.raises(DataError, match="no parameter colour"):
        load_dataset("moons", colour="red")
    with pytest.raises(DataError, match="no parameter layout"):
        load_dataset("xor", layout="image")


def test_a_new_catalogue_entry_is_offered_and_loaded_through_its_schema(monkeypatch):
    calls: list[dict] = []
    entry = squares_dataset_entry(calls)
    monkeypatch.setitem(DATASETS, "squares", entry)

    assert dataset_param_schema("squares") == entry.schema
    assert DATASETS["squares"].params == {"side": 4, "spread": 1.0}
    d = load_dataset("squares")
    assert calls[-1] == {"side": 4, "spread": 1.0} and d.n_samples == 16 and d.n_classes == 2
    d = load_dataset("squares", side=np.int64(6), spread=2)  # normalised by the schema
    assert calls[-1] == {"side": 6, "spread": 2.0} and type(calls[-1]["side"]) is int
    assert type(calls[-1]["spread"]) is float and d.n_samples == 36

    n_loads = len(calls)
    for settings, sentence in [
        ({"side": 13}, "dataset 'squares': 'side' must be between 2 and 12, not 13"),
        ({"side": 2.5}, "dataset 'squares': 'side' must be a whole number, not 2.5"),
        ({"spread": "wide"}, "dataset 'squares': 'spread' must be a number, not 'wide'"),
        ({"colour": 1}, "dataset 'squares' has no parameter colour (parameters: side, spread)"),
    ]:
        with pytest.raises(DataError) as refused:
            load_dataset("squares", **settings)
        assert str(refused.value) == sentence
        assert not isinstance(refused.value, SpecError)  # a data refusal, not a spec one
    assert len(calls) == n_loads  # refused before the loader ran
    with pytest.raises(DataError, match=r"unknown dataset 'iris'.*squares"):
        load_dataset("iris")


def test_every_entry_loads_with_its_schema_defaults_and_refuses_out_of_range_values():
    for name, info in DATASETS.items():
        assert all(isinstance(p, Param) for p in info.schema)
        assert info.params == {p.name: p.default for p in info.schema}
        for p in info.schema:
            if p.maximum is not None and name != "mnist":
                with pytest.raises(DataError, match=f"'{p.name}' must be"):
                    load_dataset(name, **{p.name: p.maximum + 1})
    assert load_dataset("blobs").preprocessing["generator"] == {"n_samples": 400, "noise": 0.25, "seed": 0,
                                                                "n_classes": 3}


def test_choice_labels_name_each_choice_and_must_match_them():
    mode = Param("mode", "choice", default="a", choices=("a", "b"), choice_labels=("Alpha", "Beta"))
    assert [mode.choice_label(c) for c in mode.choices] == ["Alpha", "Beta"]
    assert mode.check("b", "test") == "b"  # values, not labels, are what a spec holds
    with pytest.raises(SpecError):
        mode.check("Beta", "test")
    assert Param("plain", "choice", choices=("x",)).choice_label("x") == "x"
    with pytest.raises(ValueError, match="one label per choice"):
        Param("bad", "choice", choices=("a", "b"), choice_labels=("Alpha",))


def test_mnist_location_is_a_setting_no_form_shows(tmp_path):
    assert "location" not in DATASETS["mnist"].params and DATASETS["mnist"].hidden_settings == ("location",)
    with pytest.raises(DataError, match=re.escape(f"MNIST was not found in {tmp_path}")):
        load_dataset("mnist", location=tmp_path)
    with pytest.raises(DataError, match="the MNIST location must be a folder, not 3"):
        load_dataset("mnist", location=3)


# --------------------------------------------------------------------------- xor


def test_xor_points():
    d = load_dataset("xor")
    assert d.x.dtype == np.float32 and d.x.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert d.y.dtype == np.int64 and d.y.tolist() == [0, 1, 1, 0]
    assert d.input_shape == (2,) and d.class_names == ("0", "1")
    assert d.n_classes == 2 and d.n_samples == 4


def test_xor_split_keeps_all_points_in_training():
    d = load_dataset("xor")
    for seed in (0, 1, 7):
        s = d.split(seed)
        np.testing.assert_array_equal(s.x_train, d.x)
        np.testing.assert_array_equal(s.y_train, d.y)
        np.testing.assert_array_equal(s.x_test, d.x)
        np.testing.assert_array_equal(s.y_test, d.y)
    s = d.split(0, validation_fraction=0)
    assert s.x_val.shape == (0, 2) and s.y_val.shape == (0,)


# --------------------------------------------------------------------------- digits8x8


def test_digits8x8():
    d = load_dataset("digits8x8")
    assert d.n_samples == 1797 and d.n_classes == 10
    assert d.x.shape == (1797, 64) and d.x.dtype == np.float32 and d.input_shape == (64,)
    assert d.y.dtype == np.int64
    assert np.bincount(d.y).tolist() == DIGITS_COUNTS
    assert d.x.min() == 0 and d.x.max() == 1
    np.testing.assert_allclose(d.x * 16, np.round(d.x * 16), atol=1e-5)  # values were 0..16
    assert abs(float((d.x * 16).mean()) - 4.8842) < 1e-3
    assert d.x_test is None and d.y_test is None
    assert "CC BY 4.0" in d.attribution and "Alpaydin" in d.attribution
    assert d.preprocessing["scale"] == pytest.approx(1 / 16)
    json.dumps(d.preprocessing)


def test_digits8x8_image_layout():
    flat = load_dataset("digits8x8")
    image = load_dataset("digits8x8", layout="image")
    assert image.x.shape == (1797, 1, 8, 8) and image.input_shape == (1, 8, 8)
    np.testing.assert_array_equal(image.x.reshape(1797, 64), flat.x)
    with pytest.raises(DataError, match="layout"):
        load_dataset("digits8x8", layout="square")


def test_apply_preprocessing_reproduces_training_inputs():
    d = load_dataset("digits8x8", layout="image")
    raw = np.round(d.x[:5, 0] * 16).astype(np.uint8)  # (5, 8, 8) values 0..16
    np.testing.assert_array_equal(apply_preprocessing(raw, d.preprocessing), d.x[:5])
    flat = load_dataset("digits8x8")
    np.testing.assert_array_equal(apply_preprocessing(raw.reshape(5, 64), flat.preprocessing), flat.x[:5])
    with pytest.raises(DataError, match="single sample needs n = 1"):
        apply_preprocessing(raw[0], d.preprocessing)  # (8, 8) without the batch axis


def test_digits_resource_is_the_documented_file():
    data = read_resource_bytes("datasets/digits8x8.csv.gz")
    assert hashlib.sha256(data).hexdigest() == "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
    assert resource_path("datasets").is_dir()
    with resource_file("datasets/digits8x8.csv.gz") as path:
        assert path.stat().st_size == 57_523
    licence = read_resource_bytes("datasets/DIGITS8X8_LICENSE.txt").decode()
    assert "CC BY 4.0" in licence


@pytest.mark.parametrize("bad", ["../core/__init__.py", "/etc/passwd", "datasets\\x", ""])
def test_resource_paths_stay_inside(bad):
    with pytest.raises(ValueError):
        resource_path(bad)


def test_missing_resource():
    with pytest.raises(FileNotFoundError, match=r"nothing\.bin"):
        read_resource_bytes("datasets/nothing.bin")


# --------------------------------------------------------------------------- generated


@pytest.mark.parametrize("name", GENERATED)
def test_generated_reproducible_by_seed(name):
    a = load_dataset(name, seed=5)
    b = load_dataset(name, seed=5)
    c = load_dataset(name, seed=6)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.y, b.y)
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()
    assert not np.array_equal(a.x, c.x)


@pytest.mark.parametrize("name", GENERATED)
def test_generated_shapes_and_balance(name):
    d = load_dataset(name, n_samples=301)
    assert d.x.shape == (301, 2) and d.x.dtype == np.float32 and d.input_shape == (2,)
    assert d.y.dtype == np.int64
    counts = np.bincount(d.y, minlength=d.n_classes)
    assert counts.max() - counts.min() <= 1
    assert np.isfinite(d.x).all() and np.abs(d.x).max() < 5
    assert not np.array_equal(d.y, np.sort(d.y))  # shuffled
    assert d.attribution and d.description


def test_generated_class_counts_and_defaults():
    assert load_dataset("circles").n_classes == 2
    assert load_dataset("moons").n_classes == 2
    assert load_dataset("xor-cloud").n_classes == 2
    assert load_dataset("spirals").n_classes == 2
    assert load_dataset("spirals", n_classes=4).n_classes == 4
    assert load_dataset("blobs").n_classes == 3
    assert load_dataset("blobs", n_classes=5).n_classes == 5
    assert load_dataset("circles").n_samples == DATASETS["circles"].params["n_samples"]


def test_generated_noise_zero_is_exact_geometry():
    d = load_dataset("circles", noise=0.0)
    radius = np.hypot(d.x[:, 0], d.x[:, 1])
    np.testing.assert_allclose(radius[d.y == 0], 1.0, atol=1e-6)
    np.testing.assert_allclose(radius[d.y == 1], 0.5, atol=1e-6)
    d = load_dataset("xor-cloud", noise=0.0)
    differ = (d.x[:, 0] > 0) != (d.x[:, 1] > 0)
    np.testing.assert_array_equal(differ.astype(np.int64), d.y)


@pytest.mark.parametrize("params, word", [
    ({"n_samples": 1}, "n_samples"), ({"n_samples": 2.5}, "n_samples"), ({"noise": -1}, "noise"),
    ({"noise": "lots"}, "noise"), ({"seed": -3}, "seed"), ({"seed": 1.5}, "seed"),
])
def test_generated_bad_parameters(params, word):
    with pytest.raises(DataError, match=word):
        load_dataset("moons", **params)


def test_generated_bad_class_count():
    with pytest.raises(DataError, match="n_classes"):
        load_dataset("blobs", n_classes=1)
    with pytest.raises(DataError, match="no parameter n_classes"):
        load_dataset("moons", n_classes=3)


# --------------------------------------------------------------------------- splits


def _check_disjoint_cover(s, n):
    parts = [s.train_index, s.val_index, s.test_index]
    joined = np.concatenate(parts)
    assert len(joined) == len(np.unique(joined)) == n  # disjoint, and nothing lost
    for idx in parts:
        assert np.all(np.diff(idx) > 0)


def test_split_deterministic_disjoint_stratified():
    d = load_dataset("digits8x8")
    a = d.split(seed=3, validation_fraction=0.1, test_fraction=0.2)
    b = d.split(seed=3, validation_fraction=0.1, test_fraction=0.2)
    c = d.split(seed=4, validation_fraction=0.1, test_fraction=0.2)
    for name in ("train_index", "val_index", "test_index"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.test_index, c.test_index)
    _check_disjoint_cover(a, d.n_samples)
    assert len(a.y_test) == round(1797 * 0.2) and len(a.y_val) == round(1797 * 0.1)
    counts = np.bincount(d.y)
    for part, fraction in ((a.y_test, 0.2), (a.y_val, 0.1)):
        per_class = np.bincount(part, minlength=10)
        assert np.all(np.abs(per_class - counts * fraction) <= 1), per_class
    np.testing.assert_array_equal(a.x_train, d.x[a.train_index])
    np.testing.assert_array_equal(a.y_test, d.y[a.test_index])
    assert a.x_train.dtype == np.float32 and a.y_train.dtype == np.int64


def test_split_without_validation_gives_empty_arrays():
    d = load_dataset("digits8x8", layout="image")
    s = d.split(seed=0, validation_fraction=0.0)
    assert s.x_val.shape == (0, 1, 8, 8) and s.y_val.shape == (0,) and s.y_val.dtype == np.int64
    assert len(s.y_train) + len(s.y_test) == d.n_samples


def test_split_keeps_a_training_sample_of_every_class():
    x = np.arange(23, dtype=np.float32).reshape(-1, 1)
    y = np.array([0] * 20 + [1, 2, 2], dtype=np.int64)
    d = dataset_from_arrays("tiny", x, y)
    s = d.split(seed=0, validation_fraction=0.3, test_fraction=0.4)
    assert set(s.y_train.tolist()) == {0, 1, 2}
    _check_disjoint_cover(s, 23)


@pytest.mark.parametrize("vf, tf", [(-0.1, 0.2), (0.1, 1.0), (0.5, 0.5), ("x", 0.2), (0.1, float("nan"))])
def test_split_bad_fractions(vf, tf):
    with pytest.raises(DataError, match="fraction"):
        load_dataset("moons").split(seed=0, validation_fraction=vf, test_fraction=tf)


def test_split_bad_seed():
    with pytest.raises(DataError, match="seed"):
        load_dataset("moons").split(seed=-1)


# --------------------------------------------------------------------------- Dataset container


def test_dataset_arrays_are_read_only_and_frozen():
    d = load_dataset("moons")
    with pytest.raises(ValueError):
        d.x[0, 0] = 1
    with pytest.raises(AttributeError):
        d.name = "other"  # type: ignore[misc]


def test_dataset_validation():
    x = np.zeros((4, 2), np.float32)
    y = np.array([0, 1, 0, 1], np.int64)
    with pytest.raises(DataError, match="float32"):
        Dataset("d", x.astype(np.float64), y, ("a", "b"), (2,))
    with pytest.raises(DataError, match="int64"):
        Dataset("d", x, y.astype(np.int32), ("a", "b"), (2,))
    with pytest.raises(DataError, match="input_shape"):
        Dataset("d", x, y, ("a", "b"), (3,))
    with pytest.raises(DataError, match=r"outside 0\.\.1"):
        Dataset("d", x, y + 1, ("a", "b"), (2,))
    with pytest.raises(DataError, match="3 labels"):
        Dataset("d", x, y[:3], ("a", "b"), (2,))
    with pytest.raises(DataError, match="two classes"):
        Dataset("d", x, y * 0, ("a",), (2,))
    with pytest.raises(DataError, match="together"):
        Dataset("d", x, y, ("a", "b"), (2,), x_test=x)


def test_fingerprint_identity():
    a = load_dataset("digits8x8")
    b = load_dataset("digits8x8")
    assert a.fingerprint() == b.fingerprint()
    assert len(a.fingerprint()) == 64 and int(a.fingerprint(), 16) >= 0
    assert load_dataset("digits8x8", layout="image").fingerprint() != a.fingerprint()  # shape differs
    x = a.x.copy()
    x[0, 0] += np.float32(1 / 16)
    changed = dataset_from_arrays("digits8x8", x, a.y, a.class_names)
    assert changed.fingerprint() != a.fingerprint()
    same = dataset_from_arrays("renamed", a.x.copy(), a.y.copy(), a.class_names)
    assert same.fingerprint() == a.fingerprint()  # identity of the data, not the name


# --------------------------------------------------------------------------- imported files


def test_dataset_from_idx(tmp_path):
    x, y = small_mnist_like(40)
    images = write_idx(tmp_path / "imgs.gz", x, compress=True)
    labels = write_idx(tmp_path / "labs.gz", y, compress=True)
    d = dataset_from_idx(images, labels)
    assert d.name == "imgs.gz" and d.x.shape == (40, 784) and d.x.dtype == np.float32
    np.testing.assert_array_equal(d.x, (x.reshape(40, -1).astype(np.float32) * np.float32(1 / 255)))
    assert d.class_names == tuple(str(i) for i in range(10)) and d.y.tolist() == y.tolist()
    image = dataset_from_idx(images, labels, layout="image")
    assert image.input_shape == (1, 28, 28)


def test_dataset_from_idx_single_class(tmp_path):
    x, _ = small_mnist_like(5)
    images = write_idx(tmp_path / "i", x)
    labels = write_idx(tmp_path / "l", np.full(5, 3, np.uint8))
    with pytest.raises(DataError, match="two classes"):
        dataset_from_idx(images, labels)


def test_dataset_from_csv(tmp_path):
    path = tmp_path / "flowers.csv"
    path.write_text("a,b,species\n1,2,rose\n3,4,iris\n5,6,rose\n7,8,tulip\n")
    d = dataset_from_csv(path)
    assert d.name == "flowers.csv" and d.class_names == ("iris", "rose", "tulip")
    assert d.x.shape == (4, 2) and d.input_shape == (2,)
    scaled = dataset_from_csv(path, scale=0.5)
    np.testing.assert_array_equal(scaled.x, d.x * 0.5)


# --------------------------------------------------------------------------- MNIST


@pytest.mark.mnist
def test_mnist_dataset(mnist_dir, monkeypatch):
    monkeypatch.setenv("NNSTUDIO_DATA", str(mnist_dir))
    d = load_dataset("mnist")
    assert d.x.shape == (60_000, 784) and d.x.dtype == np.float32 and d.input_shape == (784,)
    assert d.x_test.shape == (10_000, 784) and d.y_test.shape == (10_000,)
    assert np.bincount(d.y).tolist() == TRAIN_COUNTS
    assert np.bincount(d.y_test).tolist() == TEST_COUNTS
    assert d.x.max() == 1.0 and d.x.min() == 0.0
    assert abs(float(d.x.mean()) - 0.1307) < 1e-4
    assert "LeCun" in d.attribution and "CC BY-SA 3.0" in d.attribution
    s = d.split(seed=0, validation_fraction=0.1, test_fraction=0.5)  # test_fraction ignored
    assert s.test_is_official and len(s.y_test) == 10_000
    np.testing.assert_array_equal(s.y_test, d.y_test)
    assert len(s.y_val) == 6_000 and len(s.y_train) == 54_000
    assert len(np.intersect1d(s.train_index, s.val_index)) == 0
    image = load_dataset("mnist", layout="image")
    assert image.x.shape == (60_000, 1, 28, 28) and image.x_test.shape == (10_000, 1, 28, 28)


def test_trainable_part_of_a_split_is_training_then_validation_never_test():
    d = load_dataset("digits8x8")
    parts = d.split(seed=1, validation_fraction=0.1, test_fraction=0.2)
    x, y = parts.trainable()
    n_train, n_val = len(parts.y_train), len(parts.y_val)
    assert x.shape == (n_train + n_val, 64) and y.shape == (n_train + n_val,)
    assert np.array_equal(x[:n_train], parts.x_train) and np.array_equal(y[n_train:], parts.y_val)
    rows = {row.tobytes() for row in x}
    assert not any(row.tobytes() in rows for row in parts.x_test if (d.x == row).all(axis=1).sum() == 1)
