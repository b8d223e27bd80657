"""The Step-through view's work: trace one training step, explain a number, check gradients
numerically and apply the step — all off the GUI thread.

What is traced (``TraceRequest.source``):

- ``"batch"``: the next batch of training. While a run is paused, the batch the run trains
  next, on the run's own network: ``TrainingController.inspect_next_batch`` copies the
  network and the batch in the training thread (the run's network is never read from
  another thread) and the copy is traced here. With no run, batch ``k`` of the training
  split in an order shuffled once with the document's seed (its own generator: looking
  never changes the network's).
- ``"sample"``: row ``index`` of the document's dataset (training data), with its label.
- ``"drawing"``: the Draw tab's canvas, preprocessed exactly as the Draw tab does for this
  network (``core.data.drawing.to_network_input``), with the label the user gives.

The document's network (``Document.network_for_training``, what Train would train, built
fresh when the spec has never been trained) is deep-copied in the GUI thread (a millisecond)
and the copy is traced in the ``TaskRunner``'s thread. "Apply" then runs ``trace.apply()``
on that copy (bit-identical to training the batch) and hands it to the document as its
network (``Document.network_trained``: a real change of the weights, marked unsaved),
unless the document's network changed meanwhile. For a paused run, "Apply" is the run's own
``step_batch()``, which trains exactly the traced batch, so the run continues as if nobody
had looked.

Signals (GUI thread): ``traced(TraceResult)``, ``explained(Explanation)``,
``checked(CheckResult)``, ``applied(TraceResult)`` (the step that was applied),
``problem(str)`` (a sentence for the view), and the ``BackgroundWork`` vocabulary of the
runner (kinds ``"trace"``, ``"formula"``, ``"check"``, ``"apply"``).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

import core
from core.data import DataError
from core.data.drawing import mode_for_input_shape, to_network_input
from nnstudio.background.task_runner import TaskRunner
from nnstudio.background.work import BackgroundWork
from nnstudio.controllers.training_controller import IDLE, PAUSED, TrainingController
from nnstudio.state.document import Document

if TYPE_CHECKING:
    from core.analysis.trace import StepTrace
    from core.analysis.trace_views import GridPanel, Stage

# The tracing, formula and gradient-check machinery (core.analysis: exact_sums, formulas,
# finite_differences, trace_views, walkthrough) is imported by the jobs that use it, the
# first time the user traces a step: the app's first window does not pay for it.

__all__ = ["CheckResult", "Explanation", "StepThroughController", "TraceRequest", "TraceResult", "drawing_problem"]

#: Errors that are about the user's input or network, shown as they are.
_USER_ERRORS = (core.TrainingError, core.SpecError, core.ShapeError, DataError)


@dataclass(frozen=True)
class TraceRequest:
    """What to trace: ``source`` "batch" | "sample" | "drawing"; ``index``: the batch number
    (idle "batch") or dataset row ("sample"); ``label``: the drawing's label; ``image``: the
    canvas (H, W) in [0, 1] for "drawing"; ``sample``: the batch row the panels show."""

    source: str
    index: int = 0
    label: int = 0
    image: np.ndarray | None = None
    sample: int = 0


@dataclass(frozen=True)
class TraceResult:
    """A traced step and what the view shows of it. ``origin``: "document" or "run";
    ``base``: the document network the traced copy was made from (None for a run);
    ``description``: e.g. "batch 3 of the training data (32 samples)"; ``seconds``: trace +
    views; ``walkthrough``: the seed article's steps when they apply, else None."""

    request: TraceRequest
    trace: StepTrace
    stages: list[Stage]
    network: Any
    origin: str
    base: Any
    description: str
    class_names: tuple[str, ...]
    seconds: float
    walkthrough: list | None = None

    @property
    def batch_size(self) -> int:
        return int(self.trace.targets.shape[0])


@dataclass(frozen=True)
class Explanation:
    """A clicked number's formula (``core.analysis.formulas.Formula``) and, for a Conv2D or
    pooling output, its input window (and kernel, and their products) as grid panels
    (``window``, maybe empty); ``winner``: for MaxPool2D, the index in the window panel of
    the input that won; ``outline``: (channels, (row, col) of the window's top-left (negative
    in the padding), (height, width)): where the window lies in the layer's input."""

    pick: Any
    formula: Any
    window: tuple[GridPanel, ...]
    winner: tuple[int, ...] | None = None
    outline: tuple[tuple[int, ...], tuple[int, int], tuple[int, int]] | None = None


