"""Every export checks itself: run the exported model beside the engine and compare.

An exporter writes its files, then runs the exported model on the same inputs as the engine
(200 samples of the model's dataset, or random inputs of the right shape when there is none)
with the target runtime when it is importable, and returns an ``ExportCheck``: the largest
probability difference, the argmax agreement, and one line for the export dialog and the CLI.
When the runtime is not installed the check says so and how to install it (``ran`` False).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Largest probability difference an export may show and still be called the same model.
TOLERANCE = 1e-5
#: Inputs an export is checked on.
CHECK_SAMPLES = 200


@dataclass(frozen=True)
class ExportCheck:
    """The outcome of running an export beside the engine.

    target: what ran the export ("ONNX (onnxruntime 1.23)", "PyTorch 2.13", "NumPy script");
    ran: False when the runtime is not installed (then ``message`` says how to install it);
    samples: inputs compared; max_prob_diff: max |p_engine - p_export| over all of them;
    agreement: fraction of samples whose argmax class agrees.
    """

    target: str
    ran: bool
    samples: int = 0
    max_prob_diff: float = float("nan")
    agreement: float = float("nan")
    message: str = ""

    @property
    def ok(self) -> bool:
        """True when the export ran and matches the engine (green line); False otherwise."""
        return self.ran and self.max_prob_diff <= TOLERANCE and self.agreement == 1.0


def check_inputs(input_shape: tuple[int, ...], x: np.ndarray | None = None, n: int = CHECK_SAMPLES,
                 seed: int = 0) -> np.ndarray:
    """Inputs to check an export on: the first ``n`` rows of ``x`` (samples of the model's
    dataset, shape (m, *input_shape)) or, without data, ``n`` uniform [0, 1) samples
    (n, *input_shape) from a fixed seed. float32, C-contiguous."""
    if x is not None and len(x):
        return np.ascontiguousarray(np.asarray(x)[:n], dtype=np.float32)
    rng = np.random.default_rng(seed)
    return rng.random((n, *input_shape), dtype=np.float32)


def compare(target: str, engine_probs: np.ndarray, export_probs: np.ndarray) -> ExportCheck:
    """Compare two (n, k) probability arrays and phrase the result."""
    engine_probs = np.asarray(engine_probs, dtype=np.float64)
    export_probs = np.asarray(export_probs, dtype=np.float64)
    if engine_probs.shape != export_probs.shape:
        return ExportCheck(target, True, len(engine_probs), float("inf"), 0.0,
                           f"✗ {target} gives outputs of shape {export_probs.shape}, the engine {engine_probs.shape}")
    n = len(engine_probs)
    diff = float(np.max(np.abs(engine_probs - export_probs))) if n else 0.0
    if engine_probs.ndim == 2 and engine_probs.shape[1] > 1:
        same = engine_probs.argmax(axis=1) == export_probs.argmax(axis=1)
    else:  # one sigmoid output: class = output > 0.5
        same = (engine_probs > 0.5).reshape(n, -1).all(axis=1) == (export_probs > 0.5).reshape(n, -1).all(axis=1)
    agree = int(np.count_nonzero(same))
    result = ExportCheck(target, True, n, diff, agree / n if n else 1.0)
    mark = "✓" if result.ok else "✗"
    verdict = "matches the engine" if result.ok else "differs from the engine"
    return ExportCheck(target, True, n, diff, result.agreement,
                       f"{mark} {target} {verdict}: largest probability difference {diff:.1e}, "
                       f"same class for {agree} of {n} samples")


def not_installed(target: str, package: str) -> ExportCheck:
    """The check could not run: ``package`` is not importable."""
    return ExportCheck(target, False, message=f"not checked: {target} needs {package} "
                                              f"(pip install {package}) to run the export")
