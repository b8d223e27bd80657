"""``summary MODEL.nnz|SPEC.json``: layers, output shapes, parameter counts (and a model's
training facts)."""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

from core.cli.errors import EXIT_OK, CliError
from core.cli.spec_files import network_from_spec, read_spec
from core.network import Network
from core.saving import load_model


def cmd_summary(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.exists():
        raise CliError(f"{args.file}: no such file")
    if path.suffix.lower() == ".nnz" or (path.is_file() and zipfile.is_zipfile(path)):
        network = load_model(path)
        print(network.summary())
        print(_model_facts(network))
    else:
        spec = read_spec(args.file)
        print(network_from_spec(spec, args.file, build=False).summary())
    return EXIT_OK


def _model_facts(network: Network) -> str:
    meta = network.metadata
    lines = [f"Epochs trained: {network.epochs_done}   Optimizer steps: {network.optimizer.iterations}"]
    if network.history.epochs:
        last = network.history.epochs[-1]
        val = f", validation accuracy {last.val_accuracy:.4f}" if last.val_accuracy is not None else ""
        lines.append(f"Last epoch: loss {last.loss:.4g}, accuracy {last.accuracy:.4f}{val}")
    dataset = meta.get("dataset")
    if isinstance(dataset, dict) and dataset.get("name"):
        lines.append(f"Dataset: {dataset['name']}")
    if isinstance(meta.get("class_names"), list):
        lines.append(f"Classes: {', '.join(map(str, meta['class_names']))}")
    return "\n".join(lines)
