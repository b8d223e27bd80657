"""Names a package exports but imports only when first used (PEP 562 module ``__getattr__``).

``import core`` is the app's first import, so the facades (``core``, ``core.export``,
``core.training``) leave their heavy parts (tracing, formulas, exporters, fine-tuning) to the
first ``core.explain`` or ``from core.export import to_onnx``; see docs/ARCHITECTURE.md,
"Start-up". A package declares its deferred names under ``TYPE_CHECKING`` (what type
checkers read) and installs the two hooks this module makes:

    if not TYPE_CHECKING:
        __getattr__, __dir__ = deferred_names(__name__, globals(), {"explain": "core.analysis.formulas"}, __all__)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def deferred_names(package: str, namespace: dict[str, Any], modules: Mapping[str, str],
                   public: list[str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """(``__getattr__``, ``__dir__``) for ``package``: a name of ``modules`` (name -> the
    module defining it) is imported from its module the first time it is read, then kept in
    ``namespace`` (the package's globals) so later reads cost nothing; any other missing
    name raises AttributeError as usual. ``__dir__`` lists ``public`` (``__all__``) too."""

    def attribute(name: str) -> Any:
        module = modules.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def names() -> list[str]:
        return sorted(set(namespace) | set(public))

    return attribute, names
