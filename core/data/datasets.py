"""The named datasets: ``DATASETS`` (what a GUI offers), ``load_dataset(name, **params)``,
and the bundled sets (XOR, the 8×8 digits) and MNIST's loader.

One module per job beside this catalogue: :mod:`.dataset` (the :class:`Dataset` container,
seeded stratified splits), :mod:`.preprocessing` (raw values -> network inputs),
:mod:`.generated` (2-D point sets), :mod:`.imported` (IDX / CSV files, arrays),
:mod:`.settings` (checks of dataset settings). Their public names are re-exported here.

Named sets (``load_dataset(name, **params)``; ``DATASETS`` describes each for a GUI):

- ``"xor"``: the 4 points of XOR. Tiny: its ``split()`` puts all 4 points in training
  and uses the same 4 points for validation and test (train = test = all points).
- ``"digits8x8"``: 1,797 8×8 handwritten digits (UCI, CC BY 4.0), bundled. Values 0..16
  scaled by 1/16. ``layout="flat"`` (64,) or ``"image"`` (1, 8, 8).
- ``"pendigits"``: 7,494 digits drawn with a pen by 30 writers (UCI, CC BY 4.0), bundled as
  strokes and rendered as the Draw canvas renders a drawing (:mod:`core.data.pen`), at 28×28
  (``mode="mnist"``) or 8×8 (``mode="digits8x8"``), each with the Draw tab's own
  preprocessing. Split by writer: the test part is the 6 writers of
  ``core.data.pen.HELD_OUT_WRITERS``, validation takes whole other writers.
- ``"mnist"``: 60,000 + 10,000 28×28 digits, found on this computer or downloaded (see
  :mod:`core.data.mnist`). Pixels scaled by 1/255. ``layout="flat"`` (784,) or
  ``"image"`` (1, 28, 28). Has an official test split.
- generated 2-D point sets ``"circles"``, ``"moons"``, ``"spirals"``, ``"blobs"``,
  ``"xor-cloud"``: parameters ``n_samples``, ``noise``, ``seed`` (and ``n_classes`` for
  spirals and blobs). All randomness comes from ``np.random.default_rng(seed)``.

Each entry of ``DATASETS`` is a :class:`DatasetInfo` that describes itself: title,
description, ``schema`` (the ``core.params.Param`` of every setting, with its default,
label, range and help) and ``load(**settings)``. :func:`load_dataset` checks the given
settings against the schema and calls ``load``; the GUI's dataset combo and settings form,
``core.spec.dataset_fit.dataset_param_schema`` and the model file's metadata check read the entry.

To add a dataset: (1) write its loader, ``load(**settings) -> Dataset`` (a generated 2-D
set: one point maker in :mod:`.generated`); (2) add one ``DatasetInfo`` to ``DATASETS``
with its ``schema``; (3) add one test case in ``tests/core/test_datasets.py`` (its shapes,
classes and a refused setting). Nothing else names it.

Imported files become datasets through :func:`dataset_from_idx` and :func:`dataset_from_csv`.

Input scaling is described by ``Dataset.preprocessing`` (JSON-able) and applied by
:func:`apply_preprocessing`, which is also what must be used on new inputs (a drawn digit)
so they match the training data exactly.
"""

from __future__ import annotations

import functools
import gzip
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.data.csv_import import parse_csv_text
from core.data.dataset import Dataset, DataSplits
from core.data.drawing import MODES, dataset_preprocessing
from core.data.errors import DataError
from core.data.generated import (
    PointMaker,
    blobs,
    circles,
    generated_dataset,
    moons,
    point_set_schema,
    spirals,
    xor_cloud,
)
from core.data.imported import dataset_from_arrays, dataset_from_csv, dataset_from_idx
from core.data.preprocessing import apply_preprocessing, image_preprocessing
from core.errors import SpecError
from core.params import Param

