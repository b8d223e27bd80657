"""No per-type table outside the type's own module.

A type describes itself (its class attributes, its registry entry); a dict, tuple, list or
set literal elsewhere that names two or more registered types is a second description
that drifts when a type is added (a new layer missing from the palette, a new activation
without a colour, a fix sentence matched by hand). This test reads every module of
``core/`` and ``nnstudio/`` with ``ast`` and lists such literals.

Allowed: a literal in the module that registers every type it names (e.g. the activation
table in ``core/layers/activations.py``).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import core
from core.registry import ACTIVATION_REGISTRY, LAYER_REGISTRY, LOSS_REGISTRY, OPTIMIZER_REGISTRY

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "nnstudio")


def _home_modules() -> dict[str, set[str]]:
    """Registered type name -> the module(s) that define it (its "own module")."""
    homes: dict[str, set[str]] = {}
    for name, cls in (*LAYER_REGISTRY.entries.items(), *LOSS_REGISTRY.entries.items(),
                      *OPTIMIZER_REGISTRY.entries.items()):
        homes.setdefault(name, set()).add(cls.__module__)
    for name, entry in ACTIVATION_REGISTRY.entries.items():
        homes.setdefault(name, set()).add(entry.function.__module__)
    return homes


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _named_types(node: ast.AST, homes: dict[str, set[str]]) -> list[str]:
    """Registered type names among a literal's items (a dict's keys; a layer's config such as
    ``{"type": "Activation", "function": "relu"}`` is data, not a table of types)."""
    if isinstance(node, ast.Dict):
        keys = [k for k in node.keys if k is not None]
        # Keys such as ("Adam", "beta1") name a type too.
        items = [e for k in keys for e in (k.elts if isinstance(k, ast.Tuple) else [k])]
    elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        items = list(node.elts)
    else:
        return []
    return [item.value for item in items
            if isinstance(item, ast.Constant) and isinstance(item.value, str) and item.value in homes]


def type_tables(paths: list[Path]) -> list[str]:
    """``file:line: names`` for every literal naming two or more registered types outside
    the module that defines all of them."""
    homes = _home_modules()
    offenders = []
    for path in paths:
        module = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        exports = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Assign)
                   and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)}
        for node in ast.walk(tree):
            if id(node) in exports:
                continue  # a package's export list names what it exports, not how types behave
            names = _named_types(node, homes)
            if len(set(names)) < 2:
                continue
            if all(module in homes[name] for name in names):
                continue  # the types' own module
            offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {', '.join(dict.fromkeys(names))}")
    return offenders


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_core_holds_no_per_type_table_outside_the_types_own_modules():
    offenders = type_tables(_sources("core"))
    assert not offenders, ("literal tables naming registered types (describe the type in its own class or "
                           "registry entry instead):\n" + "\n".join(offenders))


def test_nnstudio_holds_no_per_type_table():
    offenders = type_tables(_sources("nnstudio"))
    assert not offenders, ("literal tables naming registered types (describe the type in its own class or "
                           "registry entry instead):\n" + "\n".join(offenders))


def test_the_check_finds_a_table_and_allows_the_types_own_module(tmp_path):
    # The check itself must be able to fail: a palette-like table in some module is found...
    fake = ROOT / "core" / "_fake_palette_for_test.py"
    assert "core._fake_palette_for_test" not in sys.modules
    try:
        fake.write_text('COLORS = {"Dense": "#fff", "Conv2D": "#000"}\nONE = ("Dense",)\n'
                        'CHOICES = ["relu", "tanh"]\nCONFIG = {"type": "Activation", "function": "relu"}\n'
                        '__all__ = ["Dense", "Conv2D"]\nLABELS = {("SGD", "momentum"): "", ("Adam", "beta1"): ""}\n',
                        encoding="utf-8")
        found = type_tables([fake])
    finally:
        fake.unlink()
    assert found == ["core/_fake_palette_for_test.py:1: Dense, Conv2D",
                     "core/_fake_palette_for_test.py:3: relu, tanh",
                     "core/_fake_palette_for_test.py:6: SGD, Adam"]
    # ...while the activation table in its own module is not.
    assert type_tables([Path(core.layers.activations.__file__)]) == []
