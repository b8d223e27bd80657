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

Exit codes: 0 success; 2 bad usage or bad input (one sentence on stderr, no traceback);
1 training diverged or an unexpected error; 130 interrupted (Ctrl+C); 141 the reader of
stdout stopped early (``| head``), silently.

Progress goes to stderr: a bar redrawn at most ~10 times a second when stderr is a
terminal, otherwise one line per epoch. Results go to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from .compat import check_compatibility
from .errors import SpecError, TrainingError
from .evaluation import as_class_probabilities
from .layers.base import format_shape
from .metrics import classification_report, confusion_matrix
from .model_file import ModelFileError, load_model, save_model
from .network import Network
from .spec import NetworkSpec, TrainingConfig
from .training import BatchReport, ChangeEvent, EpochReport, TrainingResult, drive, run_training

__all__ = ["PRESETS", "CliError", "main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell shows for a C tool cut off by ``| head``

#: Built-in networks for ``train --preset``: spec, default dataset and training settings.
PRESETS: dict[str, dict[str, Any]] = {
    "xor": {
        "spec": {"input_shape": [2], "layers": [
            {"type": "Dense", "units": 3}, {"type": "Activation", "function": "tanh"},
            {"type": "Dense", "units": 1}, {"type": "Activation", "function": "tanh"}],
            "loss": "mse", "optimizer": {"type": "SGD", "learning_rate": 0.1}, "seed": 0},
        "dataset": "xor",
        "training": {"epochs": 1000, "batch_size": 1, "validation_split": 0.0, "shuffle": True},
        "test_split": 0.0,
    },
    "digits": {
        "spec": {"input_shape": [64], "layers": [
            {"type": "Dense", "units": 15}, {"type": "Activation", "function": "relu"},
            {"type": "Dense", "units": 10}, {"type": "Activation", "function": "sigmoid"}],
            "loss": "mse", "optimizer": {"type": "SGD", "learning_rate": 1.0}, "seed": 2},
        "dataset": "digits8x8",
        "training": {"epochs": 100, "batch_size": 15, "validation_split": 0.1, "shuffle": True},
        "test_split": 0.2,
    },
}

#: The network ``demo`` trains: a small MLP, softmax + cross-entropy, Adam.
DEMO_SPEC: dict[str, Any] = {
    "input_shape": [64], "layers": [
        {"type": "Dense", "units": 64}, {"type": "Activation", "function": "relu"},
        {"type": "Dense", "units": 10}, {"type": "Activation", "function": "softmax"}],
    "loss": "cross_entropy", "optimizer": {"type": "Adam", "learning_rate": 0.01}, "seed": 0}
DEMO_TRAINING = {"epochs": 20, "batch_size": 32, "validation_split": 0.1, "shuffle": True}

DEFAULT_TEST_SPLIT = 0.2


class CliError(Exception):
    """A user-facing failure: ``str(error)`` is printed as one line; ``code`` is the exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE):
        super().__init__(message)
        self.code = code


# ==============================================================================================
# Entry point
# ==============================================================================================
def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    parser = build_parser(_program_name())
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.handler(args) or EXIT_OK)
    except CliError as exc:
        return _fail(parser.prog, str(exc), exc.code)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return _fail(parser.prog, "interrupted; nothing was saved", EXIT_INTERRUPTED)
    except BrokenPipeError:  # the reader stopped early (``... | head``): not an error to report
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except Exception as exc:  # broad on purpose: the last line of defence for a command line
        if _data_error(exc) or isinstance(exc, (ModelFileError, SpecError, TrainingError)):
            return _fail(parser.prog, str(exc), EXIT_USAGE)
        if os.environ.get("NNSTUDIO_DEBUG"):
            raise
        return _fail(parser.prog, f"unexpected {type(exc).__name__}: {exc} (set NNSTUDIO_DEBUG=1 to see "
                                  "the traceback, and please report it)", EXIT_FAILED)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that flushing it at exit cannot raise BrokenPipeError again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout is not a real file (a test's capture)
        pass


def _fail(prog: str, message: str, code: int) -> int:
    message = " ".join(message.split())  # exactly one line
    # A hostile value such as 1e300 written out in full would flood the line: keep its ends.
    message = re.sub(r"\d{41,}", lambda m: f"{m[0][:8]}…{m[0][-4:]} ({len(m[0]):,} digits)", message)
    print(f"{prog}: error: {message}", file=sys.stderr)
    return code


def _data_error(exc: BaseException) -> bool:
    try:
        from .data import DataError
    except ImportError:  # pragma: no cover - core.data is part of core
        return False
    return isinstance(exc, DataError)


def _program_name() -> str:
    argv0 = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return "python -m core" if argv0 in ("__main__.py", "-m", "") else "nnstudio-cli"


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``prog: error: message (see 'prog --help')``."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser(prog: str = "nnstudio-cli") -> argparse.ArgumentParser:
    parser = _Parser(prog=prog, description="nnstudio's engine from the command line: train, evaluate, "
                                            "predict, summarise, demo.")
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


# ==============================================================================================
# train
# ==============================================================================================
def cmd_train(args: argparse.Namespace) -> int:
    preset = PRESETS.get(args.preset) if args.preset else None
    spec = NetworkSpec.from_dict(preset["spec"]) if preset else read_spec(args.spec)
    if args.learning_rate is not None:
        spec = spec.replace(optimizer={**dict(spec.optimizer), "learning_rate": args.learning_rate})
    if args.seed is not None:
        spec = spec.replace(seed=args.seed)
    spec = NetworkSpec.from_dict(spec.to_dict())  # re-validate the overridden settings
    base = dict(preset["training"]) if preset else TrainingConfig().to_dict()
    for key in ("epochs", "batch_size", "validation_split"):
        if getattr(args, key) is not None:
            base[key] = getattr(args, key)
    config = TrainingConfig.from_dict(base)
    test_split = args.test_split if args.test_split is not None else (
        preset["test_split"] if preset else DEFAULT_TEST_SPLIT)
    dataset_name = args.dataset or (preset["dataset"] if preset else None)
    if dataset_name is None:
        raise CliError("train needs --dataset NAME (or use --preset)")
    output = _output_path(args.output)

    network = network_from_spec(spec, args.spec or f"preset {args.preset!r}")
    dataset, options = load_named_dataset(dataset_name, args.dataset_option, args.download)
    check_compatible(network, dataset)
    splits = dataset.split(spec.seed, config.validation_split, test_split)
    network.metadata = {
        "dataset": {"name": dataset.name, "fingerprint": dataset.fingerprint(), "params": options},
        "class_names": list(dataset.class_names),
        "preprocessing": dict(dataset.preprocessing),
        "training": config.to_dict(),
        "split": {"seed": spec.seed, "validation_fraction": config.validation_split, "test_fraction": test_split},
    }
    x_train, x_val, x_test = (fit_inputs(network, a) for a in (splits.x_train, splits.x_val, splits.x_test))
    print(f"training {_describe_net(network)} on {dataset.name}: {len(x_train):,} training, "
          f"{len(x_val):,} validation, {len(x_test):,} test samples", file=sys.stderr)
    train_network(network, x_train, splits.y_train, config, (x_val, splits.y_val))
    if len(x_test):
        metrics = network.evaluate(x_test, splits.y_test)
        what = "all samples (the set is too small to split)" if dataset.split_mode == "all" else "test set"
        print(f"{what}: accuracy {metrics['accuracy']:.4f}, loss {metrics['loss']:.6g} ({len(x_test):,} samples)")
    save_model(network, output, training_config=config)
    print(f"saved {output}")
    return EXIT_OK


#: A spec file larger than this is not a network spec (a real one is a few KB); reading stops here.
MAX_SPEC_BYTES = 16 * 1024 * 1024
#: Lists and objects nest a few levels in a spec (spec > layers > layer > kernel_size); deeper
#: nesting is refused before it can exhaust Python's recursion limit.
MAX_SPEC_DEPTH = 32


def read_spec(path: str) -> NetworkSpec:
    """The NetworkSpec in the JSON file ``path``; CliError naming the file and the problem.

    Bounded work for any file: at most MAX_SPEC_BYTES are read; numbers with thousands of
    digits and nesting deeper than MAX_SPEC_DEPTH are refused with a sentence.
    """
    text = _read_text(path, "spec file", MAX_SPEC_BYTES)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"{path}: the network spec is not valid JSON (line {exc.lineno}, column {exc.colno}: "
                       f"{exc.msg})") from None
    except RecursionError:
        raise CliError(f"{path}: the JSON nests lists or objects too deeply to be a network spec "
                       f"(at most {MAX_SPEC_DEPTH} levels)") from None
    except ValueError:  # Python refuses to convert integers of more than 4,300 digits
        raise CliError(f"{path}: the JSON holds a number with thousands of digits; no setting of a "
                       "network spec is that large") from None
    if _json_depth(data, MAX_SPEC_DEPTH) > MAX_SPEC_DEPTH:
        raise CliError(f"{path}: the JSON nests lists or objects more than {MAX_SPEC_DEPTH} levels deep; "
                       "a network spec needs only a few")
    with spec_errors(path):
        return NetworkSpec.from_dict(data)


def _json_depth(value: Any, limit: int) -> int:
    """Nesting depth of parsed JSON (a scalar is 0, ``[1]`` is 1), counted without recursion
    and only up to ``limit + 1``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack and deepest <= limit:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def network_from_spec(spec: NetworkSpec, source: str, build: bool = True) -> Network:
    """``Network.from_spec`` for a spec a user gave (``source`` names it in messages); every
    way the spec can be unusable is a CliError (see :func:`spec_errors`)."""
    with spec_errors(source):
        return Network.from_spec(spec, build=build)


@contextmanager
def spec_errors(source: str) -> Iterator[None]:
    """Turn every way a user's spec can be unusable into a CliError naming ``source``.

    The engine promises SpecError for a bad spec; the other types are caught as well, only
    around parsing and building a spec the user gave, so that a hostile spec can never reach
    the user as "unexpected ... please report it".
    """
    try:
        yield
    except SpecError as exc:
        raise CliError(f"{source}: {exc}") from None
    except MemoryError:
        raise CliError(f"{source}: the network is too large to build in this computer's memory; use "
                       "fewer or smaller layers") from None
    except RecursionError:
        raise CliError(f"{source}: the network spec nests too deeply to be used") from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise CliError(f"{source}: the network spec has an invalid setting ({_first_line(exc)})") from None


def _first_line(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _read_text(path: str, what: str, max_bytes: int) -> str:
    """The UTF-8 text of ``path``; CliError if it is missing, a folder, unreadable, not text or
    larger than ``max_bytes`` (read in one bounded call, so ``/dev/zero`` cannot exhaust memory)."""
    try:
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
    except FileNotFoundError:
        raise CliError(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise CliError(f"{path}: is a folder, not a {what}") from None
    except OSError as exc:
        raise CliError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise CliError(f"{path}: is larger than {max_bytes // (1024 * 1024):,} MB, too large for a {what}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CliError(f"{path}: not a text file (expected a {what} in UTF-8)") from None


def _output_path(output: str) -> Path:
    """The model file ``-o`` names, checked before any work: its folder exists, and it is a
    regular file or new. A device or pipe is refused: an atomic save would replace the node
    itself (``-o /dev/null`` run as root once replaced /dev/null with a regular file)."""
    if not output.strip():
        raise CliError("-o needs a file name, e.g. -o model.nnz")
    path = Path(output)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise CliError(f"cannot save to {output}: the folder {folder} does not exist")
    if path.is_dir():
        raise CliError(f"cannot save to {output}: it is a folder")
    if path.exists() and not path.is_file():
        raise CliError(f"cannot save to {output}: it is a device or a pipe, not a file; choose a file name "
                       "such as model.nnz")
    return path


def load_named_dataset(name: str, option_args: Sequence[str], download: bool = False,
                       stored_options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
    """(Dataset, its parameters) for ``--dataset NAME --dataset-option K=V ...``."""
    from .data import find_mnist, load_dataset

    options = dict(stored_options or {})
    options.update(parse_options(option_args))
    if name == "mnist" and find_mnist() is None:
        if not download:
            raise CliError(mnist_missing_message())
        _download_mnist()
    return load_dataset(name, **options), options


def mnist_missing_message() -> str:
    """What to do when MNIST is not on this computer: --download, or NNSTUDIO_DATA."""
    from .data import MNIST_FILES, mnist_search_places

    places = "; ".join(str(p) for p in mnist_search_places())
    return (f"MNIST was not found on this computer (looked in: {places}). Add --download to download it "
            f"(about 11.6 MB) into nnstudio's data folder, or set NNSTUDIO_DATA to a folder that holds "
            f"{MNIST_FILES[0][0]} and the other three MNIST files")


def parse_options(items: Sequence[str]) -> dict[str, Any]:
    """``["noise=0.2", "layout=image"]`` -> ``{"noise": 0.2, "layout": "image"}`` (JSON values
    where they parse, strings otherwise)."""
    options: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CliError(f"--dataset-option needs KEY=VALUE, not {item!r}")
        try:
            options[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            options[key.strip()] = value
        except (ValueError, RecursionError):  # thousands of digits, or lists nested thousands deep
            raise CliError(f"--dataset-option {key.strip()}: the value is far too large or too deeply "
                           "nested for a dataset parameter") from None
    return options


def _download_mnist() -> None:
    from .data import download_mnist

    def progress(done: int, total: int, filename: str) -> None:
        if sys.stderr.isatty():
            print(f"\rdownloading MNIST: {done / max(total, 1):4.0%} {filename}   ", end="", file=sys.stderr,
                  flush=True)

    print("downloading MNIST (about 11.6 MB)...", file=sys.stderr)
    location = download_mnist(progress=progress)
    print(f"\rMNIST saved in {location.describe()}", file=sys.stderr)


def check_compatible(network: Network, dataset: Any, trained: bool = False) -> None:
    """CliError unless the dataset's samples and classes fit the network's input and output.

    The check is the one the app and ``core.evaluation`` make
    (:func:`core.compat.check_compatibility`), so a mismatch reads the same everywhere.
    Samples that hold as many values as the network's input in another arrangement (the
    digits as 1×8×8 images for a 64-input network) are checked as the network's shape:
    :func:`fit_inputs` reshapes them. ``trained``: the network is a trained model (evaluate).
    """
    output_classes(network)  # a single output vector per sample
    need, have = tuple(network.known_input_shape()), tuple(dataset.input_shape)
    fed = need if int(np.prod(need)) == int(np.prod(have)) else have
    problems = check_compatibility(network.to_spec(), fed, dataset.n_classes, f"dataset {dataset.name}",
                                   trained=trained)
    if problems:
        sentence = str(problems[0])
        raise CliError(sentence[:1].lower() + sentence[1:])


def fit_inputs(network: Network, x: np.ndarray) -> np.ndarray:
    """x (n, *shape) -> (n, *network.input_shape), reshaping when the sizes agree (e.g. flattening
    (n, 1, 8, 8) images for an MLP); CliError otherwise."""
    need = tuple(network.known_input_shape())
    if x.shape[1:] == need:
        return x
    if x.ndim >= 1 and int(np.prod(x.shape[1:])) == int(np.prod(need)):
        return x.reshape((x.shape[0], *need))
    raise CliError(f"inputs have shape {format_shape(x.shape[1:])} per sample but the network expects "
                   f"{format_shape(need)}")


def train_network(network: Network, x: np.ndarray, y: np.ndarray, config: TrainingConfig,
                  validation: tuple[np.ndarray, np.ndarray] | None, stream: TextIO | None = None) -> TrainingResult:
    """Run the training loop with a progress display; CliError (exit 1) if training diverges."""
    stream = stream if stream is not None else sys.stderr
    val = validation if validation is not None and len(validation[0]) else None
    progress = Progress(stream, network.epochs_done + config.epochs)
    gen = run_training(network, x, y, epochs=config.epochs, batch_size=config.batch_size,
                       validation_data=val, shuffle=config.shuffle)
    result = drive(gen, progress.update)
    progress.close()
    if result.status == "diverged":
        raise CliError(f"training diverged: {result.message}", EXIT_FAILED)
    return result


class Progress:
    """Training progress on a text stream.

    On a terminal: one bar line ``epoch 3/10 [#########.....] 62% loss 0.123`` redrawn in
    place at most every ``interval`` seconds, replaced by a line with each epoch's metrics.
    Otherwise (a file, a pipe, a CI log): only the epoch lines. Runs longer than 100 epochs
    log about 100 epoch lines (every total/100-th epoch, the first and the last).
    """

    def __init__(self, stream: TextIO, total_epochs: int, interactive: bool | None = None,
                 interval: float = 0.1, width: int = 20, clock: Callable[[], float] = time.monotonic):
        self.stream = stream
        self.total = total_epochs
        self.interactive = _isatty(stream) if interactive is None else interactive
        self.interval = interval
        self.width = width
        self.clock = clock
        self._last = -float("inf")
        self._drawn = False

    def update(self, report: BatchReport | EpochReport | ChangeEvent) -> None:
        if isinstance(report, BatchReport):
            self._batch(report)
        elif isinstance(report, EpochReport):
            self._epoch(report)
        elif isinstance(report, ChangeEvent):
            self._write_line(f"changed {report.label()} at epoch {report.progress:.2f}")

    def _batch(self, r: BatchReport) -> None:
        if not self.interactive:
            return
        now = self.clock()
        if now - self._last < self.interval:
            return
        self._last = now
        fraction = r.progress - r.epoch
        filled = round(float(fraction * self.width))
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\repoch {r.epoch + 1}/{self.total} [{bar}] {fraction:4.0%} loss {r.loss:.4g}   ")
        self.stream.flush()
        self._drawn = True

    def _epoch(self, r: EpochReport) -> None:
        text = f"epoch {r.epoch + 1}/{self.total}  loss {r.loss:.4g}  acc {r.accuracy:.4f}"
        if r.val_loss is not None:
            text += f"  val_loss {r.val_loss:.4g}  val_acc {r.val_accuracy:.4f}"
        text += f"  ({r.seconds:.2f} s)"
        if self._should_log_epoch(r.epoch + 1):
            self._write_line(text)

    def _should_log_epoch(self, epoch: int) -> bool:
        """Every epoch of runs up to 100 epochs; about 100 lines in all for longer runs."""
        step = max(1, self.total // 100)
        return epoch % step == 0 or epoch == self.total or epoch == 1

    def _write_line(self, text: str) -> None:
        prefix = "\r" if self._drawn else ""
        pad = " " * 8 if self._drawn else ""
        self.stream.write(f"{prefix}{text}{pad}\n")
        self.stream.flush()
        self._drawn = False

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


# ==============================================================================================
# evaluate
# ==============================================================================================
def cmd_evaluate(args: argparse.Namespace) -> int:
    network = load_model(args.model)
    meta = network.metadata
    stored_dataset = meta.get("dataset")
    stored: dict[str, Any] = stored_dataset if isinstance(stored_dataset, dict) else {}
    name = args.dataset or stored.get("name")
    if not name:  # (load_model refuses a stored name that is not a non-empty string)
        raise CliError(f"{args.model}: the model does not say which dataset it was trained on; pass --dataset NAME")
    same = name == stored.get("name")
    stored_options = stored.get("params") if same and isinstance(stored.get("params"), dict) else None
    dataset, _ = load_named_dataset(name, args.dataset_option, args.download, stored_options)
    check_compatible(network, dataset, trained=True)
    if same and stored.get("fingerprint") and stored["fingerprint"] != dataset.fingerprint():
        print(f"note: dataset {name!r} differs from the one the model was trained on", file=sys.stderr)
    x, y = _evaluation_part(network, dataset, args.split, same, args.model)
    x = fit_inputs(network, x)
    class_names = _stored_class_names(network, dataset.n_classes, args.model) or list(dataset.class_names)
    print(evaluation_text(network, x, y, class_names, f"{dataset.name} ({args.split}, {len(y):,} samples)"))
    return EXIT_OK


def _evaluation_part(network: Network, dataset: Any, part: str, same_dataset: bool,
                     model: str) -> tuple[np.ndarray, np.ndarray]:
    """The samples of ``part`` of ``dataset``: x (n, *input_shape), y (n,), split as the model
    file ``model`` stores it when it was trained on this dataset."""
    from .data import DataError

    if part == "all":
        return dataset.x, dataset.y
    split = network.metadata.get("split") if same_dataset else None
    if isinstance(split, dict):
        seed, vf, tf = split.get("seed", network.seed), split.get("validation_fraction", 0.1), split.get(
            "test_fraction", DEFAULT_TEST_SPLIT)
    else:
        seed, vf, tf = network.seed, 0.1, DEFAULT_TEST_SPLIT
    try:
        s = dataset.split(seed, vf, tf)
    except DataError as exc:
        if not isinstance(split, dict):
            raise
        # load_model checks each value of the stored split; this is a split whose values are each
        # fine but that this dataset cannot make (fractions that leave nothing to train on)
        raise CliError(f"{model}: the model's stored split cannot be used ({exc}); use --split all") from None
    x, y = {"test": (s.x_test, s.y_test), "validation": (s.x_val, s.y_val), "train": (s.x_train, s.y_train)}[part]
    if len(y) == 0:
        raise CliError(f"the {part} part of dataset {dataset.name!r} is empty for this model's split; "
                       "use --split all")
    return x, y


def output_classes(network: Network) -> int:
    """How many classes the network's output tells apart: its units, or 2 for one output unit."""
    if len(network.output_shape) != 1:
        raise CliError(f"the network's output has shape {format_shape(tuple(network.output_shape))}, so it "
                       "cannot name a class per sample: end it with Dense(units) and an activation")
    return max(int(network.output_shape[0]), 2)


def _stored_class_names(network: Network, k: int, model: str) -> list[str] | None:
    """The model file's class names if it holds exactly ``k`` of them; otherwise None (with a
    note on stderr when names are there but do not fit, since the file disagrees with itself)."""
    names = network.metadata.get("class_names")
    if not isinstance(names, list) or not names:
        return None
    if len(names) != k:
        print(f"note: {model} stores {len(names):,} class names for {k:,} classes; they are not used",
              file=sys.stderr)
        return None
    return [str(n) for n in names]


def evaluation_text(network: Network, x: np.ndarray, y: np.ndarray, class_names: Sequence[str], title: str) -> str:
    """Accuracy, loss, the per-class report and the confusion matrix as text.

    x: (n, *input_shape); y: (n,) int labels.
    """
    metrics = network.evaluate(x, y)
    pred = network.predict_classes(x)
    k = len(class_names)
    report = classification_report(y, pred, class_names=list(class_names))
    cm = confusion_matrix(y, pred, k)
    return "\n".join([
        f"evaluation on {title}",
        f"accuracy {metrics['accuracy']:.4f}   loss {metrics['loss']:.6g}",
        "",
        report.to_text().rstrip("\n"),
        "",
        "confusion matrix (rows: true class, columns: predicted class)",
        format_confusion(cm, class_names),
    ])


def format_confusion(cm: np.ndarray, class_names: Sequence[str]) -> str:
    """(k, k) counts as an aligned table with class names on both axes."""
    names = [str(n) for n in class_names]
    width = max(max(len(n) for n in names), len(str(int(cm.max()) if cm.size else 0)))
    label_w = max(len(n) for n in names)
    head = " " * label_w + "  " + " ".join(n.rjust(width) for n in names)
    rows = [names[i].rjust(label_w) + "  " + " ".join(str(int(v)).rjust(width) for v in cm[i])
            for i in range(len(names))]
    return "\n".join([head, *rows])


# ==============================================================================================
# predict
# ==============================================================================================
def cmd_predict(args: argparse.Namespace) -> int:
    network = load_model(args.model)
    k = output_classes(network)
    class_names = _stored_class_names(network, k, args.model) or [str(i) for i in range(k)]
    preprocessing = None if args.no_preprocessing else stored_preprocessing(network, args.model)
    if args.idx:
        raw, labels, source = _read_idx_inputs(args.idx, k)
    else:
        raw, labels, source = _read_csv_inputs(args.csv, args.label_column, args.no_labels, class_names,
                                               int(np.prod(network.input_shape or ())))
    _check_sample_size(network, raw, source, csv=bool(args.csv) and not args.no_labels)
    if preprocessing:
        from .data import apply_preprocessing

        with np.errstate(over="ignore"):  # an overflow becomes inf, refused just below
            x = apply_preprocessing(raw, preprocessing)
    else:
        x = np.asarray(raw, dtype=np.float32)
    _check_finite(x, source, scaled=bool(preprocessing))
    x = fit_inputs(network, x)
    scores, logits = network.scores(x)
    pred = network.classes_from_scores(scores, logits=logits)
    probabilities = (as_class_probabilities(network.loss.outputs_from_logits(scores) if logits else scores)
                     if args.proba else None)
    print(prediction_text(pred, labels, class_names, probabilities, args.limit,
                          f"predictions of {Path(args.model).name} for {source} ({len(pred):,} samples)"))
    return EXIT_OK


def prediction_text(pred: np.ndarray, labels: np.ndarray | None, class_names: Sequence[str],
                    probabilities: np.ndarray | None, limit: int | None, title: str) -> str:
    """One line per sample (predicted class, label, class probabilities), then the accuracy.

    pred: (n,) class indices; labels: (n,) class indices, -1 where a label is not a class of
    the model, or None; probabilities: (n, k) rows summing to 1, or None; limit: how many
    sample lines (None: all).
    """
    shown = len(pred) if limit is None else max(0, min(limit, len(pred)))
    head = "sample  predicted" + ("  label" if labels is not None else "")
    widths: list[int] = []
    if probabilities is not None:
        headers = [f"P({name})" for name in class_names]
        widths = [max(len(h), 5) for h in headers]
        head += "  " + " ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))
    lines = [title, head]
    for i in range(shown):
        line = f"{i:>6}  {_name(class_names, pred[i]):>9}"
        if labels is not None:
            line += f"  {_name(class_names, labels[i]) if labels[i] >= 0 else '?':>5}"
        if probabilities is not None:
            line += "  " + " ".join(f"{p:.3f}".rjust(w) for p, w in zip(probabilities[i], widths, strict=False))
        lines.append(line)
    if shown < len(pred):
        lines.append(f"... {len(pred) - shown:,} more (use --limit)")
    if labels is not None:
        known = labels >= 0
        if known.any():
            correct = int(np.sum(pred[known] == labels[known]))
            lines.append(f"accuracy {correct / int(known.sum()):.4f} ({correct:,} of {int(known.sum()):,})")
        if not known.all():
            lines.append(f"{int((~known).sum()):,} label(s) are not classes of this model and were not scored")
    return "\n".join(lines)


def stored_preprocessing(network: Network, model: str) -> dict[str, Any] | None:
    """The model's stored preprocessing (how raw inputs become network inputs), checked so that
    a damaged value is a CliError naming it; None when the model stores none."""
    stored = network.metadata.get("preprocessing")
    if stored is None or stored == {}:
        return None
    problem = _preprocessing_problem(stored)
    if problem:
        raise CliError(f"{model}: the model's stored preprocessing cannot be used: {problem}; if your inputs "
                       "are already scaled as the network expects, pass --no-preprocessing")
    return stored


def _preprocessing_problem(stored: dict[str, Any]) -> str | None:
    """Why ``stored`` is not preprocessing that ``core.data.apply_preprocessing`` can apply; None if it is.

    load_model has already refused preprocessing that is not an object, a scale that is not
    a finite non-zero number of at most 1e30, a layout that is not a text and an image_shape
    that is not a list of up to 3 positive integers. What it lets through and the CLI cannot
    use: a negative scale or one too small for float32 (it would flip or zero the inputs), and
    an image dimension far beyond any image.
    """
    scale = stored.get("scale", 1.0)
    if not float(np.finfo(np.float32).tiny) <= float(scale):  # a positive, normal float32
        return f"'scale' must be a positive number, not {_short(scale)}"
    shape = stored.get("image_shape", [])
    if not all(d <= 100_000 for d in shape):
        return f"'image_shape' must be a list of up to 3 whole numbers from 1 to 100,000, not {_short(shape)}"
    return None


def _short(value: Any, limit: int = 40) -> str:
    """repr of a value from a file, cut to ``limit`` characters (a hostile value can be huge)."""
    try:
        text = repr(value)
    except ValueError:  # an int too long to print
        return "a number with thousands of digits"
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _check_finite(x: np.ndarray, source: str, scaled: bool) -> None:
    """CliError naming the first sample of ``x`` (n, ...) that holds NaN or an infinity."""
    finite = np.isfinite(x.reshape(len(x), -1)).all(axis=1)
    if not finite.all():
        first = int(np.argmin(finite))
        after = " after the model's preprocessing" if scaled else ""
        raise CliError(f"{source}: sample {first} holds NaN or infinite values{after}; every input must be "
                       f"a finite number ({int((~finite).sum()):,} sample(s) affected)")


def _check_sample_size(network: Network, raw: np.ndarray, source: str, csv: bool) -> None:
    """CliError unless each sample of ``raw`` (n, ...) holds as many values as the network's input."""
    have = int(np.prod(raw.shape[1:]))
    need = int(np.prod(network.known_input_shape()))
    if have != need:
        hint = " (if the file has no label column, pass --no-labels)" if csv and have + 1 == need else ""
        raise CliError(f"{source} has {have:,} values per sample but the network takes {need:,} "
                       f"{format_shape(tuple(network.known_input_shape()))}{hint}")


def _name(class_names: Sequence[str], index: int) -> str:
    return class_names[index] if 0 <= index < len(class_names) else str(int(index))


def _read_idx_inputs(files: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray | None, str]:
    """IDX images (n, ...) and, if a labels file follows, labels (n,) as class indices
    (-1 for a label that is not one of the model's ``k`` classes)."""
    from .data import load_idx, read_idx

    if len(files) > 2:
        raise CliError("--idx takes an images file and optionally its labels file, not more")
    if len(files) == 2:
        x, y = load_idx(files[0], files[1])
        labels = np.asarray(y, dtype=np.int64)
        return x, np.where((labels >= 0) & (labels < k), labels, -1), Path(files[0]).name
    x = read_idx(files[0])
    if x.ndim < 2:
        raise CliError(f"{files[0]}: holds a 1-D array (labels?), not images")
    return x, None, Path(files[0]).name


def _read_csv_inputs(path: str, label_column: str | None, no_labels: bool, class_names: Sequence[str],
                     n_inputs: int) -> tuple[np.ndarray, np.ndarray | None, str]:
    """CSV rows -> raw inputs (n, features) and labels mapped onto the model's classes (-1 if unknown).

    Rows that all share one label are fine here (a file of one digit's samples): prediction,
    unlike training, needs no second class. ``n_inputs`` is the network's input size, used to
    suggest --no-labels when a file the label reader refuses has exactly that many columns.
    """
    if no_labels:
        if label_column is not None:
            raise CliError("--label-column and --no-labels cannot be used together")
        return _read_feature_csv(path), None, Path(path).name
    from .data import DataError, load_csv

    column: int | str = (-1 if label_column is None
                         else int(label_column) if _is_int_text(label_column) else label_column)
    try:
        x, y, csv_names = load_csv(path, label_column=column, min_classes=1)
    except DataError as exc:
        if label_column is None and _feature_columns(path) == n_inputs:
            raise CliError(f"{exc}; the file has {n_inputs:,} columns, as many as the network's inputs: if it has "
                           "no label column, pass --no-labels") from None
        raise
    index = {name: i for i, name in enumerate(class_names)}
    mapping = np.array([index.get(str(name), -1) for name in csv_names], dtype=np.int64)
    return x, mapping[y], Path(path).name


def _feature_columns(path: str) -> int | None:
    """Columns per row when ``path`` reads as a table of numbers only, else None."""
    try:
        return int(_read_feature_csv(path).shape[1])
    except CliError:
        return None


def _is_int_text(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


#: ``predict --csv --no-labels`` reads at most this much text (MNIST's 60,000 training images
#: as CSV are about 110 MB).
MAX_FEATURE_CSV_BYTES = 256 * 1024 * 1024


def _read_feature_csv(path: str) -> np.ndarray:
    """A CSV of numbers only (optionally a header row): float32 (n, columns)."""
    text = _read_text(path, "CSV file", MAX_FEATURE_CSV_BYTES)
    lines = [line for line in text.splitlines() if line.strip()]
    if lines and not all(_is_number(c) for c in lines[0].split(",")):
        lines = lines[1:]
    if not lines:
        raise CliError(f"{path}: holds no rows of numbers")
    rows = []
    for number, line in enumerate(lines, 1):
        cells = line.split(",")
        if not all(_is_number(c) for c in cells):
            raise CliError(f"{path}: row {number} holds something that is not a number")
        rows.append([float(c) for c in cells])
    if len({len(r) for r in rows}) != 1:
        raise CliError(f"{path}: rows have different numbers of columns")
    x = np.array(rows, dtype=np.float32)
    if not np.isfinite(x).all():
        raise CliError(f"{path}: holds NaN or infinite values")
    return x


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


# ==============================================================================================
# summary
# ==============================================================================================
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


def _describe_net(network: Network) -> str:
    return f"{network!r} ({network.param_count:,} parameters)"


# ==============================================================================================
# demo
# ==============================================================================================
def cmd_demo(args: argparse.Namespace) -> int:
    from .data import load_dataset

    if args.epochs < 1:
        raise CliError(f"--epochs must be at least 1, not {args.epochs}")
    output = _output_path(args.output) if args.output else None
    dataset = load_dataset("digits8x8")
    spec = NetworkSpec.from_dict(DEMO_SPEC)
    config = TrainingConfig.from_dict({**DEMO_TRAINING, "epochs": args.epochs})
    network = Network.from_spec(spec)
    splits = dataset.split(spec.seed, config.validation_split, DEFAULT_TEST_SPLIT)
    network.metadata = {
        "dataset": {"name": dataset.name, "fingerprint": dataset.fingerprint(), "params": {}},
        "class_names": list(dataset.class_names), "preprocessing": dict(dataset.preprocessing),
        "training": config.to_dict(),
        "split": {"seed": spec.seed, "validation_fraction": config.validation_split,
                  "test_fraction": DEFAULT_TEST_SPLIT},
    }
    print("nnstudio demo: a small network learns to read 8x8 handwritten digits")
    print(f"network: {_describe_net(network)}; softmax + cross-entropy, Adam (learning rate "
          f"{network.optimizer.learning_rate:g})")
    print(f"data: {dataset.n_samples:,} digits -> {len(splits.y_train):,} training, {len(splits.y_val):,} "
          f"validation, {len(splits.y_test):,} test")
    start = time.perf_counter()
    train_network(network, splits.x_train, splits.y_train, config, (splits.x_val, splits.y_val))
    seconds = time.perf_counter() - start
    print(f"trained {config.epochs} epochs in {seconds:.1f} s")
    print(evaluation_text(network, splits.x_test, splits.y_test, dataset.class_names,
                          f"the {len(splits.y_test):,} test digits the network never saw"))
    if output is not None:
        save_model(network, output, training_config=config)
        print(f"saved {output}")
    return EXIT_OK
