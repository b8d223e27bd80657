"""Error types of the engine. Every message is a sentence a user can act on."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a network spec.

    ``layer_index`` is 0-based (as in parameter keys such as ``layers.3.W``) or ``None``
    for problems that concern the whole network (loss, optimizer, input shape). ``fix`` is a
    short imperative suggestion, or ``None`` when no obvious fix exists. ``code`` is a
    machine-readable name of the kind of problem (``"needs_flat_input"``, see
    ``core.spec.fixes.quick_fix``): programs dispatch on it, never on the wording.
    """

    message: str
    layer_index: int | None = None
    fix: str | None = None
    code: str | None = None

    def __str__(self) -> str:
        return self.message if self.fix is None else f"{self.message}: {self.fix}"


class SpecError(ValueError):
    """A network spec, layer setting or optimizer setting is invalid.

    ``problems`` lists every problem found (at least one); ``str(error)`` joins them.
    """

    def __init__(self, problems: list[Problem] | Problem | str):
        if isinstance(problems, str):
            problems = [Problem(problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


class ShapeError(SpecError):
    """A layer cannot accept the shape it receives."""


class TrainingError(RuntimeError):
    """Training cannot start or continue (bad data, mismatched shapes, divergence)."""


class ModelFileError(Exception):
    """A model file cannot be saved or loaded; ``str(error)`` is one human sentence naming
    the file, the member and the problem (see ``core.saving``)."""
