"""Can the document's network train on its dataset now, and if not, why and what fixes it.

Glue only: the checks and the advice are ``core.spec.dataset_fit`` (``app_problems``,
``propose_dataset_fit``); this module gathers what they need from the document (the
dataset, loaded and cached by the document, never a download or a long load here).
"""

from __future__ import annotations

from core.data import DATASETS, DataError, Dataset, find_mnist
from core.errors import Problem
from core.spec.dataset_fit import DatasetFacts, DatasetFit, app_problems, image_shape_for, propose_dataset_fit
from core.spec.fixes import QuickFix, quick_fix
from nnstudio.state.document import DatasetChoice, Document

__all__ = ["blocked_reason", "choice_with_layout", "dataset_facts", "facts_for", "repair_for", "training_problems"]


def dataset_facts(document: Document) -> DatasetFacts | None:
    """The chosen dataset as ``core.spec.dataset_fit`` needs it, or None when it is not available
    (MNIST not on this computer, a file that cannot be read: the Dataset panel says so)."""
    data = _loaded_dataset(document)
    return None if data is None else facts_for(document.dataset_choice, data)


def facts_for(choice: DatasetChoice, data: Dataset) -> DatasetFacts:
    """``data`` (loaded for ``choice``) as ``core.spec.dataset_fit`` needs it."""
    info = DATASETS.get(choice.name)
    has_layout = "layout" in choice.params or (info is not None and "layout" in info.params)
    return DatasetFacts(choice.title(), tuple(data.input_shape), int(data.n_classes),
                        image_shape_for(data.input_shape, data.preprocessing), has_layout)


def _loaded_dataset(document: Document) -> Dataset | None:
    """The chosen dataset when it can be had without reading a user's file here: shipped and
    generated sets (and MNIST when it is on this computer) are loaded through the document's
    cache; an imported file only when the document already loaded it (its file may be huge,
    a FIFO, gone…: reading it is the Dataset panel's and the open path's business)."""
    choice = document.dataset_choice
    if choice.name not in DATASETS:
        return document.loaded_dataset(choice)
    if choice.name == "mnist" and find_mnist() is None:
        return None
    try:
        return document.dataset()
    except (DataError, OSError):
        return None


def training_problems(document: Document) -> list[Problem]:
    """What stops the network from training on the dataset (empty: it can train)."""
    return app_problems(document.spec, dataset_facts(document))


def repair_for(document: Document, problem: Problem | None,
               info: DatasetFacts | None = None) -> QuickFix | DatasetFit | None:
    """The one-click repair for ``problem``: the editor's spec fix when there is one (e.g.
    insert Flatten), else the dataset fit (input, layout, first and last layers), or None."""
    if problem is None:
        return None
    fix = quick_fix(document.spec, problem)
    if fix is not None:
        return fix
    info = info if info is not None else dataset_facts(document)
    return propose_dataset_fit(document.spec, info) if info is not None else None


def choice_with_layout(choice: DatasetChoice, layout: str | None) -> DatasetChoice:
    """``choice`` switched to ``layout`` ("flat" / "image"; None: unchanged)."""
    if layout is None or choice.params.get("layout") == layout:
        return choice
    return DatasetChoice(choice.name, {**choice.params, "layout": layout})


def blocked_reason(problems: list[Problem], fit: QuickFix | DatasetFit | None) -> str:
    """A tooltip for a disabled Train button: the first problem and where its fix is."""
    if not problems:
        return ""
    text = str(problems[0])
    text = text[:1].upper() + text[1:]
    more = len(problems) - 1
    if more:
        text += f" (and {more} more problem{'s' if more > 1 else ''})"
    if fit is not None:
        how = f"Fix it in one step: “Fix: {fit.label[:1].lower()}{fit.label[1:]}” under the layer list."
    else:
        how = "The problem box under the layer list says what to change."
    return f"Train is unavailable: {text}.\n{how}"