@dataclass(frozen=True)
class CheckResult:
    """``finite_difference_check`` of one layer: ``rows`` are its FiniteDifference records."""

    layer: int
    title: str
    rows: tuple
    seconds: float


def drawing_problem(input_shape: tuple[int, ...] | None) -> str | None:
    """Why a drawing cannot feed a network of this input shape (None when it can)."""
    if input_shape is None or mode_for_input_shape(tuple(input_shape)) is None:
        return (f"a drawing feeds networks whose input is a 28×28 or 8×8 image, not {tuple(input_shape or ())}: "
                "pick a sample instead")
    return None


# ------------------------------------------------------------------------------------ jobs (pool)
def _stages_and_extras(trace: StepTrace, sample: int, class_names: tuple[str, ...]) -> tuple[list[Stage], list | None]:
    from core.analysis.trace_views import build_stages, walkthrough_fits
    from core.analysis.walkthrough import seed_walkthrough

    stages = build_stages(trace, sample, class_names)
    walkthrough = None
    if trace.targets.shape[0] == 1 and walkthrough_fits(layer.type for layer in trace.layers):
        try:
            walkthrough = list(seed_walkthrough(trace))
        except _USER_ERRORS:
            walkthrough = None
    return stages, walkthrough


def _trace_job(request: TraceRequest, network: Any, x: np.ndarray, y: np.ndarray, origin: str, base: Any,
               description: str, class_names: tuple[str, ...]) -> TraceResult:
    from core.analysis.exact_sums import one_blas_thread

    start = time.perf_counter()
    with one_blas_thread():  # as training runs on small machines; the formulas recompute under the same
        trace = core.trace_step(network, x, y)
        stages, walkthrough = _stages_and_extras(trace, request.sample, class_names)
    return TraceResult(request, trace, stages, network, origin, base, description, class_names,
                       time.perf_counter() - start, walkthrough)


def _drawing_trace_job(request: TraceRequest, network: Any, base: Any, class_names: tuple[str, ...]) -> TraceResult:
    """Preprocess the canvas as the Draw tab does, then trace it."""
    assert request.image is not None
    made = to_network_input(request.image, tuple(network.input_shape), network.metadata.get("preprocessing"))
    if made is None:
        raise DataError("the canvas is empty: draw a digit in the Draw tab first")
    x, _preview = made
    label = np.array([request.label])
    name = class_names[request.label] if request.label < len(class_names) else str(request.label)
    return _trace_job(request, network, x.astype(network.dtype), label, "document", base,
                      f"your drawing, labelled {name}", class_names)


def _restage_job(result: TraceResult, sample: int) -> TraceResult:
    from dataclasses import replace

    from core.analysis.trace_views import build_stages

    start = time.perf_counter()
    stages = build_stages(result.trace, sample, result.class_names)
    return replace(result, request=replace(result.request, sample=sample), stages=stages,
                   seconds=time.perf_counter() - start)


def _explain_job(trace: StepTrace, pick: Any) -> Explanation:
    from core.analysis.exact_sums import one_blas_thread
    from core.analysis.formulas import explain
    from core.analysis.trace_views import grid_panel

    with one_blas_thread():  # the thread count the step was traced with
        formula = explain(trace, pick)
    window = formula.window or {}
    titles = {"input": "input window", "kernel": "kernel", "products": "input × kernel"}
    panels = []
    for name, title in titles.items():
        values = window.get(name)
        if values is not None and np.ndim(values) >= 2:
            values = np.asarray(values, dtype=np.float64)
            panels.append(grid_panel(title, pick.layer, None, values if values.ndim == 3 else values[None]))
    winner = window.get("winner")
    outline = None
    if "origin" in window and "input" in window and pick.quantity == "output":
        seen = np.asarray(window["input"])
        channels = tuple(range(seen.shape[0])) if seen.ndim == 3 else (int(pick.index[0]),)
        origin = tuple(int(v) for v in np.asarray(window["origin"]).reshape(-1))
        outline = (channels, (origin[0], origin[1]), (int(seen.shape[-2]), int(seen.shape[-1])))
    return Explanation(pick, formula, tuple(panels),
                       None if winner is None else (0, *(int(v) for v in np.asarray(winner).reshape(-1))), outline)


def _check_job(network: Any, x: np.ndarray, targets: np.ndarray, layer: int, title: str) -> CheckResult:
    from core.analysis.finite_differences import finite_difference_check

    start = time.perf_counter()
    rows = tuple(finite_difference_check(network, x, targets, layer))
    return CheckResult(layer, title, rows, time.perf_counter() - start)


