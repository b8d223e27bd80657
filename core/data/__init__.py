"""Datasets for nnstudio: bundled, generated, imported (IDX, CSV) and MNIST.

NumPy and the standard library only. Every bad input raises :class:`DataError` (a
``ValueError``) whose message names the file and, where relevant, the line and column.

Main entry points:

- ``load_dataset(name, **params) -> Dataset`` for the names in ``DATASET_NAMES``
  (``DATASETS[name]`` describes each: title, description, its settings' ``Param`` schema
  and its ``load`` callable);
- ``Dataset.split(seed, validation_fraction, test_fraction) -> DataSplits`` (seeded,
  stratified) and ``Dataset.fingerprint()``;
- ``dataset_from_idx`` / ``dataset_from_csv`` for files the user imports, built on
  ``load_idx`` / ``read_idx`` and ``load_csv``;
- MNIST: ``find_mnist``, ``locate_mnist_in``, ``load_mnist``, ``download_mnist``;
- ``apply_preprocessing`` turns raw inputs (a drawn digit) into network inputs exactly as
  the dataset's own samples were made;
- ``user_data_dir`` / ``user_cache_dir``: per-user folders (never the installed package);
- where each lives: :mod:`.datasets` (the named sets), :mod:`.dataset` (the container and its
  splits), :mod:`.preprocessing`, :mod:`.generated`, :mod:`.imported`, :mod:`.settings`,
  :mod:`.mnist` (``locate`` / ``load`` / ``download``), and the readers :mod:`.idx`,
  :mod:`.csv_import`, :mod:`.npz`;
- :mod:`.validate`: the one check of training, evaluation and prediction inputs (NaN,
  fractional or negative labels), raising ``InvalidInputError`` (a DataError and a
  TrainingError).

Readers hold at most a budget (``idx.MAX_IDX_BYTES``, ``csv_import.MAX_CSV_BYTES``), unpack
gzip piece by piece, and refuse devices and FIFOs before reading.
"""

from __future__ import annotations

from core.data._files import MAX_DATA_FILE_BYTES, data_file_problem
from core.data.csv_import import load_csv
from core.data.dataset import Dataset, DataSplits
from core.data.datasets import DATASET_NAMES, DATASETS, DIGITS8X8_ATTRIBUTION, DatasetInfo, load_dataset
from core.data.errors import DataError, DownloadCancelled
from core.data.idx import load_idx, read_idx
from core.data.imported import dataset_from_arrays, dataset_from_csv, dataset_from_idx
from core.data.mnist import (
    DEFAULT_MIRRORS,
    MNIST_ATTRIBUTION,
    MNIST_FILES,
    MnistLocation,
    clear_mnist_memory_cache,
    download_mnist,
    find_mnist,
    load_mnist,
    locate_mnist_in,
    mnist_search_places,
)
from core.data.paths import user_cache_dir, user_data_dir
from core.data.preprocessing import apply_preprocessing
from core.data.validate import InvalidInputError

__all__ = [
                       "DATASETS",
                       "DATASET_NAMES",
                       "DEFAULT_MIRRORS",
                       "DIGITS8X8_ATTRIBUTION",
                       "MAX_DATA_FILE_BYTES",
                       "MNIST_ATTRIBUTION",
                       "MNIST_FILES",
                       "DataError",
                       "DataSplits",
                       "Dataset",
                       "DatasetInfo",
                       "DownloadCancelled",
                       "InvalidInputError",
                       "MnistLocation",
                       "apply_preprocessing",
                       "clear_mnist_memory_cache",
                       "data_file_problem",
                       "dataset_from_arrays",
                       "dataset_from_csv",
                       "dataset_from_idx",
                       "download_mnist",
                       "find_mnist",
                       "load_csv",
                       "load_dataset",
                       "load_idx",
                       "load_mnist",
                       "locate_mnist_in",
                       "mnist_search_places",
                       "read_idx",
                       "user_cache_dir",
                       "user_data_dir",
]