__all__ = [
    "DATASETS",
    "DATASET_NAMES",
    "DIGITS8X8_ATTRIBUTION",
    "DataSplits",
    "Dataset",
    "DatasetInfo",
    "apply_preprocessing",
    "dataset_from_arrays",
    "dataset_from_csv",
    "dataset_from_idx",
    "load_dataset",
]

DIGITS8X8_ATTRIBUTION = (
    "Optical Recognition of Handwritten Digits, by E. Alpaydin and C. Kaynak (Bogazici "
    "University), 1998. UCI Machine Learning Repository, "
    "https://archive.ics.uci.edu/dataset/80/optical+recognition+of+handwritten+digits. "
    "Licensed CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/). The 1,797-sample "
    "copy bundled here is the file scikit-learn ships as digits.csv.gz."
)


@dataclass(frozen=True)
class DatasetInfo:
    """One named dataset, described by itself: what a GUI offers (title, description, the
    settings form built from ``schema``), how it is made (``load(**settings)``) and whether
    it may need a download (MNIST).

    ``schema``: the real ``Param`` of every setting, with this dataset's defaults, label,
    range and help; :func:`load_dataset` checks given settings against it.
    ``hidden_settings``: settings ``load`` also takes that no form shows (MNIST's
    ``location``, a folder the app finds); ``load`` checks those itself.
    """

    name: str
    title: str
    description: str
    kind: str  # "bundled", "generated" or "external"
    load: Callable[..., Dataset]
    schema: tuple[Param, ...] = ()
    needs_download: bool = False
    hidden_settings: tuple[str, ...] = ()

    @property
    def params(self) -> dict[str, Any]:
        """Setting name -> default, in schema order (JSON-able)."""
        return {p.name: p.default for p in self.schema}


# --------------------------------------------------------------------------- the loaders


def _xor() -> Dataset:
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 0], dtype=np.int64)
    return Dataset(
        name="xor", x=x, y=y, class_names=("0", "1"), input_shape=(2,),
        description=DATASETS["xor"].description, attribution="",
        preprocessing={"scale": 1.0, "layout": "points"}, split_mode="all",
    )


@functools.lru_cache(maxsize=1)
def _digits_raw() -> tuple[np.ndarray, np.ndarray]:
    """The bundled digits as uint8 ``(1797, 8, 8)`` values 0..16 and int64 labels ``(1797,)``."""
    from core.resource_files import read_resource_bytes

    name = "digits8x8.csv.gz"
    try:
        text = gzip.decompress(read_resource_bytes("datasets/digits8x8.csv.gz")).decode("ascii")
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise DataError(f"{name}: the bundled digits file is damaged ({e}); reinstall nnstudio") from None
    x, y, names = parse_csv_text(text, name, label_column=-1, has_header=False, delimiter=",")
    if x.shape != (1797, 64) or names != tuple(str(i) for i in range(10)):
        raise DataError(f"{name}: the bundled digits file has unexpected content; reinstall nnstudio")
    raw = x.astype(np.uint8).reshape(-1, 8, 8)
    raw.flags.writeable = False
    y.flags.writeable = False
    return raw, y


def _digits8x8(layout: str = "flat") -> Dataset:
    raw, y = _digits_raw()
    pre = image_preprocessing(1 / 16, (8, 8), (0, 16), layout)
    x = apply_preprocessing(raw, pre)
    return Dataset(
        name="digits8x8", x=x, y=y, class_names=tuple(str(i) for i in range(10)),
        input_shape=x.shape[1:], description=DATASETS["digits8x8"].description,
        attribution=DIGITS8X8_ATTRIBUTION, preprocessing=pre,
    )


