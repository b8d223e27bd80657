"""Checks of a model file's metadata (``Network.metadata``), shared by saving and loading.

The metadata is free-form JSON, but the keys nnstudio itself reads later (opening the
document, evaluating, predicting, training on) are checked for type and range, so a file
that loads can also be used: ``dataset`` (with its ``params`` per dataset kind),
``class_names``, ``preprocessing``, ``training``, ``split``, ``test_accuracy``. Every string
anywhere must be storable as UTF-8 (no lone surrogates) and of bounded length.

``metadata_problem`` returns ``None`` or the end of a sentence naming the key path and the
problem, e.g. ``"'dataset' › 'params' › 'noise' must be a number, not a string"``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

from core import limits

__all__ = ["DATASET_IMPORT_PARAMS", "metadata_problem", "text_problem"]


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def type_name(v: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number", type(None): "null"}.get(type(v), type(v).__name__)


def _where(path: tuple[Any, ...]) -> str:
    return " › ".join(f"[{p}]" if isinstance(p, int) else repr(p) for p in path) or "the metadata"


def _strings(value: Any) -> Iterator[str]:
    """Every string and key in a JSON value, fast (numbers are only type-checked)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, v in item.items():
                if isinstance(key, str):
                    yield key
                if isinstance(v, str):
                    yield v
                elif isinstance(v, (dict, list, tuple)):
                    stack.append(v)
        elif isinstance(item, (list, tuple)):
            for v in item:
                if isinstance(v, str):
                    yield v
                elif isinstance(v, (dict, list, tuple)):
                    stack.append(v)
        elif isinstance(item, str):
            yield item


