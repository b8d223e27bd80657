"""The drawings store reads its file with core's checked .npz reader: a damaged or hostile
file is reported (and kept), never allocated from a lying header."""

from __future__ import annotations

import io
import tracemalloc
import zipfile

import numpy as np
import pytest

from core.data import DataError
from nnstudio.state.user_dataset import UserDrawings


def test_drawings_file_declaring_a_huge_array_is_reported_and_kept(tmp_path):
    path = tmp_path / "my_drawings.npz"
    header = np.lib.format.header_data_from_array_1_0(np.zeros(1, np.uint8))
    header["shape"] = (10**9, 28, 28)
    with zipfile.ZipFile(path, "w") as archive:
        member = io.BytesIO()
        np.lib.format.write_array_header_1_0(member, header)
        archive.writestr("images.npy", member.getvalue() + bytes(64))
        member = io.BytesIO()
        np.save(member, np.zeros(3, np.int64))
        archive.writestr("labels.npy", member.getvalue())
    before = path.read_bytes()
    tracemalloc.start()
    try:
        with pytest.raises(DataError,
                           match=r"your drawings in .* cannot be read .*images declares 784,000,000,000 bytes"):
            UserDrawings.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000
    assert path.read_bytes() == before


def test_drawings_round_trip_through_the_checked_reader(tmp_path):
    store = UserDrawings.load(tmp_path / "my_drawings.npz")
    store.add(np.full((28, 28), 0.5), 3)
    again = UserDrawings.load(tmp_path / "my_drawings.npz")
    assert again.count == 1 and again.counts_per_label()[3] == 1
