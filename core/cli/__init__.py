"""Headless command line: ``python -m core ...`` (installed as ``nnstudio-cli``).

Subcommands::

    train SPEC.json --dataset NAME -o MODEL.nnz      train a network spec on a dataset
    train --preset xor|digits -o MODEL.nnz           train a built-in network
    evaluate MODEL.nnz [--dataset NAME]              accuracy, loss, per-class report, confusion
    predict MODEL.nnz --idx IMAGES [LABELS]          predicted classes for IDX images
    predict MODEL.nnz --csv FILE [--label-column C]  ... or for the rows of a CSV file
                      [--no-labels] [--proba]        (features only; each class's probability)
    summary MODEL.nnz|SPEC.json                      layers, shapes, parameter counts
    demo                                             a short training run on the 8x8 digits
    export MODEL.nnz [--onnx OUT.onnx] [--pytorch DIR] [--numpy DIR] [--dataset NAME]
                                                     exports, each checked against the engine
    import-weights MODEL.nnz WEIGHTS.npz -o NEW.nnz  load trained weights into a model

Exit codes: 0 success; 2 bad usage or bad input (one sentence on stderr, no traceback);
1 training diverged, an export differs from the engine, or an unexpected error;
130 interrupted (Ctrl+C); 141 the reader of stdout stopped early (``| head``), silently.

Progress goes to stderr: a bar redrawn at most ~10 times a second when stderr is a
terminal, otherwise one line per epoch. Results go to stdout.

One module per command (``train``, ``evaluate``, ``predict``, ``summary``, ``demo``, ``export``
with ``import-weights``), each with
a ``cmd_<name>(args) -> exit code``; shared: ``parser`` (the subcommands and their options),
``run`` (``main``: every failure becomes one line and an exit code), ``errors`` (exit codes,
:class:`CliError`), ``spec_files`` (the user's spec, text and output files), ``datasets``
(``--dataset``), ``fit`` (the network↔dataset check, input reshaping, class names) and
``progress`` (training with a progress display). To add a command: a module with its
``cmd_<name>``, and its subparser in ``parser.build_parser``.
"""

from __future__ import annotations

from core.cli.errors import EXIT_BROKEN_PIPE, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, CliError
from core.cli.parser import build_parser
from core.cli.progress import Progress
from core.cli.run import main
from core.cli.train import PRESETS

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "PRESETS",
    "CliError",
    "Progress",
    "build_parser",
    "main",
]
