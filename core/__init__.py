"""nnstudio's from-scratch NumPy neural-network engine. No Qt; usable from scripts.

Public names (stable; see README "Library API"):

- ``Network`` and the layers ``Dense``, ``Activation``, ``Conv2D``, ``MaxPool2D``,
  ``Flatten``, ``Dropout``;
- ``NetworkSpec`` / ``LayerSpec`` (JSON round trip), ``analyze``;
- optimizers ``SGD``, ``Adam``; losses by name ("mse", "cross_entropy",
  "binary_cross_entropy");
- ``fit``, ``TrainingControl``, ``History`` and the report types;
- metrics ``accuracy``, ``confusion_matrix``, ``classification_report``;
- ``check_network`` (gradient check);
- model files: ``save_model``, ``load_model``, ``ModelFileError``; data: ``core.data``;
- errors ``SpecError``, ``ShapeError``, ``TrainingError``.
"""

from __future__ import annotations

#: Marker so the app can check that the ``core`` it imported is nnstudio's own.
__nnstudio_core__ = True
__version__ = "0.1.0"

from .errors import Problem, ShapeError, SpecError, TrainingError
from .layers import Activation, Conv2D, Dense, Dropout, Flatten, Layer, MaxPool2D
from .losses import LOSSES, get_loss
from .metrics import ClassificationReport, accuracy, classification_report, confusion_matrix
from .network import Network
from .optimizers import OPTIMIZERS, SGD, Adam, Optimizer
from .registry import LAYER_TYPES, layer_class
from .spec import LayerSpec, NetworkSpec, SpecAnalysis, TrainingConfig, analyze
from .training import (BatchReport, ChangeEvent, EpochReport, History, TrainingControl, TrainingResult, drive,
                       fit, run_training)
from .gradcheck import check_network
from .model_file import ModelFileError, load_model, save_model

__all__ = [
    "__nnstudio_core__", "__version__",
    "Problem", "ShapeError", "SpecError", "TrainingError",
    "Activation", "Conv2D", "Dense", "Dropout", "Flatten", "Layer", "MaxPool2D",
    "LOSSES", "get_loss",
    "ClassificationReport", "accuracy", "classification_report", "confusion_matrix",
    "Network", "OPTIMIZERS", "SGD", "Adam", "Optimizer",
    "LAYER_TYPES", "layer_class",
    "LayerSpec", "NetworkSpec", "SpecAnalysis", "TrainingConfig", "analyze",
    "BatchReport", "ChangeEvent", "EpochReport", "History", "TrainingControl", "TrainingResult", "fit",
    "run_training", "drive", "check_network",
    "ModelFileError", "load_model", "save_model",
]
