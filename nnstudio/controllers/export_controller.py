"""File ▸ Export ▸ … and File ▸ Import trained weights…: the work behind the menu items.

An export runs in the background (``TaskRunner``, kind "export") on an inference copy of the
document's trained network, checked on up to 200 samples of the loaded dataset (random
inputs when none is loaded or it does not fit); its check line comes back through
``Document.notify``: green "success" for ✓, "error" for ✗, "warning" for "not checked: …
pip install …". Importing weights builds a fresh network from the document's spec, loads the
file into it (refused with a sentence, nothing changed, on a mismatch) and makes it the
document's trained network. Training results are not undoable edits, so the window asks
before replacing trained weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, Signal

from core import ModelFileError, Network
from core.data import DataError
from core.errors import SpecError
from core.export.targets import EXPORT_TARGETS, ExportTarget, load_function
from nnstudio.background.task_runner import TaskRunner
from nnstudio.state.document import Document

if TYPE_CHECKING:  # core.export.check (and the exporters) load when an export runs, not with the menu
    from core.export.check import ExportCheck

EXPORT_KIND = "export"


def run_export(target: ExportTarget, network: Network, path: str, x: np.ndarray | None,
               data: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[str, ExportCheck]:
    """Background job: write ``target`` to ``path`` and check it. (title line, check)."""
    exporter = load_function(target.module, target.function)
    if exporter is None:
        raise SpecError(f"this nnstudio has no {target.title} export ({target.module} is missing)")
    extra = {"data": data} if target.takes_data and data is not None else {}
    check = exporter(network, path, x, **extra)
    return f"{target.title} written to {path}", check


class ExportController(QObject):
    """Runs exports and weight imports for ``document``; ``busyChanged(bool)`` while an export runs."""

    busyChanged = Signal(bool)

    def __init__(self, document: Document, parent: QObject | None = None):
        super().__init__(parent)
        self.document = document
        self.runner = TaskRunner(self)
        self.runner.started.connect(self._on_runner_started)
        self.runner.finished.connect(self._on_runner_finished)
        self.runner.failed.connect(self._on_runner_failed)

    @staticmethod
    def target(option: str) -> ExportTarget:
        return next(t for t in EXPORT_TARGETS if t.option == option)

    def busy(self) -> bool:
        return self.runner.busy(EXPORT_KIND)

    def can_export(self) -> str:
        """Why an export cannot start now ("" when it can)."""
        if self.document.training_active:
            return "Exports are not available while training runs: stop the run first"
        if self.document.snapshot is None:
            return "Train the network (or open a trained model) first: there are no trained weights to export"
        if self.busy():
            return "An export is running"
        return ""

    def export(self, option: str, path: str) -> bool:
        """Start exporting the trained network to ``path``; False when it cannot start now."""
        snapshot = self.document.snapshot
        if self.can_export() or snapshot is None:
            return False
        network = snapshot.inference_copy()  # the job's own copy: Draw keeps using the snapshot
        target = self.target(option)
        data = self._dataset_arrays(network)
        from core.export.check import CHECK_SAMPLES

        x = data[0][:CHECK_SAMPLES] if data is not None else None
        self.runner.submit(EXPORT_KIND, run_export, target, network, path, x, data)
        self.document.notify(f"Exporting the {target.title} to {path}…", "info")
        return True

    def _dataset_arrays(self, network: Network) -> tuple[np.ndarray, np.ndarray] | None:
        """The loaded dataset as the network takes it, inputs (n, *input_shape) and labels (n,):
        its training and validation parts (never the test part): the first 200 inputs check the
        export, the PyTorch project trains on all of them; None
        (random check inputs) when no fitting dataset is loaded."""
        if self.document.loaded_dataset() is None:
            return None
        try:
            parts = self.document.splits()  # the split the Train tab trains on
        except DataError:
            return None
        x, y = parts.trainable()
        shape = tuple(network.input_shape or ())
        if not len(x) or int(np.prod(x.shape[1:])) != int(np.prod(shape)):
            return None
        return x.reshape((-1, *shape)), y

    def import_weights(self, path: str) -> bool:
        """Load the weights in ``path`` into a network of the document's spec and make it the
        document's trained network; a sentence in the message bar either way."""
        name = Path(path).name
        if self.document.training_active:
            self.document.notify("Weights cannot be imported while training runs: stop the run first", "warning")
            return False
        import_weights = load_function("core.export.weights", "import_weights")
        if import_weights is None:
            self.document.notify("This nnstudio cannot import weights (core.export.weights is missing)")
            return False
        try:
            network = Network.from_spec(self.document.spec)
            import_weights(network, path)
        except (SpecError, DataError, ModelFileError, OSError, ValueError) as exc:
            self.document.notify(f"The weights in {name} were not imported: {exc}")
            return False
        network.metadata.update(self.document.metadata_for_file())
        self.document.network_trained(network)
        count = sum(int(w.size) for w in network.get_weights().values())
        self.document.notify(f"Imported {count:,} trained weights from {name}. Save the model to keep them.",
                             "success")
        return True

    # -- background results -------------------------------------------------------------------
    def _on_runner_started(self, kind: str) -> None:
        if kind == EXPORT_KIND:
            self.busyChanged.emit(True)

    def _on_runner_finished(self, kind: str, result: object) -> None:
        if kind != EXPORT_KIND:
            return
        self.busyChanged.emit(False)
        written, check = result  # type: ignore[misc]
        level = "success" if check.ok else ("error" if check.ran else "warning")
        self.document.notify(f"{written}. {check.message}", level)

    def _on_runner_failed(self, kind: str, message: str, details: str) -> None:
        if kind != EXPORT_KIND:
            return
        self.busyChanged.emit(False)
        self.document.notify(f"The export failed: {message}", "error", details)
