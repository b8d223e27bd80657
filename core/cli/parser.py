"""The argument parser: one subcommand per command module, one-line usage errors."""

from __future__ import annotations

import argparse
import os
import sys

from core.cli.datasets import DEFAULT_TEST_SPLIT
from core.cli.demo import DEMO_TRAINING, cmd_demo
from core.cli.errors import EXIT_USAGE
from core.cli.evaluate import cmd_evaluate
from core.cli.export import cmd_export, cmd_import_weights
from core.cli.predict import cmd_predict
from core.cli.summary import cmd_summary
from core.cli.train import PRESETS, cmd_train


def program_name() -> str:
    argv0 = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return "python -m core" if argv0 in ("__main__.py", "-m", "") else "nnstudio-cli"


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``prog: error: message (see 'prog --help')``."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser(prog: str = "nnstudio-cli") -> argparse.ArgumentParser:
    parser = _Parser(prog=prog, description="nnstudio's engine from the command line: train, evaluate, "
                                            "predict, summarise, demo, export.")
    parser.set_defaults(command=None)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("train", help="train a network spec (JSON) or a preset on a dataset")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("spec", nargs="?", metavar="SPEC.json", help="network spec file (JSON)")
    src.add_argument("--preset", choices=sorted(PRESETS), help="a built-in network instead of a spec file")
    _add_dataset_options(p, required=False)
    p.add_argument("--epochs", type=int, help="passes over the training set")
    p.add_argument("--batch-size", type=int, help="samples per update")
    p.add_argument("--validation-split", type=float, help="fraction held out to watch for overfitting")
    p.add_argument("--test-split", type=float, help=f"fraction held out for the final test (default "
                                                    f"{DEFAULT_TEST_SPLIT}; ignored for MNIST)")
    p.add_argument("--learning-rate", type=float, help="override the optimizer's learning rate")
    p.add_argument("--seed", type=int, help="override the spec's seed (weights, shuffling, split)")
    p.add_argument("-o", "--output", required=True, metavar="MODEL.nnz", help="where to save the model")
    p.set_defaults(handler=cmd_train)

    p = sub.add_parser("evaluate", help="accuracy, loss, per-class report and confusion matrix")
    p.add_argument("model", metavar="MODEL.nnz")
    _add_dataset_options(p, required=False, default_help="the model's own dataset")
    p.add_argument("--split", choices=("test", "validation", "train", "all"), default="test",
                   help="which part of the dataset (the same seeded split as in training; default test)")
    p.set_defaults(handler=cmd_evaluate)

    p = sub.add_parser("predict", help="predicted classes for IDX images or CSV rows")
    p.add_argument("model", metavar="MODEL.nnz")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--idx", nargs="+", metavar="FILE", help="IDX images file, optionally followed by its labels file")
    src.add_argument("--csv", metavar="FILE", help="CSV file, one sample per row")
    p.add_argument("--label-column", default=None, metavar="C",
                   help="CSV label column: 0-based index (negative from the end) or header name (default: last)")
    p.add_argument("--no-labels", action="store_true", help="the CSV has feature columns only")
    p.add_argument("--no-preprocessing", action="store_true",
                   help="inputs are already scaled (do not apply the model's stored preprocessing)")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="print only the first N predictions")
    p.add_argument("--proba", action="store_true",
                   help="also print each class's probability for every sample (one column per class)")
    p.set_defaults(handler=cmd_predict)

    p = sub.add_parser("summary", help="layers, output shapes and parameter counts")
    p.add_argument("file", metavar="MODEL.nnz|SPEC.json")
    p.set_defaults(handler=cmd_summary)

    p = sub.add_parser("export", help="export a model to ONNX, a PyTorch project and/or a NumPy script, "
                                      "each checked against the engine")
    p.add_argument("model", metavar="MODEL.nnz")
    p.add_argument("--onnx", metavar="OUT.onnx", help="write an ONNX model file")
    p.add_argument("--pytorch", metavar="DIR", help="write a PyTorch project (model.py, train.py, weights) to DIR")
    p.add_argument("--numpy", metavar="DIR", help="write a NumPy-only predict.py and weights.npz to DIR")
    _add_dataset_options(p, required=False, default_help="the model's own dataset when it is on this computer, "
                                                         "else random inputs")
    p.set_defaults(handler=cmd_export)

    p = sub.add_parser("import-weights", help="load trained weights (.npz, e.g. from an exported train.py) into "
                                              "a model and save it as a new model file")
    p.add_argument("model", metavar="MODEL.nnz", help="the model the weights were exported from")
    p.add_argument("weights", metavar="WEIGHTS.npz")
    p.add_argument("-o", "--output", required=True, metavar="NEW.nnz", help="where to save the model with the weights")
    p.set_defaults(handler=cmd_import_weights)

    p = sub.add_parser("demo", help="a short training run on the bundled 8x8 digits")
    p.add_argument("--epochs", type=int, default=DEMO_TRAINING["epochs"], help="epochs to train (default %(default)s)")
    p.add_argument("-o", "--output", metavar="MODEL.nnz", help="also save the trained model here")
    p.set_defaults(handler=cmd_demo)
    return parser


def _add_dataset_options(p: argparse.ArgumentParser, required: bool, default_help: str = "") -> None:
    help_text = "dataset name: xor, digits8x8, mnist, circles, moons, spirals, blobs, xor-cloud"
    if default_help:
        help_text += f" (default: {default_help})"
    p.add_argument("--dataset", required=required, metavar="NAME", help=help_text)
    p.add_argument("--dataset-option", action="append", default=[], metavar="KEY=VALUE",
                   help="dataset parameter, e.g. noise=0.2 or layout=image (repeatable)")
    p.add_argument("--download", action="store_true",
                   help="download MNIST (about 11.6 MB) if it is not on this computer; or set NNSTUDIO_DATA to a "
                        "folder that holds it")
