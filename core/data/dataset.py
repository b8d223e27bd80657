"""The :class:`Dataset` container (checked, read-only arrays, a fingerprint) and its seeded
stratified train / validation / test split (:class:`DataSplits`)."""

from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass, field

import numpy as np

from core.data._files import count
from core.data.errors import DataError
from core.data.settings import check_fraction, check_seed
from core.data.validate import InvalidInputError, check_finite


def _readonly_view(a: np.ndarray) -> np.ndarray:
    v = a.view()
    v.flags.writeable = False
    return v


@dataclass(frozen=True, eq=False, repr=False)
class DataSplits:
    """Train / validation / test arrays of a :class:`Dataset`.

    x_*: float32 ``(n_part, *input_shape)``; y_*: int64 ``(n_part,)``. ``x_val`` / ``y_val``
    have 0 rows when the validation fraction is 0. ``*_index`` give the rows of
    ``Dataset.x`` each part came from (for the test part: rows of ``Dataset.x_test`` when the
    set has an official test split), sorted ascending.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    train_index: np.ndarray | None = None
    val_index: np.ndarray | None = None
    test_index: np.ndarray | None = None
    test_is_official: bool = False

    def trainable(self) -> tuple[np.ndarray, np.ndarray]:
        """The samples a model may train on, never the test part: training then validation,
        x (n_train + n_val, *input_shape) and y (n_train + n_val,) (copies)."""
        return np.concatenate([self.x_train, self.x_val]), np.concatenate([self.y_train, self.y_val])

    def __repr__(self) -> str:
        return (f"DataSplits(train={len(self.y_train)}, val={len(self.y_val)}, "
                f"test={len(self.y_test)}{', official test' if self.test_is_official else ''})")


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """A labelled classification dataset, already scaled for the network.

    x: float32 ``(n, *input_shape)``; y: int64 ``(n,)`` with labels 0..k-1 where
    k = ``len(class_names)``; ``x_test`` / ``y_test`` the official test split if the set has
    one (MNIST), else None. Arrays are stored as read-only views. ``preprocessing`` is a
    JSON-able description of the input scaling (see :func:`apply_preprocessing`).
    ``split_mode`` is ``"stratified"`` (default) or ``"all"`` for tiny sets such as XOR where
    every split is the whole set. ``groups``: optional int64 ``(n,)``, who made each sample of
    ``x`` (the pen digits' writers); when given, :meth:`split` keeps every group on one side.
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    class_names: tuple[str, ...]
    input_shape: tuple[int, ...]
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    description: str = ""
    attribution: str = ""
    preprocessing: dict = field(default_factory=dict)
    split_mode: str = "stratified"
    groups: np.ndarray | None = None

    def __post_init__(self) -> None:
        def fail(message: str) -> None:
            raise DataError(f"dataset {self.name!r}: {message}")

        set_ = functools.partial(object.__setattr__, self)
        names = tuple(str(c) for c in self.class_names)
        set_("class_names", names)
        try:
            shape = tuple(int(d) for d in self.input_shape)
        except (TypeError, ValueError):
            fail(f"input_shape must be a tuple of integers, not {self.input_shape!r}")
        set_("input_shape", shape)
        if self.split_mode not in ("stratified", "all"):
            fail(f"split_mode must be 'stratified' or 'all', not {self.split_mode!r}")
        if len(names) < 2:
            fail("a classification dataset needs at least two classes")
        if (self.x_test is None) != (self.y_test is None):
            fail("x_test and y_test must be given together")
        pairs = [("x", "y")] + ([("x_test", "y_test")] if self.x_test is not None else [])
        for xn, yn in pairs:
            x, y = getattr(self, xn), getattr(self, yn)
            if not isinstance(x, np.ndarray) or x.dtype != np.float32:
                fail(f"{xn} must be a float32 array, not {getattr(x, 'dtype', type(x).__name__)}")
            if not isinstance(y, np.ndarray) or y.dtype != np.int64 or y.ndim != 1:
                fail(f"{yn} must be a 1-D int64 array")
            if x.shape[1:] != shape:
                fail(f"{xn} has samples of shape {x.shape[1:]} but input_shape is {shape}")
            if len(x) != len(y):
                fail(f"{xn} has {count(len(x))} samples but {yn} has {count(len(y))} labels")
            try:
                check_finite(x, f"the samples ({xn})")
            except InvalidInputError as e:
                fail(str(e))
            if y.size and (y.min() < 0 or y.max() >= len(names)):
                fail(f"{yn} holds labels outside 0..{len(names) - 1}")
            set_(xn, _readonly_view(np.ascontiguousarray(x)))
            set_(yn, _readonly_view(np.ascontiguousarray(y)))
        if len(self.x) == 0:
            fail("the dataset has no samples")
        if self.groups is not None:
            groups = np.asarray(self.groups)
            if groups.shape != (len(self.x),) or not np.issubdtype(groups.dtype, np.integer):
                fail(f"groups must be one integer per sample of x ({count(len(self.x))}), not {groups.dtype} "
                     f"{groups.shape}")
            set_("groups", _readonly_view(np.ascontiguousarray(groups, dtype=np.int64)))

    def __repr__(self) -> str:
        test = f", test={len(self.y_test)}" if self.y_test is not None else ""
        return (f"Dataset(name={self.name!r}, n_samples={self.n_samples}{test}, "
                f"input_shape={self.input_shape}, n_classes={self.n_classes})")

    @property
    def n_classes(self) -> int:
        """Number of classes k (labels are 0..k-1)."""
        return len(self.class_names)

    @property
    def n_samples(self) -> int:
        """Number of samples in ``x`` (not counting the official test split)."""
        return len(self.y)

    def class_counts(self) -> np.ndarray:
        """int64 ``(n_classes,)``: how many samples of ``x`` each class has."""
        return np.bincount(self.y, minlength=self.n_classes).astype(np.int64)

    def fingerprint(self) -> str:
        """SHA-256 hex digest of the data: x, y (and x_test, y_test) bytes, dtypes and shapes.

        Two datasets have the same fingerprint exactly when a model would see the same data.
        """
        cached = self.__dict__.get("_fingerprint")
        if cached is not None:
            return cached
        h = hashlib.sha256(b"nnstudio-dataset-fingerprint-v1\0")
        for label in ("x", "y", "x_test", "y_test"):
            a = getattr(self, label)
            if a is None:
                h.update(f"{label}:none;".encode())
                continue
            a = np.ascontiguousarray(a)
            h.update(f"{label}:{a.dtype.str}:{list(a.shape)};".encode())
            h.update(a.reshape(-1).view(np.uint8).data)
        digest = h.hexdigest()
        object.__setattr__(self, "_fingerprint", digest)
        return digest

    def split(self, seed: int, validation_fraction: float = 0.1, test_fraction: float = 0.2) -> DataSplits:
        """Seeded split into train / validation / test, stratified by class.

        The same seed gives the same split. Each class contributes its share to validation
        and test (largest-remainder rounding so the totals match the fractions), and keeps
        at least one training sample. With an official test split (MNIST) that split is the
        test set and ``test_fraction`` is ignored; validation is then carved from ``x``.
        For ``split_mode == "all"`` (XOR) train and test are all samples, and validation is
        all samples too (or empty when ``validation_fraction`` is 0).
        With ``groups`` (writers), validation and test are made of whole groups, drawn with
        the seed, as close to their fractions as whole groups allow (training keeps at least
        one group): no group is ever on two sides.
        """
        seed = check_seed(seed)
        vf, tf = check_fraction("validation_fraction", validation_fraction), check_fraction(
            "test_fraction", test_fraction)
        official = self.x_test is not None
        if official:
            tf = 0.0
        if vf + tf >= 1:
            raise DataError(
                f"validation_fraction ({vf:g}) and test_fraction ({tf:g}) together must leave "
                f"samples for training (their sum must be below 1)"
            )
        n = self.n_samples
        if self.split_mode == "all":
            every = np.arange(n)
            val = every if vf > 0 else every[:0]
            return self._make_splits(every, val, every, official=False)
        rng = np.random.default_rng(seed)
        if self.groups is not None:
            train, val, test = _group_indices(self.groups, rng, vf, tf)
        else:
            train, val, test = _stratified_indices(self.y, self.n_classes, rng, vf, tf)
        if official:
            return self._make_splits(train, val, np.arange(len(self._official_test_set()[1])), official=True)
        return self._make_splits(train, val, test, official=False)

    def _official_test_set(self) -> tuple[np.ndarray, np.ndarray]:
        """(x_test, y_test) of a dataset with an official test split."""
        if self.x_test is None or self.y_test is None:
            raise DataError("the official test split needs both test inputs and test labels")
        return self.x_test, self.y_test

    def _make_splits(self, train, val, test, official: bool) -> DataSplits:
        xt, yt = self._official_test_set() if official else (self.x, self.y)
        return DataSplits(
            x_train=self.x[train], y_train=self.y[train],
            x_val=self.x[val], y_val=self.y[val],
            x_test=xt[test], y_test=yt[test],
            train_index=train, val_index=val, test_index=test, test_is_official=official,
        )


def _allocate(counts: np.ndarray, fraction: float, capacity: np.ndarray) -> np.ndarray:
    """Per-class sample counts summing to round(total * fraction), within ``capacity``."""
    ideal = counts * fraction
    base = np.minimum(np.floor(ideal).astype(np.int64), capacity)
    target = min(math.floor(counts.sum() * fraction + 0.5), int(capacity.sum()))
    short = target - int(base.sum())
    if short > 0:
        order = np.argsort(-(ideal - np.floor(ideal)), kind="stable")
        while short > 0:
            progressed = False
            for c in order:
                if short == 0:
                    break
                if base[c] < capacity[c]:
                    base[c] += 1
                    short -= 1
                    progressed = True
            if not progressed:
                break
    return base


def _stratified_indices(y: np.ndarray, k: int, rng: np.random.Generator, vf: float, tf: float):
    counts = np.bincount(y, minlength=k).astype(np.int64)
    keep_one = np.maximum(counts - 1, 0)  # every class keeps a training sample
    n_test = _allocate(counts, tf, keep_one)
    n_val = _allocate(counts, vf, keep_one - n_test)
    train, val, test = [], [], []
    for c in range(k):
        members = rng.permutation(np.flatnonzero(y == c))
        t, v = int(n_test[c]), int(n_val[c])
        test.append(members[:t])
        val.append(members[t:t + v])
        train.append(members[t + v:])
    return tuple(np.sort(np.concatenate(part)).astype(np.int64) for part in (train, val, test))


def _group_indices(groups: np.ndarray, rng: np.random.Generator, vf: float, tf: float):
    """(train, val, test) sorted row indices made of whole groups: the groups in a seeded
    order, the first ones to test and the next to validation, each part taking the number of
    groups whose sample count comes closest to its fraction (none for a fraction of 0; at
    least one group always stays for training)."""
    ids = rng.permutation(np.unique(groups))
    sizes = np.array([np.count_nonzero(groups == g) for g in ids])
    chosen, start = [], 0
    for fraction in (tf, vf):
        take = 0
        if fraction > 0 and len(ids) - start > 1:
            reached = np.cumsum(sizes[start:])
            take = min(int(np.argmin(np.abs(reached - fraction * len(groups)))) + 1, len(ids) - start - 1)
        chosen.append(ids[start:start + take])
        start += take
    rows = [np.flatnonzero(np.isin(groups, part)).astype(np.int64) for part in (ids[start:], chosen[1], chosen[0])]
    return tuple(rows)
