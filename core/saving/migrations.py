"""Upgrading what older model files hold to the current format, one version at a time.

Policy (docs/model-file-format.md, "Versioning and migration policy"): a reader accepts
every older version; each upgrade is a function registered in ``MIGRATIONS[(member,
from_version)]`` turning one JSON member from version *v* into *v + 1*, chained from the
file's version up to ``FORMAT_VERSION`` before validation. It never guesses.

Format 1 -> 2 changed no JSON member: format 2 only added the optional ``state/`` array
members, and a format-1 file holds no state (the reader refuses one whose spec has layers
with state, see ``core.saving.reader``). So no JSON migration is registered yet.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.saving.layout import FORMAT_VERSION

#: (member kind, from version) -> function upgrading that member's JSON by one version.
MIGRATIONS: dict[tuple[str, int], Callable[[dict[str, Any]], dict[str, Any]]] = {}


def migrate(kind: str, data: dict[str, Any], version: int) -> dict[str, Any]:
    """Upgrade ``data`` written by format ``version`` to FORMAT_VERSION, one step at a time."""
    for v in range(version, FORMAT_VERSION):
        step = MIGRATIONS.get((kind, v))
        if step is not None:
            data = step(data)
    return data