@functools.lru_cache(maxsize=len(MODES))
def _pen_rendered(mode: str) -> tuple[np.ndarray, ...]:
    """The bundled pen digits rendered once per process and mode: x, y, writers of the
    training writers, then x_test, y_test of HELD_OUT_WRITERS; x (n, 1, s, s) float32,
    read-only. Deterministic: one fixed placement per digit (``vary=False``). Rendering takes
    a few seconds, so the result is kept on disk (:mod:`core.data.pen.cache`) and later
    loads, in any process, read it back in a fraction of a second."""
    from core.data import pen
    from core.data.pen import HELD_OUT_WRITERS, render_pen_digits, writer_split
    from core.data.pen.bundled import load_pen_digits as bundled_digits
    from core.data.pen.cache import read_cached_renderings, write_cached_renderings

    # The cache holds renderings of the bundled file only: digits from anywhere else (a
    # substituted source) are rendered afresh and never stored under the bundled file's key.
    cacheable = pen.load_pen_digits is bundled_digits
    if cacheable and (cached := read_cached_renderings(mode)) is not None:
        return cached
    train, test = writer_split(pen.load_pen_digits(), HELD_OUT_WRITERS)
    rng = np.random.default_rng(0)  # unused with vary=False; the renderer takes one
    out = (render_pen_digits(train, rng, mode, vary=False), np.array([d.label for d in train], dtype=np.int64),
           np.array([d.writer for d in train], dtype=np.int64),
           render_pen_digits(test, rng, mode, vary=False), np.array([d.label for d in test], dtype=np.int64))
    for array in out:
        array.flags.writeable = False
    if cacheable:
        write_cached_renderings(mode, out)
    return out


def _pen_digits(mode: str = "mnist", layout: str = "flat") -> Dataset:
    from core.data.pen import PEN_DIGITS_ATTRIBUTION

    pre = dataset_preprocessing(mode, layout)  # checks mode and layout first
    x, y, writers, x_test, y_test = _pen_rendered(mode)
    if layout == "flat":
        x, x_test = x.reshape(len(x), -1), x_test.reshape(len(x_test), -1)
    return Dataset(
        name="pendigits", x=x, y=y, class_names=tuple(str(i) for i in range(10)),
        input_shape=x.shape[1:], x_test=x_test, y_test=y_test,
        description=DATASETS["pendigits"].description, attribution=PEN_DIGITS_ATTRIBUTION,
        preprocessing=pre, groups=writers,
    )


def _mnist(layout: str = "flat", location: Any = None) -> Dataset:
    """MNIST from ``location``: a ``MnistLocation``, a folder (or ``.npz``) path such as a
    model file records, or None (wherever :func:`find_mnist` finds it)."""
    from core.data.mnist import MNIST_ATTRIBUTION, MnistLocation, load_mnist, locate_mnist_in

    pre = image_preprocessing(1 / 255, (28, 28), (0, 255), layout)  # checks layout first
    if location is not None and not isinstance(location, MnistLocation):
        if not isinstance(location, (str, os.PathLike)):
            raise DataError(f"the MNIST location must be a folder, not {location!r}")
        found = locate_mnist_in(location)
        if found is None:
            raise DataError(f"MNIST was not found in {location}: choose a folder that holds its four files "
                            "or mnist.npz")
        location = found
    x_train, y_train, x_test, y_test = load_mnist(location)
    x = apply_preprocessing(x_train, pre)
    xt = apply_preprocessing(x_test, pre)
    return Dataset(
        name="mnist", x=x, y=y_train, class_names=tuple(str(i) for i in range(10)),
        input_shape=x.shape[1:], x_test=xt, y_test=y_test,
        description=DATASETS["mnist"].description, attribution=MNIST_ATTRIBUTION,
        preprocessing=pre,
    )


# --------------------------------------------------------------------------- the catalogue


LAYOUT = Param("layout", "choice", default="flat", choices=("flat", "image"),
               help="flat: each image as one row of pixels (for Dense layers); image: channels × "
                    "height × width (for Conv2D)")


PEN_MODE = Param("mode", "choice", default="mnist", choices=MODES, label="Rendered as",
                 choice_labels=("28×28 (as MNIST)", "8×8 (as 8×8 digits)"),
                 help="mnist: 28×28 images, as the Draw tab feeds a 28×28 network; digits8x8: 8×8 "
                      "block counts, as it feeds an 8×8 network")


