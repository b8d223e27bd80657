"""Glue between the drawing canvas and a network: which model predicts, and how.

No Qt and no maths here: the canvas array goes through core's preprocessing
(:func:`core.data.drawing.to_network_input`, the same recipe the dataset used), then the
network's ``predict_proba``. The widgets only display what comes back.

Which model predicts (:func:`choose_predictor`): the document's ``snapshot`` (a weights-only
copy, never the live network a worker may be training) when its input fits a drawing
((784,), (1, 28, 28), (64,) or (1, 8, 8)); otherwise the shipped MNIST CNN
(``resources/models/mnist_cnn.nnz``), loaded once per process.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core import ModelFileError, Network, load_model
from core.data.drawing import mode_for_input_shape, sample_as_image, sample_to_network_input, to_network_input
from core.resource_files import resource_file

SHIPPED_MODEL = "models/mnist_cnn.nnz"

_shipped_lock = threading.Lock()
_shipped: dict[str, object] = {}


def shipped_model() -> Network | None:
    """The shipped MNIST CNN, loaded on first call and shared (predicting does not change
    it). None when the file is missing or unreadable; :func:`shipped_model_error` says why."""
    with _shipped_lock:
        if "network" not in _shipped:
            try:
                with resource_file(SHIPPED_MODEL) as path:
                    _shipped["network"] = load_model(path)
                _shipped["error"] = ""
            except (FileNotFoundError, ModelFileError, OSError) as exc:
                _shipped["network"] = None
                _shipped["error"] = str(exc)
        return _shipped["network"]  # type: ignore[return-value]


def shipped_model_error() -> str:
    """Why :func:`shipped_model` returned None ("" when it loaded)."""
    shipped_model()
    return str(_shipped.get("error", ""))


@dataclass(frozen=True)
class Predictor:
    """A network that can read drawings, with what the UI says about it.

    ``mode``: "mnist" or "digits8x8" (the drawing recipe); ``description``: e.g.
    "Shipped model (MNIST CNN, 99.3% test)" or "Your network (epoch 3)".
    """

    network: Network
    mode: str
    description: str
    class_names: tuple[str, ...]
    shipped: bool

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.network.input_shape)


@dataclass(frozen=True)
class Prediction:
    """One prediction. probabilities: (k,) float; network_input: the exact tensor the network
    received, as an image (28, 28) or (8, 8) float32 in [0, 1]; seconds: preprocessing plus
    prediction time."""

    probabilities: np.ndarray
    network_input: np.ndarray
    class_names: tuple[str, ...]
    seconds: float

    @property
    def top(self) -> int:
        return int(np.argmax(self.probabilities))

    @property
    def top_name(self) -> str:
        return self.class_names[self.top]

    @property
    def confidence(self) -> float:
        return float(self.probabilities[self.top])

    def text(self) -> str:
        """e.g. "7 — 98.6%" (">99.9%" rather than a rounded, overconfident "100.0%")."""
        percent = 100 * self.confidence
        return f"{self.top_name} — {'>99.9' if percent >= 99.95 else f'{percent:.1f}'}%"


def _class_names(network: Network) -> tuple[str, ...]:
    k = int(network.output_shape[0])
    names = network.metadata.get("class_names")
    if isinstance(names, list) and len(names) == k:
        return tuple(str(n) for n in names)
    return tuple(str(i) for i in range(k))


def shipped_description(network: Network) -> str:
    accuracy = network.metadata.get("test_accuracy")
    if isinstance(accuracy, (int, float)):
        return f"Shipped model (MNIST CNN, {100 * accuracy:.1f}% test)"
    return "Shipped model (MNIST CNN)"


def user_description(network: Network, path: Path | None = None) -> str:
    """"Your network (epoch 3)", "Your network (untrained)" or "digits.nnz (epoch 3)"."""
    epochs = network.epochs_done
    when = f"epoch {epochs}" if epochs else "untrained"
    name = path.name if path is not None else "Your network"
    return f"{name} ({when})"


def predictor_for(network: Network | None, description: str = "", shipped: bool = False) -> Predictor | None:
    """A Predictor for ``network`` when its input fits a drawing, else None."""
    if network is None or network.input_shape is None:
        return None
    mode = mode_for_input_shape(tuple(network.input_shape))
    if mode is None or len(network.output_shape) != 1:
        return None
    return Predictor(network, mode, description, _class_names(network), shipped)


def choose_predictor(snapshot: Network | None, document_path: Path | None = None) -> Predictor | None:
    """The document's snapshot when it can read drawings, else the shipped model (None when
    that is missing too)."""
    if snapshot is not None:
        own = predictor_for(snapshot, user_description(snapshot, document_path))
        if own is not None:
            return own
    shipped = shipped_model()
    if shipped is None:
        return None
    return predictor_for(shipped, shipped_description(shipped), shipped=True)


def predict_drawing(predictor: Predictor, image: np.ndarray) -> Prediction | None:
    """Canvas image (H, W) in [0, 1] -> Prediction, or None for an empty drawing."""
    start = time.perf_counter()
    network = predictor.network
    made = to_network_input(image, predictor.input_shape, network.metadata.get("preprocessing"))
    if made is None:
        return None
    x, preview = made
    probabilities = network.predict_proba(x)[0]
    return Prediction(probabilities, preview, predictor.class_names, time.perf_counter() - start)


def predict_sample(predictor: Predictor, sample: np.ndarray) -> Prediction:
    """A dataset sample that already is a network input ((28, 28), (8, 8) or flat, values
    as the dataset made them) -> Prediction. Raises core.data.DataError when it does not fit."""
    start = time.perf_counter()
    x = sample_to_network_input(sample, predictor.input_shape)
    probabilities = predictor.network.predict_proba(x)[0]
    return Prediction(probabilities, sample_as_image(x), predictor.class_names, time.perf_counter() - start)
