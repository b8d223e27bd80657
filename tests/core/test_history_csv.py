"""History → CSV text: exact numbers, empty cells for missing values, complete rows."""

from __future__ import annotations

import csv
import io

from core import BatchReport, EpochReport, History
from core.monitor.history_csv import BATCH_COLUMNS, EPOCH_COLUMNS, batches_csv, epochs_csv


def sample_history() -> History:
    h = History()
    h.add_batch(BatchReport(0, 0, 2, 0.5, 0.1 + 0.2, 0.5, 0.01, 16, 16))
    h.add_batch(BatchReport(0, 1, 2, 1.0, 1 / 3, 0.75, 0.001, 8, 24))
    h.epochs.append(EpochReport(0, 0.4, 0.6, None, None, 0.01, 2.5, 9.6))
    h.epochs.append(EpochReport(1, 0.3, 0.7, 0.35, 0.65, 0.001, 2.0, 12.0))
    return h


def rows(text):
    return list(csv.reader(io.StringIO(text)))


def test_epochs_table():
    table = rows(epochs_csv(sample_history()))
    assert tuple(table[0]) == EPOCH_COLUMNS
    assert table[1] == ["1", "0.4", "0.6", "", "", "0.01", "2.5", "9.6"]
    assert table[2][:5] == ["2", "0.3", "0.7", "0.35", "0.65"]


def test_batches_table_round_trips_floats_exactly():
    table = rows(batches_csv(sample_history()))
    assert tuple(table[0]) == BATCH_COLUMNS and len(table) == 3
    assert float(table[1][2]) == 0.1 + 0.2 and float(table[2][2]) == 1 / 3
    assert table[2] == ["2", "1.0", repr(1 / 3), "0.75", "0.001", "8"]


def test_columns_being_appended_are_cut_to_complete_rows():
    h = sample_history()
    h.batches["loss"].append(9.9)  # a writer appended one column but not the others yet
    assert len(rows(batches_csv(h))) == 3


def test_empty_history_has_only_headers():
    assert epochs_csv(History()) == ",".join(EPOCH_COLUMNS) + "\n"
    assert batches_csv(History()) == ",".join(BATCH_COLUMNS) + "\n"
