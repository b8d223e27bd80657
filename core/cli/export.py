"""``export MODEL.nnz --onnx OUT.onnx | --pytorch DIR | --numpy DIR [--dataset NAME]``: write
one or several exports of a trained model, each followed by its self-check line; and
``import-weights MODEL.nnz WEIGHTS.npz -o NEW.nnz``: bring trained weights back.

Check inputs: 200 samples of ``--dataset`` when given, else of the model's own dataset when it
is on this computer, else random inputs of the right shape (a note on stderr says which).
Exit codes: 0 when every export was written and its check matched or could not run (the
runtime is not installed: the line says how to install it); 1 when a check ran and the
export differs from the engine; 2 for a refusal (unbuilt network, unsupported layer, bad path).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from core.cli.datasets import load_named_dataset
from core.cli.errors import EXIT_FAILED, EXIT_OK, CliError
from core.cli.fit import fit_inputs
from core.export.check import CHECK_SAMPLES, ExportCheck
from core.export.targets import EXPORT_TARGETS, load_function
from core.network import Network
from core.saving import load_model, save_model


def cmd_export(args: argparse.Namespace) -> int:
    wanted = [target for target in EXPORT_TARGETS if getattr(args, target.option)]
    if not wanted:
        raise CliError("say what to export: --onnx OUT.onnx, --pytorch DIR and/or --numpy DIR")
    network = load_model(args.model)
    data = _dataset_arrays(network, args)
    x = data[0][:CHECK_SAMPLES] if data is not None else None
    code = EXIT_OK
    for target in wanted:
        exporter = _exporter(target.module, target.function, target.title)
        path = getattr(args, target.option)
        extra = {"data": data} if target.takes_data and data is not None else {}
        check: ExportCheck = exporter(network, path, x, **extra)
        print(f"{target.title} written to {path}")
        print(f"  {check.message}", flush=True)
        if check.ran and not check.ok:
            code = EXIT_FAILED
    return code


def cmd_import_weights(args: argparse.Namespace) -> int:
    network = load_model(args.model)
    import_weights = _exporter("core.export.weights", "import_weights", "weights import")
    import_weights(network, args.weights)  # refuses with a sentence, changing nothing, on a mismatch
    note = network.metadata.setdefault("imported_weights", [])
    if isinstance(note, list):
        note.append(Path(args.weights).name)
    save_model(network, args.output)
    count = sum(int(w.size) for w in network.get_weights().values())
    print(f"{count:,} weights from {args.weights} loaded into {Path(args.model).name}; saved as {args.output}")
    return EXIT_OK


def _exporter(module: str, function: str, title: str) -> Callable[..., Any]:
    """The exporter function, imported now: torch/onnx stay unimported until an export asks."""
    found = load_function(module, function)
    if found is None:
        raise CliError(f"this nnstudio has no {title} ({module}.{function} is missing); update nnstudio")
    return found


def _dataset_arrays(network: Network, args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray] | None:
    """The dataset's training samples as the network takes them, inputs (n, *input_shape) and
    labels (n,): the first CHECK_SAMPLES inputs check every export and the PyTorch project
    trains on all of them; None (random check inputs, no bundled data) when no dataset is at hand."""
    from core.data import DataError

    stored = network.metadata.get("dataset")
    stored = stored if isinstance(stored, dict) else {}
    name = args.dataset or stored.get("name")
    if not name:
        print("note: the model names no dataset: checking on random inputs (pass --dataset NAME)", file=sys.stderr)
        return None
    same = name == stored.get("name")
    options = stored.get("params") if same and isinstance(stored.get("params"), dict) else None
    try:
        dataset, _ = load_named_dataset(name, args.dataset_option, args.download, options)
        return _training_part(network, dataset)
    except (CliError, DataError) as exc:
        if args.dataset:  # asked for by name: a failure is the user's to fix
            raise
        print(f"note: checking on random inputs ({exc})", file=sys.stderr)
        return None


def _training_part(network: Network, dataset: Any) -> tuple[np.ndarray, np.ndarray]:
    """The samples the network may train on (training + validation parts, never the test part):
    the split recorded when the model was trained (``metadata["split"]``), else the CLI's default."""
    split = network.metadata.get("split")
    split = split if isinstance(split, dict) else {}
    try:
        parts = dataset.split(int(split.get("seed", network.seed or 0)),
                              float(split.get("validation_fraction", 0.1)), float(split.get("test_fraction", 0.2)))
    except (TypeError, ValueError):
        parts = dataset.split(0)
    x, y = parts.trainable()
    return fit_inputs(network, x), y