def _point_set(name: str, title: str, description: str, shape: PointMaker, noise: float = 0.1,
               n_classes: int | None = None) -> DatasetInfo:
    """The catalogue entry of a generated 2-D point set drawn by ``shape``."""
    return DatasetInfo(name, title, description, "generated",
                       load=functools.partial(generated_dataset, name, description, shape),
                       schema=point_set_schema(noise, n_classes))


#: The catalogue, in the order a GUI lists the sets. Adding a dataset is one entry here (its
#: ``load`` and ``schema``) plus one test case; the GUI's combo and form, ``load_dataset`` and
#: ``core.spec.dataset_fit.dataset_param_schema`` read the entry.
DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo("xor", "XOR (4 points)",
                    "The four points of XOR: (0,0)→0, (0,1)→1, (1,0)→1, (1,1)→0. Too small to split: "
                    "training, validation and test all use the 4 points.", "bundled",
                    load=_xor),
        DatasetInfo("digits8x8", "Digits 8×8 (1,797 images)",
                    "Handwritten digits 0-9 as 8×8 images with values 0..16 (UCI), scaled to 0..1.",
                    "bundled", load=_digits8x8, schema=(LAYOUT,)),
        DatasetInfo("pendigits", "Pen digits (drawn)",
                    "Digits 0-9 drawn with a pen by 30 people (UCI pen-based digits), rendered as the "
                    "Draw tab's canvas renders a drawing, at 28×28 or 8×8. Split by writer: the test "
                    "set is 6 writers (1,500 digits) the model never sees, validation whole other "
                    "writers.", "bundled", load=_pen_digits, schema=(PEN_MODE, LAYOUT)),
        DatasetInfo("mnist", "MNIST (70,000 images)",
                    "Handwritten digits 0-9 as 28×28 images, 60,000 for training and the official "
                    "10,000 for testing. Not bundled: found on this computer or downloaded (11.6 MB).",
                    "external", load=_mnist, schema=(LAYOUT,),
                    needs_download=True, hidden_settings=("location",)),
        _point_set("circles", "Circles", "Two noisy concentric circles (2 classes, 2-D points).", circles),
        _point_set("moons", "Moons", "Two interleaving half circles (2 classes, 2-D points).", moons),
        _point_set("spirals", "Spirals", "Interleaved spiral arms, one per class (2-D points).", spirals,
                   noise=0.05, n_classes=2),
        _point_set("blobs", "Blobs", "Gaussian clusters with centres spaced on a circle (2-D points).", blobs,
                   noise=0.25, n_classes=3),
        _point_set("xor-cloud", "XOR cloud",
                   "Noisy points in the four quadrants; class 1 where the coordinates' signs differ.", xor_cloud),
    )
}

#: Names accepted by :func:`load_dataset`, in the order a GUI should list them (the
#: catalogue's order; code that must see entries added later iterates ``DATASETS``).
DATASET_NAMES: tuple[str, ...] = tuple(DATASETS)


def load_dataset(name: str, **params: Any) -> Dataset:
    """Build the named dataset: ``DATASETS[name].load`` with ``params`` checked against the
    entry's schema and its defaults filled in (see the module docs).

    Raises DataError for an unknown name or parameter, a bad parameter value, or (MNIST)
    when the data cannot be found or read.
    """
    info = DATASETS.get(name) if isinstance(name, str) else None
    if info is None:
        raise DataError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}")
    allowed = set(info.params) | set(info.hidden_settings)
    unknown = sorted(set(params) - allowed)
    if unknown:
        accepted = ", ".join(sorted(allowed)) or "none"
        raise DataError(f"dataset {name!r} has no parameter {', '.join(unknown)} (parameters: {accepted})")
    settings = {key: params[key] for key in info.hidden_settings if key in params}
    for param in info.schema:
        if param.name not in params:
            settings[param.name] = param.default
            continue
        try:
            settings[param.name] = param.check(params[param.name], f"dataset {name!r}")
        except SpecError as e:  # the schema speaks of specs; here it is the data that is refused
            raise DataError(str(e)) from None
    return info.load(**settings)
