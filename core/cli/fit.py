"""Where a model meets data: the network↔dataset check (the app's, ``core.spec.dataset_fit``), inputs
reshaped to the network, the classes a model tells apart and the class names it stores."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from core.cli.errors import CliError
from core.layers.base import format_shape
from core.network import Network
from core.spec.dataset_fit import check_compatibility


def check_compatible(network: Network, dataset: Any, trained: bool = False) -> None:
    """CliError unless the dataset's samples and classes fit the network's input and output.

    The check is the one the app and ``core.analysis.evaluation`` make
    (:func:`core.spec.dataset_fit.check_compatibility`), so a mismatch reads the same everywhere.
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


def output_classes(network: Network) -> int:
    """How many classes the network's output tells apart: its units, or 2 for one output unit."""
    if len(network.output_shape) != 1:
        raise CliError(f"the network's output has shape {format_shape(tuple(network.output_shape))}, so it "
                       "cannot name a class per sample: end it with Dense(units) and an activation")
    return max(int(network.output_shape[0]), 2)


def stored_class_names(network: Network, k: int, model: str) -> list[str] | None:
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
