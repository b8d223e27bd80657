"""Help ▸ Keyboard shortcuts and Help ▸ User guide: two non-modal windows.

The shortcut list is built from the window's live actions each time it is shown
(``nnstudio.shortcuts``), so it cannot go stale. The guide is the Markdown file shipped
in ``resources/guide.md``, read once (the first time it is needed) and kept in memory, so a
reinstall while the app runs does not take it away.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from functools import lru_cache

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QLabel, QTextBrowser, QVBoxLayout, QWidget

from core.resource_files import read_resource_bytes
from nnstudio.shortcuts import ShortcutEntry

__all__ = ["GUIDE_RESOURCE", "KEYS_WITHOUT_ACTIONS", "ShortcutsWindow", "UserGuideWindow", "guide_markdown"]

GUIDE_RESOURCE = "guide.md"

#: Keys handled by a widget itself rather than by an action (so no action can list them):
#: (key, what it does, where). Keep in step with the widgets named here.
KEYS_WITHOUT_ACTIONS: tuple[tuple[str, str, str], ...] = (
    ("Space", "Pause / Resume training", "in the Train tab (a focused button keeps its Space)"),
    ("Enter", "Add the chosen layer type", "in the layer palette"),
)


@lru_cache(maxsize=1)
def guide_markdown() -> str:
    """The user guide's Markdown text (read from the shipped resources once)."""
    try:
        return read_resource_bytes(GUIDE_RESOURCE).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return ("# User guide\n\nThe guide that ships with nnstudio could not be read "
                f"({exc}). Reinstalling nnstudio restores it; README.md has the same topics.")


def _dedicated_key(portable: str) -> bool:
    """True for a key of its own on media/office keyboards (Save, Open, Redo…)."""
    sequence = QKeySequence(portable)
    return sequence.count() == 1 and sequence[0].key().value >= Qt.Key.Key_Back.value


class _HelpWindow(QWidget):
    """A top-level, non-modal window owned by the main window (closes with it)."""

    def __init__(self, title: str, name: str, parent: QWidget | None):
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName(name)
        self.setWindowTitle(f"{title} — nnstudio")
        self.setWindowModality(Qt.WindowModality.NonModal)
        self.browser = QTextBrowser()
        self.browser.setObjectName(f"{name}Text")
        self.browser.setOpenExternalLinks(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.browser)


class ShortcutsWindow(_HelpWindow):
    """Help ▸ Keyboard shortcuts. ``entries()`` returns the window's live shortcuts."""

    def __init__(self, entries: Callable[[], list[ShortcutEntry]], parent: QWidget | None = None):
        super().__init__("Keyboard shortcuts", "shortcutsWindow", parent)
        self._entries = entries
        note = QLabel("Read from the menus' actions: what you see here is what the keys do.")
        note.setWordWrap(True)
        self.layout().insertWidget(0, note)
        self.resize(560, 520)
        self.refresh()

    def rows(self) -> list[tuple[str, str, str]]:
        """(command, keys, where) per command, keys joined with " or ", in menu order."""
        grouped: dict[tuple[int, str], tuple[str, list[str], str]] = {}
        for entry in self._entries():
            if _dedicated_key(entry.key):
                continue  # the "Save" / "Redo" keys of office keyboards: they work, but clutter the list
            slot = (id(entry.owner), entry.where)
            if slot not in grouped:
                grouped[slot] = (entry.name, [], entry.where)
            grouped[slot][1].append(entry.native)
        rows = [(name, " or ".join(keys), where) for name, keys, where in grouped.values()]
        rows += [(what, key, where) for key, what, where in KEYS_WITHOUT_ACTIONS]
        return rows

    def refresh(self) -> None:
        cells = "".join(
            f"<tr><td>{html.escape(name)}</td><td><b>{html.escape(keys)}</b></td>"
            f"<td>{html.escape(where)}</td></tr>" for name, keys, where in self.rows())
        self.browser.setHtml(
            "<table cellspacing='0' cellpadding='4' width='100%'>"
            "<tr><th align='left'>Command</th><th align='left'>Keys</th><th align='left'>Where</th></tr>"
            f"{cells}</table>")


class UserGuideWindow(_HelpWindow):
    """Help ▸ User guide: the bundled Markdown guide."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("User guide", "userGuideWindow", parent)
        self.browser.setMarkdown(guide_markdown())
        self.resize(720, 760)