def _apply_job(result: TraceResult) -> TraceResult:
    result.trace.apply()  # the traced copy trains the batch: bit-identical to fit
    return result


# ------------------------------------------------------------------------------------ controller
class _RunRelay(QObject):
    """Lives in the GUI thread; ``captured`` is emitted from the training thread (queued)."""

    captured = Signal(object)

    def capture(self, network: Any, x: np.ndarray, targets: np.ndarray) -> None:
        # Runs in the training thread while the loop waits: copy, hand over, touch nothing.
        self.captured.emit((copy.deepcopy(network), np.array(x), np.array(targets)))


class StepThroughController(BackgroundWork):
    """Traces steps of ``document``'s network (or of ``training``'s paused run) off the GUI
    thread; see the module docstring."""

    traced = Signal(object)
    explained = Signal(object)
    checked = Signal(object)
    applied = Signal(object)
    problem = Signal(str)

    def __init__(self, document: Document, training: TrainingController, parent: QObject | None = None):
        super().__init__(parent)
        self.setObjectName("stepThroughController")
        self._document = document
        self._training = training
        self.runner = TaskRunner(self)
        self.runner.started.connect(self.started)
        self.runner.finished.connect(self._on_runner_finished)
        self.runner.failed.connect(self._on_runner_failed)
        self._relay = _RunRelay(self)
        self._relay.captured.connect(self._on_relay_captured)
        self._pending_run_request: TraceRequest | None = None
        self._order: tuple[tuple, np.ndarray] | None = None
        self.result: TraceResult | None = None
        self.last_check: CheckResult | None = None
        self.last_explanation: Explanation | None = None

    # -- state ------------------------------------------------------------------------------------
    @property
    def run_paused(self) -> bool:
        return self._training.state == PAUSED

    def busy(self) -> bool:
        return self.runner.busy() or self._pending_run_request is not None

    def class_names(self, network: Any = None) -> tuple[str, ...]:
        network = network if network is not None else self._document.snapshot
        k = int(network.output_shape[0]) if network is not None and network.built else 0
        names = network.metadata.get("class_names") if network is not None else None
        if isinstance(names, list) and len(names) == k:
            return tuple(str(n) for n in names)
        try:
            data = self._document.loaded_dataset()
        except DataError:
            data = None
        if data is not None and len(data.class_names) == k:
            return tuple(str(n) for n in data.class_names)
        return tuple(str(i) for i in range(k))

    def why_not(self, source: str) -> str | None:
        """Why ``source`` cannot be traced now (a sentence), or None."""
        state = self._training.state
        if state not in (IDLE, PAUSED):
            return "training is running: pause it to trace the batch it trains next"
        if source == "drawing":
            return drawing_problem(tuple(self._document.spec.input_shape))
        return None

    # -- commands ---------------------------------------------------------------------------------
    def trace(self, request: TraceRequest) -> bool:
        """Trace ``request`` in the background (``traced`` or ``problem`` follows). False,
        with ``problem`` emitted, when it cannot start."""
        why = self.why_not(request.source)
        if why is not None:
            self.problem.emit(f"Cannot trace: {why}.")
            return False
        if request.source == "batch" and self.run_paused:
            self._pending_run_request = request
            if not self._training.inspect_next_batch(self._relay.capture):
                self._pending_run_request = None
                self.problem.emit("Cannot trace: the run is not paused any more.")
                return False
            self.started.emit("trace")
            return True
        doc = self._document
        try:
            network = doc.network_for_training()
            base = network
            copy_net = copy.deepcopy(network)
            names = self.class_names(copy_net)
            if request.source == "drawing":
                if request.image is None:
                    raise DataError("the canvas is empty: draw a digit in the Draw tab first")
                self.runner.submit("trace", _drawing_trace_job, request, copy_net, base, names)
                return True
            if request.source == "sample":
                data = doc.dataset()
                n = len(data.y)
                i = min(max(int(request.index), 0), n - 1)
                x, y = data.x[i:i + 1], data.y[i:i + 1]
                label = int(y[0])
                description = f"sample {i:,} of {data.name} (label {names[label] if label < len(names) else label})"
            else:
                splits = doc.splits()
                batch_size = doc.training.batch_size
                order = self._training_order(len(splits.y_train))
                batches = max(1, -(-len(order) // batch_size))
                k = int(request.index) % batches
                idx = order[k * batch_size:(k + 1) * batch_size]
                x, y = splits.x_train[idx], splits.y_train[idx]
                description = f"batch {k + 1:,} of {batches:,} of the training data ({len(idx)} samples)"
        except _USER_ERRORS as exc:
            self.problem.emit(f"Cannot trace: {exc}")
            return False
        self.runner.submit("trace", _trace_job, request, copy_net, np.asarray(x, copy_net.dtype), y, "document",
                           base, description, names)
        return True

    def show_sample(self, sample: int) -> None:
        """Show batch row ``sample`` of the current trace (panels rebuilt in the background)."""
        if self.result is not None:
            self.runner.submit("trace", _restage_job, self.result, int(sample))

    def explain(self, pick: Any) -> None:
        """Explain one number of the current trace (``explained`` follows)."""
        if self.result is not None:
            self.runner.submit("formula", _explain_job, self.result.trace, pick)

    def check(self, layer: int) -> None:
        """Finite differences for ``layer`` of the current trace (``checked`` follows)."""
        result = self.result
        if result is None:
            return
        if self.runner.busy("apply"):
            self.problem.emit("The step is being applied: check its gradients after tracing the next one.")
            return
        trace = result.trace
        record = trace.layers[layer] if 0 <= layer < len(trace.layers) else None
        title = f"layer {layer + 1} · {record.description}" if record is not None else "the loss"
        # The traced copy may be applied later: check a copy of it as it was traced.
        network = copy.deepcopy(result.network) if not trace.applied else None
        if network is None:
            self.problem.emit("This step was applied already: trace again to check its gradients.")
            return
        self.runner.submit("check", _check_job, network, trace.layers[0].input, trace.targets,
                           max(layer, 0), title)

    def apply(self) -> bool:
        """Train the traced step (see the module docstring). False, with ``problem``, when it
        cannot be applied (stale, applied already, a run that is not paused)."""
        result = self.result
        if result is None:
            return False
        if result.trace.applied:
            self.problem.emit("This step was applied already: trace the next one.")
            return False
        if result.origin == "run":
            if not self.run_paused:
                self.problem.emit("The run is not paused any more: this step cannot be applied.")
                return False
            self._training.step_batch()  # trains exactly the traced batch, then pauses again
            self.applied.emit(result)
            return True
        if self._document.training_active or self._document.network is not result.base:
            self.problem.emit("The network changed since this step was traced: trace it again.")
            return False
        self.runner.submit("apply", _apply_job, result)
        return True

    # -- internals --------------------------------------------------------------------------------
    def _training_order(self, n: int) -> np.ndarray:
        """The idle "next batch" order: the training rows shuffled once with the document's seed."""
        key = (n, self._document.spec.seed)
        if self._order is None or self._order[0] != key:
            self._order = (key, np.random.default_rng([self._document.spec.seed, 0x57E9]).permutation(n))
        return self._order[1]

    @Slot(object)
    def _on_relay_captured(self, captured: tuple) -> None:
        request = self._pending_run_request
        self._pending_run_request = None
        if request is None:
            return
        network, x, targets = captured
        n = targets.shape[0]
        self.runner.submit("trace", _trace_job, request, network, x, targets, "run", None,
                           f"the next batch of the paused run ({n} sample{'s' if n != 1 else ''})",
                           self.class_names(network))

    @Slot(str, object)
    def _on_runner_finished(self, kind: str, result: object) -> None:
        if kind == "trace":
            assert isinstance(result, TraceResult)
            self.result = result
            self.traced.emit(result)
        elif kind == "formula":
            self.last_explanation = result  # type: ignore[assignment]
            self.explained.emit(result)
        elif kind == "check":
            self.last_check = result  # type: ignore[assignment]
            self.checked.emit(result)
        elif kind == "apply":
            assert isinstance(result, TraceResult)
            doc = self._document
            if doc.training_active or doc.network is not result.base:
                self.problem.emit("The network changed while the step was applied: nothing was changed.")
                return
            doc.network_trained(result.network)
            self.applied.emit(result)
        self.finished.emit(kind, result)

    @Slot(str, str, str)
    def _on_runner_failed(self, kind: str, message: str, details: str) -> None:
        what = {"trace": "trace this step", "formula": "explain this number", "check": "check these gradients",
                "apply": "apply this step"}.get(kind, kind)
        self.problem.emit(f"Could not {what}: {message}")
        self.failed.emit(kind, message, details)

    def shutdown(self, msecs: int = 30_000) -> bool:
        """Wait for background jobs (window close, tests)."""
        return self.runner.wait(msecs)