def text_problem(value: Any, path: tuple[Any, ...] = ()) -> str | None:
    """The first string (or key) in ``value`` that UTF-8 cannot store (a lone surrogate, as
    a JSON ``\\ud800`` escape or a non-UTF-8 file name produces), or None."""
    if all(_encodable(text) for text in _strings(value)):
        return None  # the common case, without building a path for every value
    stack: list[tuple[Any, tuple[Any, ...]]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if not _encodable(item):
                return f"the text at {_where(where)} contains a lone surrogate, which UTF-8 cannot store"
        elif isinstance(item, dict):
            for key, v in item.items():
                if isinstance(key, str) and not _encodable(key):
                    return f"a key in {_where(where)} contains a lone surrogate, which UTF-8 cannot store"
                stack.append((v, (*where, key)))
        elif isinstance(item, (list, tuple)):
            stack.extend((v, (*where, i)) for i, v in enumerate(item))
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# -- dataset parameters ------------------------------------------------------------------------------
_STR = (lambda v: isinstance(v, str), "a string")
_OPT_STR = (lambda v: v is None or isinstance(v, str), "a string or null")
_BOOL = (lambda v: isinstance(v, bool), "true or false")
_OPT_BOOL = (lambda v: v is None or isinstance(v, bool), "true, false or null")
_NUMBER = (_is_number, "a number")
_WHOLE = (lambda v: _is_int(v) or (_is_number(v) and math.isfinite(v) and float(v).is_integer()), "a whole number")
_INT_OR_STR = (lambda v: _is_int(v) or isinstance(v, str), "an integer or a column name")

#: Parameters of imported files: name -> (check, what it must be, required).
DATASET_IMPORT_PARAMS: dict[str, dict[str, tuple[Callable[[Any], bool], str, bool]]] = {
    "import-idx": {"images": (*_STR, True), "labels": (*_STR, True), "layout": (*_STR, False),
                   "name": (*_OPT_STR, False), "include_drawings": (*_BOOL, False)},
    "import-csv": {"path": (*_STR, True), "label_column": (*_INT_OR_STR, False), "has_header": (*_OPT_BOOL, False),
                   "delimiter": (*_OPT_STR, False), "scale": (*_NUMBER, False), "name": (*_OPT_STR, False),
                   "include_drawings": (*_BOOL, False)},
}


def _named_dataset_params() -> dict[str, dict[str, tuple[Callable[[Any], bool], str, bool]]]:
    """Parameters of the catalogue's datasets, typed after their schema's kinds; hidden
    settings (MNIST's location) are strings (a folder)."""
    from core.data.datasets import DATASETS

    by_kind = {"bool": _BOOL, "int": _WHOLE, "float": _NUMBER}
    out = {}
    for name, info in DATASETS.items():
        params: dict[str, tuple[Callable[[Any], bool], str, bool]] = {"include_drawings": (*_BOOL, False)}
        for param in info.schema:
            params[param.name] = (*by_kind.get(param.kind, _STR), False)
        for key in info.hidden_settings:
            params[key] = (*_STR, False)
        out[name] = params
    return out


def _dataset_problem(dataset: Any) -> str | None:
    where = ("dataset",)
    if not isinstance(dataset, dict):
        return f"{_where(where)} must be an object, not {type_name(dataset)}"
    unknown = sorted(set(dataset) - {"name", "fingerprint", "params"})
    if unknown:
        return f"{_where(where)} has an unknown key {unknown[0]!r} (it takes name, fingerprint, params)"
    name = dataset.get("name")
    if not isinstance(name, str) or not name:
        return f"{_where((*where, 'name'))} must be a non-empty string, not {name!r}"
    fingerprint = dataset.get("fingerprint")
    if fingerprint is not None and not isinstance(fingerprint, str):
        return f"{_where((*where, 'fingerprint'))} must be a string, not {type_name(fingerprint)}"
    params = dataset.get("params", {})
    if not isinstance(params, dict):
        return f"{_where((*where, 'params'))} must be an object, not {type_name(params)}"
    for key, value in params.items():
        if not (value is None or isinstance(value, (str, bool)) or _is_number(value)):
            return f"{_where((*where, 'params', key))} must be a plain value, not {type_name(value)}"
    schema = DATASET_IMPORT_PARAMS.get(name) or _named_dataset_params().get(name)
    if schema is None:
        return None  # a dataset nnstudio does not know (a script's own): its parameters are its business
    unknown = sorted(set(params) - set(schema))
    if unknown:
        return (f"dataset {name!r} has no parameter {unknown[0]!r} "
                f"(its parameters: {', '.join(sorted(schema))})")
    for key, (check, what, required) in schema.items():
        if key not in params:
            if required:
                return f"dataset {name!r} needs the parameter {key!r} ({what})"
            continue
        if not check(params[key]):
            return f"{_where((*where, 'params', key))} must be {what}, not {type_name(params[key])}"
    return None


# -- the other conventional keys ---------------------------------------------------------------------------
def _preprocessing_problem(pre: Any) -> str | None:
    where = ("preprocessing",)
    if not isinstance(pre, dict):
        return f"{_where(where)} must be an object, not {type_name(pre)}"
    scale = pre.get("scale", 1.0)
    if not _is_number(scale) or not math.isfinite(scale) or not 0 < abs(scale) <= 1e30:
        return f"{_where((*where, 'scale'))} must be a finite, non-zero number, not {scale!r}"
    layout = pre.get("layout")
    if layout is not None and not isinstance(layout, str):
        return f"{_where((*where, 'layout'))} must be a string, not {type_name(layout)}"
    for key in ("image_shape", "source_range"):
        value = pre.get(key)
        if value is None:
            continue
        if (not isinstance(value, list) or len(value) > 3
                or not all(_is_number(v) and math.isfinite(v) and abs(v) <= limits.MAX_VALUES_PER_SAMPLE
                           for v in value)):
            return f"{_where((*where, key))} must be a list of up to 3 numbers, not {value!r}"
    shape = pre.get("image_shape")
    if shape is not None and not all(_is_int(d) and d > 0 for d in shape):
        return f"{_where((*where, 'image_shape'))} must hold positive integers, not {shape!r}"
    return None


def _split_problem(split: Any) -> str | None:
    where = ("split",)
    if not isinstance(split, dict):
        return f"{_where(where)} must be an object, not {type_name(split)}"
    unknown = sorted(set(split) - {"seed", "validation_fraction", "test_fraction"})
    if unknown:
        return f"{_where(where)} has an unknown key {unknown[0]!r}"
    seed = split.get("seed", 0)
    if not _is_int(seed) or not 0 <= seed < 2**63:
        return f"{_where((*where, 'seed'))} must be a non-negative integer, not {seed!r}"
    for key in ("validation_fraction", "test_fraction"):
        value = split.get(key, 0.0)
        if not _is_number(value) or not 0.0 <= value < 1.0:
            return f"{_where((*where, key))} must be a number in [0, 1), not {value!r}"
    return None


def _class_names_problem(names: Any) -> str | None:
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return "'class_names' must be a list of strings"
    if len(names) > limits.MAX_CLASS_NAMES:
        return f"'class_names' holds {len(names):,} names, more than the {limits.MAX_CLASS_NAMES:,} allowed"
    return None


def _training_problem(training: Any) -> str | None:
    from core.errors import SpecError
    from core.spec.model import TrainingConfig

    if not isinstance(training, dict):
        return f"'training' must be an object, not {type_name(training)}"
    try:
        TrainingConfig.from_dict(training)
    except SpecError as exc:
        return f"'training' holds invalid training settings: {exc}"
    return None


def _long_string_problem(value: Any) -> str | None:
    if all(len(text) <= limits.MAX_METADATA_STRING for text in _strings(value)):
        return None
    stack: list[tuple[Any, tuple[Any, ...]]] = [(value, ())]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str) and len(item) > limits.MAX_METADATA_STRING:
            return (f"the text at {_where(where)} is {len(item):,} characters long, more than the "
                    f"{limits.MAX_METADATA_STRING:,} allowed")
        if isinstance(item, dict):
            stack.extend((v, (*where, k)) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((v, (*where, i)) for i, v in enumerate(item))
    return None


def metadata_problem(metadata: Any) -> str | None:
    """What is wrong with ``metadata`` (the parsed metadata.json), or None when it is fine."""
    if not isinstance(metadata, dict):
        return f"the metadata must be an object, not {type_name(metadata)}"
    problem = text_problem(metadata) or _long_string_problem(metadata)
    if problem:
        return problem
    checks: dict[str, Callable[[Any], str | None]] = {
        "dataset": _dataset_problem, "class_names": _class_names_problem, "preprocessing": _preprocessing_problem,
        "training": _training_problem, "split": _split_problem,
    }
    for key, check in checks.items():
        if metadata.get(key) is not None:
            problem = check(metadata[key])
            if problem:
                return problem
    accuracy = metadata.get("test_accuracy")
    if accuracy is not None and (not _is_number(accuracy) or not 0.0 <= accuracy <= 1.0):
        return f"'test_accuracy' must be a number between 0 and 1, not {accuracy!r}"
    return None
