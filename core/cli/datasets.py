"""``--dataset NAME --dataset-option K=V [--download]``: load a named dataset (MNIST
downloaded on request), and the default test split."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from core.cli.errors import CliError

DEFAULT_TEST_SPLIT = 0.2


def load_named_dataset(name: str, option_args: Sequence[str], download: bool = False,
                       stored_options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
    """(Dataset, its parameters) for ``--dataset NAME --dataset-option K=V ...``."""
    from core.data import find_mnist, load_dataset

    options = dict(stored_options or {})
    options.update(parse_options(option_args))
    if name == "mnist" and find_mnist() is None:
        if not download:
            raise CliError(mnist_missing_message())
        _download_mnist()
    return load_dataset(name, **options), options


def mnist_missing_message() -> str:
    """What to do when MNIST is not on this computer: --download, or NNSTUDIO_DATA."""
    from core.data import MNIST_FILES, mnist_search_places

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
    from core.data import download_mnist

    def progress(done: int, total: int, filename: str) -> None:
        if sys.stderr.isatty():
            print(f"\rdownloading MNIST: {done / max(total, 1):4.0%} {filename}   ", end="", file=sys.stderr,
                  flush=True)

    print("downloading MNIST (about 11.6 MB)...", file=sys.stderr)
    location = download_mnist(progress=progress)
    print(f"\rMNIST saved in {location.describe()}", file=sys.stderr)
