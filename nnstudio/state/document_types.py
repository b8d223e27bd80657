"""The document's Qt-free value types: what a document holds, and the state a new one starts with.

``DocumentState`` (spec, training settings, dataset choice, trained network) is what an
undoable edit replaces; ``DatasetChoice`` names the data. Presets build states from these
types, and ``nnstudio.state.document`` (the Qt document) holds one; neither is imported from
here, so imports go one way: presets -> document_types <- document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import core
from core import Network, NetworkSpec, TrainingConfig
from core.data import DataError

__all__ = ["IMPORT_FILE_KEYS", "MNIST_DEFAULT_PRESET", "DatasetChoice", "DatasetUnavailable", "DocumentState",
           "architecture_of", "default_state"]

#: Parameter keys of imported datasets that name files.
IMPORT_FILE_KEYS = {"import-csv": ("path",), "import-idx": ("images", "labels")}

#: The preset a new document uses when MNIST is available.
MNIST_DEFAULT_PRESET = "04-mnist-mlp"


class DatasetUnavailable(DataError):
    """The chosen dataset has no data to give yet: still loading in the background
    (``loading`` True), or the files a model file named could not be re-opened."""

    def __init__(self, message: str, loading: bool):
        super().__init__(message)
        self.loading = loading


@dataclass(frozen=True)
class DatasetChoice:
    """Which dataset the document trains on: a registered name and its parameters, or an
    imported file (``name`` "import", ``params`` holding the file paths)."""

    name: str = "digits8x8"
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "params": dict(self.params)}

    def key(self) -> tuple:
        """A hashable identity (the params dict itself is not hashable)."""
        return (self.name, tuple(sorted((k, repr(v)) for k, v in self.params.items())))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetChoice:
        """The choice a model file recorded; raises core.ModelFileError when its parts have
        the wrong types (the name must be text, the params a mapping with text keys)."""
        name = data.get("name", "digits8x8")
        params = data.get("params", {})
        if not isinstance(name, str) or not isinstance(params, dict) or \
                not all(isinstance(k, str) for k in params):
            raise core.ModelFileError("the dataset recorded in the file is damaged (its name must be text and its "
                                      "settings a table of named values)")
        files = [params.get(k) for k in IMPORT_FILE_KEYS.get(name, ())]
        if not all(isinstance(f, str) and f for f in files):
            raise core.ModelFileError(f"the imported dataset recorded in the file does not name its file"
                                      f"{'s' if len(files) > 1 else ''} as text")
        return cls(name, dict(params))

    def files(self) -> list[Path]:
        """The files an imported dataset reads (empty for built-in and generated sets)."""
        return [Path(str(self.params[k])) for k in IMPORT_FILE_KEYS.get(self.name, ()) if k in self.params]

    def title(self) -> str:
        """What messages call it: the (first) file name of an import, else the dataset name."""
        files = self.files()
        if files:
            return files[0].name
        from core.data import DATASETS

        info = DATASETS.get(self.name)
        return info.title.split(" (")[0] if info is not None else self.name


@dataclass(frozen=True)
class DocumentState:
    """Everything an undoable edit can change. ``network`` is the trained model or None.
    ``drawing_reader``: the shipped digit reader taught the user's handwriting ("Teach it your
    handwriting" ▸ Keep), which the Draw tab reads with when ``network`` cannot read
    drawings; saved beside the model file (``Document.save``)."""

    spec: NetworkSpec
    training: TrainingConfig
    dataset: DatasetChoice
    network: Network | None = None
    drawing_reader: Network | None = None


def architecture_of(spec: NetworkSpec) -> tuple:
    """The part of a spec that trained weights depend on (layers, input shape, dtype)."""
    return (spec.input_shape, spec.layers, spec.dtype)


def default_state() -> DocumentState:
    """A small MLP on the bundled 8×8 digits: trains in seconds, ready for Train."""
    spec = NetworkSpec.from_dict({
        "input_shape": [64],
        "layers": [{"type": "Dense", "units": 64}, {"type": "Activation", "function": "relu"},
                   {"type": "Dense", "units": 10}, {"type": "Activation", "function": "softmax"}],
        "loss": "cross_entropy", "optimizer": {"type": "Adam", "learning_rate": 0.001}, "seed": 0})
    return DocumentState(spec, TrainingConfig(epochs=30, batch_size=32, validation_split=0.1),
                         DatasetChoice("digits8x8"))
