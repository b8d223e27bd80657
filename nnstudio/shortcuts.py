"""Keyboard shortcuts: resolving them, listing them, and finding clashes.

One place answers "which keys does this window react to": the Help ▸ Keyboard shortcuts
list and the shortcut audit test both read the live actions through
:func:`window_shortcuts`, so the list cannot go stale and a clash cannot slip in.

Why clashes matter: Qt gives up on a key that two active shortcuts share ("QAction::event:
Ambiguous shortcut overload") and the key then does nothing. ``StandardKey.Redo`` already
is Ctrl+Shift+Z on Linux desktops, so binding both made Ctrl+Shift+Z dead there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import QMenu, QWidget

__all__ = [
    "ShortcutEntry",
    "action_label",
    "key_sequences",
    "shortcut_clashes",
    "shortcut_text",
    "window_shortcuts",
    "with_shortcut",
]

KeySpec = QKeySequence | QKeySequence.StandardKey | str


def key_sequences(*keys: KeySpec) -> list[QKeySequence]:
    """The key sequences for ``keys``, each standard key expanded to ALL of this platform's
    bindings for it, without duplicates (first occurrence kept, so the first is the one
    menus show).

    ``key_sequences(StandardKey.Redo, "Ctrl+Shift+Z")`` is Ctrl+Y and Ctrl+Shift+Z on
    Windows and just Ctrl+Shift+Z (once) on a Linux desktop.
    """
    out: list[QKeySequence] = []
    seen: set[str] = set()
    for key in keys:
        is_standard = isinstance(key, QKeySequence.StandardKey)
        expanded = QKeySequence.keyBindings(key) if is_standard else [QKeySequence(key)]
        for sequence in expanded:
            text = sequence.toString(QKeySequence.SequenceFormat.PortableText)
            if text and text not in seen:
                seen.add(text)
                out.append(sequence)
    return out


def shortcut_text(action: QAction) -> str:
    """The action's main shortcut as the platform writes it ("Ctrl+Return"), or ""."""
    shortcuts = action.shortcuts()
    return shortcuts[0].toString(QKeySequence.SequenceFormat.NativeText) if shortcuts else ""


def with_shortcut(tip: str, action: QAction) -> str:
    """``tip`` followed by the action's shortcut in brackets (unless it already names it)."""
    key = shortcut_text(action)
    if not key or f"({key})" in tip:
        return tip
    return f"{tip} ({key})" if tip else key


def action_label(action: QAction) -> str:
    """The action's text as a user reads it: no mnemonic ampersands, no trailing "…"."""
    return action.text().replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("…").strip()


@dataclass(frozen=True)
class ShortcutEntry:
    """One key bound to one command.

    ``scope`` is None for a window-wide shortcut, else the widget the key is limited to
    (focus inside it); ``where`` says that in words ("everywhere", "in the layer list").
    """

    key: str  # PortableText, e.g. "Ctrl+Shift+Z"
    native: str  # as the platform writes it
    name: str  # what it does ("Redo", "Train")
    owner: QObject
    scope: QWidget | None
    where: str


def _scope(action_or_shortcut: QAction | QShortcut) -> QWidget | None:
    context = (action_or_shortcut.context() if isinstance(action_or_shortcut, QShortcut)
               else action_or_shortcut.shortcutContext())
    if context in (Qt.ShortcutContext.WindowShortcut, Qt.ShortcutContext.ApplicationShortcut):
        return None
    if isinstance(action_or_shortcut, QShortcut):
        parent = action_or_shortcut.parent()
        return parent if isinstance(parent, QWidget) else None
    # A widget-scoped action is active in the widgets it was added to (not in menus, where
    # it only appears): take the outermost such widget.
    widgets = [w for w in action_or_shortcut.associatedObjects()
               if isinstance(w, QWidget) and not isinstance(w, QMenu)]
    outer = [w for w in widgets if not any(o is not w and o.isAncestorOf(w) for o in widgets)]
    return outer[0] if outer else None


def _where(scope: QWidget | None) -> str:
    if scope is None:
        return "everywhere"
    name = scope.accessibleName() or scope.objectName() or type(scope).__name__
    return f"in the {name[:1].lower()}{name[1:]}"


def window_shortcuts(root: QWidget, extra: Iterable[QObject] = ()) -> list[ShortcutEntry]:
    """Every key bound by an action or QShortcut that lives under ``root`` (plus ``extra``),
    one entry per key, in the order the objects were created."""
    objects: list[QObject] = list(root.findChildren(QAction)) + list(root.findChildren(QShortcut)) + list(extra)
    entries: list[ShortcutEntry] = []
    seen: set[int] = set()
    for obj in objects:
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, QAction):
            if obj.isSeparator():
                continue
            sequences, name = obj.shortcuts(), action_label(obj)
        elif isinstance(obj, QShortcut):
            sequences, name = obj.keys(), obj.whatsThis() or obj.objectName()
        else:
            continue
        scope = _scope(obj)
        for sequence in sequences:
            if sequence.isEmpty():
                continue
            entries.append(ShortcutEntry(sequence.toString(QKeySequence.SequenceFormat.PortableText),
                                         sequence.toString(QKeySequence.SequenceFormat.NativeText), name, obj,
                                         scope, _where(scope)))
    return entries


def _overlap(a: QWidget | None, b: QWidget | None) -> bool:
    """True when two shortcut scopes can be active at the same time."""
    if a is None or b is None:
        return True
    return a is b or a.isAncestorOf(b) or b.isAncestorOf(a)


def shortcut_clashes(entries: list[ShortcutEntry]) -> list[str]:
    """Sentences naming each key bound twice where both bindings can be active together
    (the same action twice counts: Qt then reports an ambiguous overload too)."""
    clashes = []
    for i, a in enumerate(entries):
        for b in entries[i + 1:]:
            if a.key == b.key and _overlap(a.scope, b.scope):
                what = f"“{a.name}” twice" if a.owner is b.owner else f"“{a.name}” and “{b.name}”"
                clashes.append(f"{a.key} is bound to {what} ({a.where} / {b.where})")
    return clashes
