"""Document: undoable edits restore the whole state, modified flag, save/open round trip."""

from __future__ import annotations

import numpy as np
import pytest

import core
from nnstudio.state.document import DatasetChoice, Document, default_state


def with_units(spec, units):
    layers = list(spec.layers)
    layers[0] = layers[0].with_config(units=units)
    return spec.with_layers(layers)


def test_edit_undo_redo_and_modified_flag(document, qtbot):
    original = document.spec
    with qtbot.waitSignal(document.specChanged):
        document.change("Set Dense units to 32", spec=with_units(original, 32))
    assert document.spec.layers[0].config["units"] == 32
    assert document.modified and document.undo_stack.undoText() == "Set Dense units to 32"
    document.undo_stack.undo()
    assert document.spec == original and not document.modified
    document.undo_stack.redo()
    assert document.spec.layers[0].config["units"] == 32


def test_consecutive_edits_with_one_merge_key_are_one_undo_step(document):
    original = document.spec
    for units in (1, 12, 128):
        document.change("Set units", spec=with_units(original, units), merge_key="layer0.units")
    assert document.undo_stack.count() == 1
    document.undo_stack.undo()
    assert document.spec == original


def test_architecture_edit_discards_trained_network_and_undo_brings_it_back(document):
    net = document.network_for_training()
    data = document.dataset()
    net.fit(data.x[:64], data.y[:64], epochs=1)
    document.network_trained(net)
    assert document.snapshot is not None and document.modified
    document.change("Set units", spec=with_units(document.spec, 16))
    assert document.network is None and document.snapshot is None
    document.undo_stack.undo()
    assert document.network is net
    assert np.array_equal(document.snapshot.predict(data.x[:5]), net.predict(data.x[:5]))
    # loss/optimizer edits keep the weights
    document.change("Use SGD", spec=document.spec.replace(optimizer={"type": "SGD", "learning_rate": 0.1}))
    assert document.network is net
    assert document.network_for_training().optimizer.type_name == "SGD"


def test_save_then_open_round_trip(document, tmp_path, qtbot):
    net = document.network_for_training()
    data = document.dataset()
    net.fit(data.x[:100], data.y[:100], epochs=2)
    document.network_trained(net)
    document.change("Use moons", dataset=DatasetChoice("moons", {"n_samples": 200, "noise": 0.1, "seed": 0}))
    path = tmp_path / "model.nnz"
    document.save(path)
    assert not document.modified and document.path == path
    other = Document()
    with qtbot.waitSignal(other.pathChanged):
        other.open_file(path)
    assert other.path == path and not other.modified
    assert other.spec == document.spec and other.training == document.training
    assert other.dataset_choice == document.dataset_choice
    assert np.array_equal(other.snapshot.predict(data.x[:5]), net.predict(data.x[:5]))
    assert other.network.epochs_done == 2


def test_corrupt_file_leaves_the_document_untouched(document, tmp_path):
    document.change("Set units", spec=with_units(document.spec, 20))
    before = document.state
    bad = tmp_path / "broken.nnz"
    bad.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(core.ModelFileError):
        document.open_file(bad)
    assert document.state is before and document.modified and document.undo_stack.count() == 1


def test_reset_clears_history(document):
    document.change("Set units", spec=with_units(document.spec, 20))
    document.reset(default_state())
    assert document.undo_stack.count() == 0 and not document.modified and document.path is None


def test_edits_are_refused_while_training(document):
    document.set_training_active(True)
    with pytest.raises(RuntimeError):
        document.change("Set units", spec=with_units(document.spec, 20))
    document.set_training_active(False)


def test_merged_edits_name_the_latest_value_and_vanish_when_back_to_start(document):
    original = document.spec
    document.change("Set units to 65", spec=with_units(original, 65), merge_key="layer0.units")
    document.change("Set units to 66", spec=with_units(original, 66), merge_key="layer0.units")
    assert document.undo_stack.undoText() == "Set units to 66"
    document.change("Set units to 64", spec=original, merge_key="layer0.units")
    assert document.undo_stack.count() == 0 and document.spec == original and not document.modified


def test_a_checked_dataset_is_not_loaded_again_when_chosen_or_undone(document, monkeypatch):
    import nnstudio.state.document as document_module

    loads = []
    real = document_module.load_choice
    monkeypatch.setattr(document_module, "load_choice", lambda c: loads.append(c.name) or real(c))
    moons = DatasetChoice("moons", {"n_samples": 100, "noise": 0.1, "seed": 0})
    document.dataset()
    document.load_dataset(moons)  # what the dataset panel does before switching
    document.change("Use moons", dataset=moons)
    document.dataset()
    document.undo_stack.undo()
    document.dataset()
    assert loads == ["digits8x8", "moons"]
