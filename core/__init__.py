"""nnstudio's from-scratch NumPy neural-network engine. No Qt; usable from scripts.

Public names (stable; see README "Library API"):

- ``Network`` and the layers ``Dense``, ``Activation``, ``Conv2D``, ``MaxPool2D``,
  ``AvgPool2D``, ``Flatten``, ``Dropout``;
- ``NetworkSpec`` / ``LayerSpec`` (JSON round trip), ``analyze``;
- optimizers ``SGD``, ``Adam``; losses by name ("mse", "cross_entropy",
  "binary_cross_entropy");
- ``fit``, ``TrainingControl``, ``History`` and the report types;
- metrics ``accuracy``, ``confusion_matrix``, ``classification_report``;
- ``check_network`` (gradient check); ``trace_step`` (one training step, traced) and
  ``explain`` / ``Pick`` / ``Formula`` / ``Term`` (the formula behind any of its numbers),
  ``finite_difference_check`` (backprop against central differences for one layer),
  ``seed_walkthrough`` (seed 1's article, one traced sample in its notation);
- model files: ``save_model``, ``load_model``, ``ModelFileError``; data: ``core.data``;
- errors ``SpecError``, ``ShapeError``, ``TrainingError``.
"""

from __future__ import annotations

#: Marker so the app can check that the ``core`` it imported is nnstudio's own.
__nnstudio_core__ = True

from typing import TYPE_CHECKING

from core.errors import Problem, ShapeError, SpecError, TrainingError
from core.layers import Activation, AvgPool2D, Conv2D, Dense, Dropout, Flatten, Layer, MaxPool2D
from core.lazy_imports import deferred_names
from core.losses import LOSSES, get_loss
from core.network import Network
from core.optimizers import OPTIMIZERS, SGD, Adam, Optimizer
from core.registry import LAYER_TYPES, layer_class
from core.saving import ModelFileError, load_model, save_model
from core.spec.analysis import SpecAnalysis, analyze
from core.spec.model import LayerSpec, NetworkSpec, TrainingConfig
from core.training.control import TrainingControl
from core.training.loop import (
    BatchReport,
    ChangeEvent,
    EpochReport,
    History,
    TrainingResult,
    drive,
    fit,
    run_training,
)
from core.version import __version__

if TYPE_CHECKING:  # imported on first use (``__getattr__`` below); type checkers see them here
    from core.analysis.finite_differences import FiniteDifference, finite_difference_check
    from core.analysis.formulas import Formula, Pick, Term, available_quantities, explain
    from core.analysis.gradcheck import check_network
    from core.analysis.metrics import ClassificationReport, accuracy, classification_report, confusion_matrix
    from core.analysis.trace import LayerTrace, OptimizerStepState, StepTrace, trace_step
    from core.analysis.walkthrough import WalkStep, seed_walkthrough

#: The analysis tools (tracing, formulas, gradient checks, metrics) by the module that
#: defines them, imported the first time one of their names is used: ``import core`` (the
#: app's first import) then costs only the engine the first window needs.
_ON_FIRST_USE: dict[str, str] = {
    **dict.fromkeys(("FiniteDifference", "finite_difference_check"), "core.analysis.finite_differences"),
    **dict.fromkeys(("Formula", "Pick", "Term", "available_quantities", "explain"), "core.analysis.formulas"),
    "check_network": "core.analysis.gradcheck",
    **dict.fromkeys(("ClassificationReport", "accuracy", "classification_report", "confusion_matrix"),
                    "core.analysis.metrics"),
    **dict.fromkeys(("LayerTrace", "OptimizerStepState", "StepTrace", "trace_step"), "core.analysis.trace"),
    **dict.fromkeys(("WalkStep", "seed_walkthrough"), "core.analysis.walkthrough"),
}

__all__ = [
    "LAYER_TYPES",
    "LOSSES",
    "OPTIMIZERS",
    "SGD",
    "Activation",
    "Adam",
    "AvgPool2D",
    "BatchReport",
    "ChangeEvent",
    "ClassificationReport",
    "Conv2D",
    "Dense",
    "Dropout",
    "EpochReport",
    "FiniteDifference",
    "Flatten",
    "Formula",
    "History",
    "Layer",
    "LayerSpec",
    "LayerTrace",
    "MaxPool2D",
    "ModelFileError",
    "Network",
    "NetworkSpec",
    "Optimizer",
    "OptimizerStepState",
    "Pick",
    "Problem",
    "ShapeError",
    "SpecAnalysis",
    "SpecError",
    "StepTrace",
    "Term",
    "TrainingConfig",
    "TrainingControl",
    "TrainingError",
    "TrainingResult",
    "WalkStep",
    "__nnstudio_core__",
    "__version__",
    "accuracy",
    "analyze",
    "available_quantities",
    "check_network",
    "classification_report",
    "confusion_matrix",
    "drive",
    "explain",
    "finite_difference_check",
    "fit",
    "get_loss",
    "layer_class",
    "load_model",
    "run_training",
    "save_model",
    "seed_walkthrough",
    "trace_step",
]


if not TYPE_CHECKING:  # (hidden from type checkers, which would then accept any core.<name>)
    __getattr__, __dir__ = deferred_names(__name__, globals(), _ON_FIRST_USE, __all__)
