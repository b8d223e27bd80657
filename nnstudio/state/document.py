"""The open project: network spec, training settings, dataset choice, trained network, file.

One ``Document`` per window. Every user edit goes through ``Document.change`` which pushes
an undoable command onto ``undo_stack``; undo and redo restore the whole previous state
(spec, training settings, dataset, and the trained network when an edit discarded it).
Widgets read the state through properties and listen to the signals; they never mutate
the spec themselves.

The trained network (``core.Network``) belongs to the GUI thread except while a training
run has it (``training_active``); during a run, predictions use ``snapshot`` (a copy made
at each epoch end), never the live network. A run in progress counts as unsaved work
(``modified`` is True while it runs), and the document cannot change under it: ``change``,
``reset`` and undo/redo (``undo``, ``redo``) are refused while training runs.

The dataset a model file names is a hint, not an instruction: ``open_file`` reads only the
model, then loads the named data in the background (``dataset_loading``), and only when its
files are regular files under ``core.data.MAX_DATA_FILE_BYTES`` (``dataset_file_problem``). When
they are not, the model still opens and ``datasetUnavailable`` says which data to locate.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

import core
from core import Network, NetworkSpec, TrainingConfig
from core.data import DataError, Dataset, DataSplits, data_file_problem, load_dataset
from nnstudio.background.task_runner import TaskRunner
from nnstudio.state.document_types import (  # re-exported: the document's own vocabulary
    MNIST_DEFAULT_PRESET,
    DatasetChoice,
    DatasetUnavailable,
    DocumentState,
    architecture_of,
    default_state,
)
from nnstudio.state.presets import load_presets

#: Fraction held out for testing when a dataset has no official test split.
TEST_FRACTION = 0.2
#: Datasets kept loaded per document (two MNIST layouts are ~0.45 GB together).
DATASET_CACHE_SIZE = 2
#: Largest data file nnstudio reads for an imported dataset (MNIST as CSV is ~110 MB).


class _StateCommand(QUndoCommand):
    """Replace the document state; undo restores the previous one.

    Consecutive commands with the same ``merge_key`` (e.g. typing digits into one spin box)
    merge into one undo step.
    """

    _ids: ClassVar[dict[str, int]] = {}  # merge key -> Qt command id, shared by all commands

    def __init__(self, document: Document, new: DocumentState, text: str, merge_key: str | None = None):
        super().__init__(text)
        self._document = document
        self._old = document.state
        self._new = new
        self._merge_id = -1 if merge_key is None else self._ids.setdefault(merge_key, 1000 + len(self._ids))

    def id(self) -> int:  # Qt's name
        return self._merge_id

    def mergeWith(self, other: QUndoCommand) -> bool:
        if other.id() != self.id() or not isinstance(other, _StateCommand):
            return False
        self._new = other._new
        self.setText(other.text())  # "Undo" names the latest value
        # Stepping a field back to where it started leaves nothing to undo.
        self.setObsolete(self._new == self._old)
        return True

    def redo(self) -> None:
        self._document._apply(self._new)

    def undo(self) -> None:
        self._document._apply(self._old)


class Document(QObject):
    """The open project. Signals say which part changed; ``modifiedChanged`` follows the
    undo stack's clean state."""

    specChanged = Signal()
    trainingConfigChanged = Signal()
    #: The dataset choice changed, or its data finished loading in the background (or could
    #: not be loaded): listeners read ``dataset()`` again.
    datasetChanged = Signal()
    networkChanged = Signal()
    pathChanged = Signal()
    modifiedChanged = Signal(bool)
    trainingActiveChanged = Signal(bool)
    #: The network predictions should use was replaced (new epoch, finished run, load, reset).
    snapshotChanged = Signal()
    #: A message for the user: (text, level "error" | "warning" | "info", details). Widgets
    #: call ``notify``; the main window shows it in its message bar (never a modal box).
    message = Signal(str, str, str)
    #: The document's drawing reader (the shipped model taught the user's handwriting) changed.
    drawingReaderChanged = Signal()
    #: The data an opened model file names could not be re-opened (a sentence saying which
    #: file to locate). The model itself is open; ``dataset_problem()`` says why.
    datasetUnavailable = Signal(str)

    def __init__(self, state: DocumentState | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self.undo_stack.cleanChanged.connect(self._on_undo_stack_clean_changed)
        self._state = state or default_state()
        self._path: Path | None = None
        #: Recently loaded datasets by choice (a choice being checked by the dataset panel and
        #: the one it replaces, so neither a switch nor its undo loads twice).
        self._datasets: dict[tuple, Dataset] = {}
        self._splits_cache: tuple[tuple, DataSplits] | None = None
        self._training_active = False
        self._unsaved_training = False
        #: Dataset choices (keys) being loaded in the background, and those that could not be
        #: re-opened (key -> why): ``load_dataset`` refuses both without reading anything.
        self._dataset_loading: set[tuple] = set()
        self._dataset_missing: dict[tuple, str] = {}
        self._loader: TaskRunner | None = None  # made on first use
        #: Choices (keys) read ahead by ``preload_dataset``: a failure there is not reported
        #: (nothing asked for the data yet); the next ``dataset()`` reads again and says why.
        self._preloading: set[tuple] = set()
        #: Weights-only copy of the network taken at the last epoch end, finish or load: what
        #: predictions use (never the live network, which a worker thread may be training).
        self.snapshot: Network | None = None

    # -- state -----------------------------------------------------------------------------------
    @property
    def state(self) -> DocumentState:
        return self._state

    @property
    def spec(self) -> NetworkSpec:
        return self._state.spec

    @property
    def training(self) -> TrainingConfig:
        return self._state.training

    @property
    def dataset_choice(self) -> DatasetChoice:
        return self._state.dataset

    @property
    def network(self) -> Network | None:
        """The trained network, or None when the current spec has not been trained yet."""
        return self._state.network

    @property
    def drawing_reader(self) -> Network | None:
        """The shipped digit reader tuned to the user's handwriting, or None (see
        ``DocumentState.drawing_reader``)."""
        return self._state.drawing_reader

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def modified(self) -> bool:
        """Unsaved edits, unsaved training results, or a training run in progress (its
        progress is unsaved work too)."""
        return not self.undo_stack.isClean() or self._unsaved_training or self._training_active

    @property
    def training_active(self) -> bool:
        return self._training_active

    def set_training_active(self, active: bool) -> None:
        if active != self._training_active:
            was_modified = self.modified
            self._training_active = active
            self.trainingActiveChanged.emit(active)
            if self.modified != was_modified:
                self.modifiedChanged.emit(self.modified)

    # -- undo / redo ------------------------------------------------------------------------------
    def can_undo(self) -> bool:
        """An edit to undo, and no training run that the undo would change the network under."""
        return self.undo_stack.canUndo() and not self._training_active

    def can_redo(self) -> bool:
        return self.undo_stack.canRedo() and not self._training_active

    def undo(self) -> bool:
        """Undo the last edit; refused (False, and the user is told why) while training runs:
        the worker trains the network of the current spec, so the spec must not change."""
        if self._training_active:
            self.notify("Undo is not available while training runs: stop the run first, so the network "
                        "and the layers you see stay the same.", "warning")
            return False
        if not self.undo_stack.canUndo():
            return False
        self.undo_stack.undo()
        return True

    def redo(self) -> bool:
        """Redo the last undone edit; refused while training runs (see ``undo``)."""
        if self._training_active:
            self.notify("Redo is not available while training runs: stop the run first, so the network "
                        "and the layers you see stay the same.", "warning")
            return False
        if not self.undo_stack.canRedo():
            return False
        self.undo_stack.redo()
        return True

    def notify(self, text: str, level: str = "error", details: str = "") -> None:
        self.message.emit(text, level, details)

    def reset(self, state: DocumentState, path: Path | None = None, *, load_data_in_background: bool = False) -> None:
        """Replace everything (New, Open, preset): clears undo history and the modified flag.

        ``load_data_in_background``: do not read the state's dataset here (see ``open_file``).
        """
        if self._training_active:
            raise RuntimeError("the document cannot change while training runs")
        self.undo_stack.clear()
        self._unsaved_training = False
        self._path = Path(path) if path is not None else None
        self._state = state
        self._dataset_loading.clear()
        self._dataset_missing.clear()
        self._preloading.clear()
        problem = self._start_loading(state.dataset) if load_data_in_background else None
        self._refresh_snapshot()
        # Every part may have changed: tell every listener.
        self.specChanged.emit()
        self.trainingConfigChanged.emit()
        self.datasetChanged.emit()
        self.networkChanged.emit()
        self.pathChanged.emit()
        self.modifiedChanged.emit(False)
        if problem is not None:
            self.datasetUnavailable.emit(problem)

    # -- edits (undoable) -------------------------------------------------------------------------
    def change(self, text: str, *, spec: NetworkSpec | None = None, training: TrainingConfig | None = None,
               dataset: DatasetChoice | None = None, merge_key: str | None = None) -> None:
        """Push an undoable edit named ``text`` (shown as "Undo <text>").

        Changing the architecture (layers, input shape, dtype) discards the trained network
        (undo brings it back); changing only loss, optimizer or seed keeps the weights.
        """
        if self._training_active:
            raise RuntimeError("the document cannot change while training runs")
        new = self._state
        if spec is not None:
            network = new.network
            if network is not None and architecture_of(spec) != architecture_of(new.spec):
                network = None
            new = replace(new, spec=spec, network=network)
        if training is not None:
            new = replace(new, training=training)
        if dataset is not None:
            new = replace(new, dataset=dataset)
        if new == self._state:
            return
        self.undo_stack.push(_StateCommand(self, new, text, merge_key))

    def adopt_network(self, network: Network, text: str) -> None:
        """Replace the trained network by ``network`` (same architecture, e.g. tuned to the
        user's handwriting) as one undoable edit named ``text``; undo brings the previous
        network back. Refused while training runs (RuntimeError) or when the architecture
        differs (ValueError)."""
        if self._training_active:
            raise RuntimeError("the document cannot change while training runs")
        if architecture_of(network.to_spec()) != architecture_of(self._state.spec):
            raise ValueError("the network does not have the document's architecture")
        self.undo_stack.push(_StateCommand(self, replace(self._state, network=network), text))

    def set_drawing_reader(self, network: Network | None, text: str) -> None:
        """Keep ``network`` as the document's drawing reader (None: forget it), one undoable
        edit named ``text``; the user's own network is not touched."""
        if self._training_active:
            raise RuntimeError("the document cannot change while training runs")
        if network is not self._state.drawing_reader:
            self.undo_stack.push(_StateCommand(self, replace(self._state, drawing_reader=network), text))

    def _apply(self, new: DocumentState) -> None:
        old, self._state = self._state, new
        if old.spec != new.spec:
            self.specChanged.emit()
        if old.training != new.training:
            self.trainingConfigChanged.emit()
        if old.dataset != new.dataset:
            self.datasetChanged.emit()
        if old.network is not new.network:
            self._refresh_snapshot()
            self.networkChanged.emit()
        if old.drawing_reader is not new.drawing_reader:
            self.drawingReaderChanged.emit()

    # -- trained network (not undoable: training is not an edit) ------------------------------------
    def network_for_training(self) -> Network:
        """The network to train: the trained one, or a fresh one built from the spec.

        Applies the current loss and optimizer settings; optimizer state is kept when the
        optimizer's type and settings other than the learning rate are unchanged.
        """
        network = self._state.network
        spec = self._state.spec
        if network is None:
            network = Network.from_spec(spec)
            self._state = replace(self._state, network=network)
        else:
            if network.loss.name != spec.loss:
                network.compile(loss=spec.loss)
            wanted = dict(spec.optimizer)
            current = network.optimizer.to_dict()
            if {k: v for k, v in wanted.items() if k != "learning_rate"} != \
                    {k: v for k, v in current.items() if k != "learning_rate" and k in wanted}:
                network.compile(optimizer=wanted)
            elif "learning_rate" in wanted:
                network.optimizer.learning_rate = wanted["learning_rate"]
            network.seed = spec.seed
        network.metadata.update(self.metadata_for_file())
        return network

    def network_trained(self, network: Network | None = None, snapshot: Network | None = None) -> None:
        """Call when a run ended (or weights were reset): refresh the snapshot, mark modified.
        ``snapshot``: a weights-only copy of the network as it is now, when the caller has one
        (None: one is made here)."""
        if network is not None and network is not self._state.network:
            self._state = replace(self._state, network=network)
        if snapshot is None:
            self._refresh_snapshot()
        elif snapshot is not self.snapshot:  # a run's last packet may have brought it already
            self.set_snapshot(snapshot)
        self.networkChanged.emit()
        self._mark_modified()

    def reset_weights(self) -> None:
        """Forget training: the next run starts from weights drawn from the seed."""
        if self._state.network is not None:
            self._state = replace(self._state, network=None)
            self._refresh_snapshot()
            self.networkChanged.emit()
            self._mark_modified()

    def _refresh_snapshot(self) -> None:
        network = self._state.network
        self.set_snapshot(network.inference_copy() if network is not None and network.built else None)

    def set_snapshot(self, snapshot: Network | None) -> None:
        """Replace the network predictions use (a copy the caller no longer touches)."""
        self.snapshot = snapshot
        self.snapshotChanged.emit()

    def _mark_modified(self) -> None:
        # Training results are not undoable edits, but they are unsaved changes.
        was = self.modified
        self._unsaved_training = True
        if not was:
            self.modifiedChanged.emit(True)

    # -- dataset --------------------------------------------------------------------------------------
    def dataset(self) -> Dataset:
        """The chosen dataset, loaded on first use and cached (raises core.data.DataError)."""
        return self.load_dataset(self._state.dataset)

    def load_dataset(self, choice: DatasetChoice) -> Dataset:
        """Load ``choice`` (cached: the last ``DATASET_CACHE_SIZE`` choices stay in memory);
        raises core.data.DataError. Checking a choice before switching to it costs nothing
        extra this way."""
        key = choice.key()
        data = self._datasets.pop(key, None)
        if data is None:
            if key in self._dataset_loading:
                raise DatasetUnavailable(f"{choice.title()} is still being loaded; it is ready in a moment",
                                         loading=True)
            if key in self._dataset_missing:
                raise DatasetUnavailable(self._dataset_missing[key], loading=False)
            data = load_choice(choice)
        self._remember_dataset(key, data)
        return data

    def _remember_dataset(self, key: tuple, data: Dataset) -> None:
        self._datasets[key] = data  # most recent last
        while len(self._datasets) > DATASET_CACHE_SIZE:
            del self._datasets[next(iter(self._datasets))]

    def loaded_dataset(self, choice: DatasetChoice | None = None) -> Dataset | None:
        """``choice`` (default: the chosen dataset) if it is already in memory, else None;
        never reads a file (for checks that run on every edit)."""
        return self._datasets.get((choice or self._state.dataset).key())

    def dataset_loading(self, choice: DatasetChoice | None = None) -> bool:
        """True while ``choice`` (default: the document's) is being loaded in the background."""
        return (choice or self._state.dataset).key() in self._dataset_loading

    def dataset_problem(self, choice: DatasetChoice | None = None) -> str | None:
        """Why the data an opened model named could not be re-opened (None when it could,
        or was not tried)."""
        return self._dataset_missing.get((choice or self._state.dataset).key())

    def retry_dataset(self) -> bool:
        """Try again to load the document's dataset after it could not be re-opened (its file
        is back): in the background, as when the model was opened. False when it still
        cannot be (``datasetUnavailable`` says why again)."""
        choice = self._state.dataset
        if self._dataset_missing.pop(choice.key(), None) is None:
            return True
        problem = self._start_loading(choice)
        self.datasetChanged.emit()
        if problem is not None:
            self.datasetUnavailable.emit(problem)
        return problem is None

    def wait_for_dataset(self, msecs: int = 30_000) -> bool:
        """Block until background dataset loading has run (shutdown, tests); False on timeout.
        Its result reaches the document through the event loop afterwards."""
        return self._loader is None or self._loader.wait(msecs)

    def preload_dataset(self) -> None:
        """Start reading the chosen dataset in the background now (start-up: MNIST takes
        ~0.3 s to decode, read while the window's modules import instead of before the
        window can be built). ``finish_preload`` collects it; imported files are not read
        ahead (reading them is the Dataset panel's and the open path's business)."""
        choice = self._state.dataset
        if choice.files() or choice.key() in self._datasets or self.dataset_loading(choice):
            return
        self._preloading.add(choice.key())
        self._start_loading(choice)

    def finish_preload(self, msecs: int = 30_000) -> bool:
        """Block until ``preload_dataset``'s read has run and hand its result to the document
        at once (no event loop needed), so the window is built on loaded data, as if read
        synchronously; False on timeout (the data then arrives through the event loop)."""
        if not self._preloading:
            return True
        done = self.wait_for_dataset(msecs)
        if self._loader is not None:
            self._loader.deliver_results()
        return done

    def _start_loading(self, choice: DatasetChoice) -> str | None:
        """Load ``choice`` off the GUI thread unless it is cached. Imported files are checked
        first (without reading them): when they cannot be re-opened, nothing is started and a
        sentence for the user is returned."""
        key = choice.key()
        if key in self._datasets:
            return None
        problem = dataset_file_problem(choice)
        if problem is not None:
            return self._mark_missing(choice, problem)
        if self._loader is None:
            self._loader = TaskRunner(self)
            self._loader.finished.connect(self._on_loader_finished)
            self._loader.failed.connect(self._on_loader_failed)
        self._dataset_loading.add(key)
        self._loader.submit("dataset", _load_for_document, choice)
        return None

    def _mark_missing(self, choice: DatasetChoice, reason: str) -> str:
        if choice.files():
            text = f"The model was trained on {choice.title()}; locate the file to use it again ({reason})."
        else:
            text = (f"The model was trained on {choice.title()}, which could not be loaded ({reason}); choose a "
                    "dataset in the Dataset panel to train or evaluate it.")
        self._dataset_missing[choice.key()] = text
        return text

    def _on_loader_finished(self, _kind: str, result: tuple[DatasetChoice, Dataset | None, str | None]) -> None:
        choice, data, problem = result
        self._loaded(choice, data, problem)

    def _on_loader_failed(self, _kind: str, message: str, details: str) -> None:
        # Only a bug gets here (_load_for_document turns bad data into a sentence): every
        # choice still loading is given up. A read ahead nobody asked for yet is only
        # dropped: the next dataset() reads again, and its failure reaches the window then.
        if self._preloading:
            for key in self._preloading & self._dataset_loading:
                self._dataset_loading.discard(key)
            self._preloading.clear()
            if not self._dataset_loading:
                self.datasetChanged.emit()
                return
        for key in list(self._dataset_loading):
            self._dataset_loading.discard(key)
            self._dataset_missing[key] = f"The data could not be loaded because of an unexpected error ({message})."
        self.notify(f"The data could not be loaded because of an unexpected error ({message}).", "error", details)
        self.datasetChanged.emit()

    def _loaded(self, choice: DatasetChoice, data: Dataset | None, problem: str | None) -> None:
        key = choice.key()
        if key not in self._dataset_loading:
            return  # the document was replaced meanwhile
        self._dataset_loading.discard(key)
        if key in self._preloading:
            self._preloading.discard(key)
            if data is None:  # nobody asked yet: the next dataset() reads again and reports its own way
                self.datasetChanged.emit()
                return
        if data is not None:
            self._remember_dataset(key, data)
            text = None
        else:
            text = self._mark_missing(choice, problem or "it could not be read")
        if key == self._state.dataset.key():
            self._splits_cache = None
            self.datasetChanged.emit()  # listeners read the data now (or show why not)
            if text is not None:
                self.datasetUnavailable.emit(text)

    def drop_loaded_datasets(self) -> None:
        """Forget loaded datasets and splits (their files changed, e.g. a drawing was kept)."""
        self._datasets.clear()
        self._splits_cache = None

    def splits(self) -> DataSplits:
        """Train / validation / test split of the chosen dataset for the current seed and
        validation fraction (official test split when the dataset has one; else 20%).
        Cached; raises core.data.DataError."""
        key = (self._state.dataset, self._state.spec.seed, self._state.training.validation_split)
        if self._splits_cache is None or self._splits_cache[0] != key:
            data = self.dataset()
            self._splits_cache = (key, data.split(seed=self._state.spec.seed,
                                                  validation_fraction=self._state.training.validation_split,
                                                  test_fraction=TEST_FRACTION))
        return self._splits_cache[1]

    def metadata_for_file(self) -> dict[str, Any]:
        """What model files record about the data and settings of this document."""
        meta: dict[str, Any] = {"dataset": {"name": self._state.dataset.name,
                                            "params": dict(self._state.dataset.params)},
                                "training": self._state.training.to_dict()}
        data = self._datasets.get(self._state.dataset.key())
        if data is not None:
            meta["class_names"] = list(data.class_names)
            meta["preprocessing"] = dict(data.preprocessing)
        return meta

    # -- files -------------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Save spec, training settings, dataset identity and (trained or initial) weights.

        Raises core.ModelFileError / OSError; on failure the previous file is intact.
        """
        network = self._state.network
        if network is None:
            network = Network.from_spec(self._state.spec)
        network.metadata.update(self.metadata_for_file())
        core.save_model(network, path, training_config=self._state.training)
        reader, beside = self._state.drawing_reader, drawing_reader_path(path)
        if reader is not None:  # beside the model file, so the user's own network stays as it is
            core.save_model(reader, beside)
        elif beside.is_file():
            # This document's reader was undone or never kept: an older one saved beside the
            # same file would otherwise come back when the document is opened next time.
            with contextlib.suppress(OSError):
                beside.unlink()
        self._path = Path(path)
        self._unsaved_training = False
        was_clean = self.undo_stack.isClean()
        self.undo_stack.setClean()
        if was_clean:  # cleanChanged does not fire: say it ourselves
            self.modifiedChanged.emit(False)
        self.pathChanged.emit()

    def open_file(self, path: str | Path) -> None:
        """Replace the document with a model file's contents.

        Raises core.ModelFileError (or OSError) before changing anything, so a bad file
        leaves the current document untouched. Reads only the model file: the dataset it
        names is loaded in the background when its files can be (``dataset_loading``), else
        ``datasetUnavailable`` tells the user which file to locate; the model opens anyway.
        """
        state = state_from_file(path)
        reader, problem = read_drawing_reader(path)
        self.reset(replace(state, drawing_reader=reader), Path(path), load_data_in_background=True)
        if problem is not None:
            self.notify(problem, "warning")

    def _on_undo_stack_clean_changed(self, clean: bool) -> None:
        self.modifiedChanged.emit(self.modified)


def state_from_file(path: str | Path) -> DocumentState:
    """Read a model file into a DocumentState (raises core.ModelFileError). Reads nothing
    but the model file: the dataset it names is only recorded in the state."""
    network = core.load_model(path)  # refuses out-of-range counters and damaged metadata
    meta = network.metadata
    try:
        training = (TrainingConfig.from_dict(meta["training"]) if isinstance(meta.get("training"), dict)
                    else TrainingConfig())
    except core.SpecError:
        training = TrainingConfig()  # settings from a newer/odd file: fall back, the weights are what matter
    dataset = DatasetChoice.from_dict(meta["dataset"]) if isinstance(meta.get("dataset"), dict) else DatasetChoice()
    return DocumentState(network.to_spec(), training, dataset, network)


def drawing_reader_path(path: str | Path) -> Path:
    """Where the drawing reader of the document saved at ``path`` lives:
    "digits.nnz" -> "digits.handwriting.nnz" (a model file of its own)."""
    path = Path(path)
    return path.with_name(f"{path.stem}.handwriting.nnz")


def read_drawing_reader(path: str | Path) -> tuple[Network | None, str | None]:
    """(the drawing reader saved beside the model file at ``path`` or None, a sentence when
    it exists but cannot be read: the document opens without it and the file stays)."""
    reader_path = drawing_reader_path(path)
    if not reader_path.is_file():
        return None, None
    try:
        return core.load_model(reader_path), None
    except (core.ModelFileError, OSError) as exc:
        return None, f"The model taught your handwriting ({reader_path.name}) could not be read: {exc}"


def dataset_file_problem(choice: DatasetChoice) -> str | None:
    """Why the files of an imported dataset must not be read, without reading them (None
    when they may be): the first of its files that ``core.data.data_file_problem`` refuses."""
    for path in choice.files():
        problem = data_file_problem(path)
        if problem is not None:
            return problem
    return None


def _load_for_document(choice: DatasetChoice) -> tuple[DatasetChoice, Dataset | None, str | None]:
    """Background job: (choice, data, None) or (choice, None, why it failed)."""
    try:
        return choice, load_choice(choice), None
    except (DataError, OSError) as exc:
        return choice, None, str(exc)


def load_choice(choice: DatasetChoice) -> Dataset:
    """Load the dataset a DatasetChoice names (imported files included).

    ``params["include_drawings"]`` (MNIST only) adds the drawings the user kept from the
    Draw tab to the training samples; the official test split stays untouched.
    """
    from core.data import dataset_from_csv, dataset_from_idx

    problem = dataset_file_problem(choice)
    if problem is not None:
        raise DataError(problem)
    params = dict(choice.params)
    include_drawings = bool(params.pop("include_drawings", False))
    try:
        if choice.name == "import-idx":
            data = dataset_from_idx(params.pop("images"), params.pop("labels"), **params)
        elif choice.name == "import-csv":
            data = dataset_from_csv(params.pop("path"), **params)
        else:
            data = load_dataset(choice.name, **params)
    except (TypeError, KeyError) as exc:  # settings from a damaged or foreign model file
        raise DataError(f"the settings of {choice.title()} are not valid ({exc})") from None
    return with_user_drawings(data) if include_drawings else data


def with_user_drawings(data: Dataset) -> Dataset:
    """``data`` with the user's kept drawings appended to its training samples.

    Only for 28×28 digit sets with an official test split (MNIST), so drawings never leak
    into the test set. Raises core.data.DataError otherwise or when the store is unreadable.
    """
    from dataclasses import replace as replace_fields

    import numpy as np

    from core.data import DataError
    from nnstudio.state.user_dataset import UserDrawings

    if data.y_test is None or int(np.prod(data.input_shape)) != 28 * 28 or data.n_classes != 10:
        raise DataError(f"your drawings are 28×28 digits: they can only join MNIST-like data, not {data.name}")
    images, labels = UserDrawings.load().as_arrays()
    if not len(labels):
        return data
    extra = images.reshape(len(images), *data.input_shape).astype(data.x.dtype)
    return replace_fields(data, x=np.concatenate([data.x, extra]), y=np.concatenate([data.y, labels]),
                          description=f"{data.description} Plus {len(labels):,} of your drawings.")


def initial_state() -> DocumentState:
    """What a new window and File ▸ New start with: the "MNIST MLP" preset when MNIST is on
    this computer, otherwise ``default_state`` on the bundled 8×8 digits — ready to train."""
    from core.data import find_mnist

    if find_mnist() is not None:
        for preset in load_presets():
            if preset.key == MNIST_DEFAULT_PRESET:
                return preset.state()
    return default_state()
