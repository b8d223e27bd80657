"""Start-up (issue 20, item 4): the first window is built on data read ahead in the
background, and it imports nothing heavy that it does not show (each deferred part still
works the first time the user opens it)."""

from __future__ import annotations

import threading

import numpy as np

import nnstudio.state.document as document_module
from core.data import DataError, load_dataset
from nnstudio.state.document import DatasetChoice, Document, default_state

DIGITS = DatasetChoice("digits8x8", {})


def _recording_loader(monkeypatch, fail_first: bool = False):
    """Replace the document's dataset reader with one that records the thread it ran in
    (and fails the first time when asked), returning real 8×8 digits otherwise."""
    calls: list[str] = []

    def load_choice(choice):
        calls.append(threading.current_thread().name)
        if fail_first and len(calls) == 1:
            raise DataError("the file is damaged (test)")
        return load_dataset(choice.name, **choice.params)

    monkeypatch.setattr(document_module, "load_choice", load_choice)
    return calls


def test_preload_reads_the_dataset_off_the_gui_thread_and_hands_it_over_without_an_event_loop(qapp, monkeypatch):
    calls = _recording_loader(monkeypatch)
    document = Document(default_state())
    assert document.dataset_choice == DIGITS
    document.preload_dataset()
    assert document.finish_preload(30_000)  # no event loop runs in this test
    assert calls and calls[0] != threading.main_thread().name
    assert document.loaded_dataset() is not None and not document.dataset_loading()
    # The window's first read is the preloaded data, not a second read.
    data = document.dataset()
    assert len(calls) == 1 and data is document.loaded_dataset()
    assert np.array_equal(data.x, load_dataset("digits8x8").x)


def test_a_failed_preload_is_not_reported_and_the_next_read_says_what_went_wrong(qapp, monkeypatch):
    calls = _recording_loader(monkeypatch, fail_first=True)
    document = Document(default_state())
    unavailable: list[str] = []
    document.datasetUnavailable.connect(unavailable.append)
    document.preload_dataset()
    assert document.finish_preload(30_000)
    # Not the "the model was trained on … locate the file" message of an opened model file:
    # nothing asked for the data yet, so nothing is recorded as missing.
    assert unavailable == [] and document.dataset_problem() is None and not document.dataset_loading()
    data = document.dataset()  # read again, synchronously (it works the second time here)
    assert len(calls) == 2 and data.n_classes == 10


def test_preload_reads_no_imported_file_and_nothing_already_loaded(monkeypatch, tmp_path):
    calls = _recording_loader(monkeypatch)
    document = Document(default_state())
    document.reset(document_module.DocumentState(document.spec, document.training,
                                                 DatasetChoice("import-csv", {"path": str(tmp_path / "a.csv")})))
    document.preload_dataset()
    assert document.finish_preload(1000) and calls == [] and not document.dataset_loading()
