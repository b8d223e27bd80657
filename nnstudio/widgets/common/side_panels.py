"""The main window's three columns: side panel, centre, side panel.

A ``QSplitter`` whose side panels keep the width the user gave them (dragging a handle) and
can be collapsed (dragged to the edge, or from the View menu), while the centre (plots,
canvas, matrix) absorbs every change of the window's width. When the window gets narrow the
side panels give way first, down to their minimum widths, so that the centre keeps
``CENTRE_ROOM`` pixels as long as it can; they return to their chosen widths when the window
grows again. ``state()`` / ``restore_state()`` hand the chosen widths and collapsed flags to
the settings (a collapsed panel keeps its width for when it comes back).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QSplitter, QWidget

#: The centre's width the side panels shrink for (toward their minimum) in a narrow window.
CENTRE_ROOM = 560
SIDES = (0, 2)


class SidePanelSplitter(QSplitter):
    """Horizontal splitter over ``left``, ``centre``, ``right``.

    ``panelToggled(index, shown)``: a side panel (index 0 or 2) was collapsed or brought back,
    by a drag or by ``set_panel_shown``.
    """

    panelToggled = Signal(int, bool)

    def __init__(self, left: QWidget, centre: QWidget, right: QWidget, widths: tuple[int, int],
                 parent: QWidget | None = None):
        super().__init__(Qt.Orientation.Horizontal, parent)
        for widget in (left, centre, right):
            self.addWidget(widget)
        self.setCollapsible(0, True)
        self.setCollapsible(1, False)
        self.setCollapsible(2, True)
        self.setStretchFactor(1, 1)
        self._preferred = {0: int(widths[0]), 2: int(widths[1])}
        self._shown = {0: True, 2: True}
        self._fitted: list[int] | None = None  # the sizes ``fit`` set last
        self.splitterMoved.connect(self._on_splitter_moved)

    # -- public --------------------------------------------------------------------------------
    def panel_shown(self, index: int) -> bool:
        return self._shown[index]

    def preferred_width(self, index: int) -> int:
        """The width side panel ``index`` gets when the window has room (also while collapsed)."""
        self._adopt_outside_changes()
        return self._preferred[index]

    def set_panel_shown(self, index: int, shown: bool) -> None:
        """Collapse (False) or bring back (True) side panel 0 or 2 at its chosen width."""
        self._adopt_outside_changes()
        if self._shown[index] != bool(shown):
            self._shown[index] = bool(shown)
            self.fit()
            self.panelToggled.emit(index, bool(shown))

    def state(self) -> list[int]:
        """[left width, right width, left shown, right shown] for the settings."""
        self._adopt_outside_changes()
        return [self._preferred[0], self._preferred[2], int(self._shown[0]), int(self._shown[2])]

    def restore_state(self, state) -> bool:
        """Undo of ``state()`` (values may come back from QSettings as strings); False (and no
        change) when ``state`` is not four numbers."""
        try:
            left, right, left_shown, right_shown = (int(v) for v in state)
        except (TypeError, ValueError):
            return False
        self._preferred = {0: max(left, self.widget(0).minimumWidth()), 2: max(right, self.widget(2).minimumWidth())}
        before, self._shown = self._shown, {0: bool(left_shown), 2: bool(right_shown)}
        self.fit()
        for i in SIDES:
            if before[i] != self._shown[i]:
                self.panelToggled.emit(i, self._shown[i])
        return True

    def fit(self) -> None:
        """Lay out the columns for the current width (see the module docstring)."""
        self._adopt_outside_changes()
        total = self.width() - sum(self.handleWidth() for i in range(1, self.count()) if not self.handle(i).isHidden())
        if total <= 0:
            return
        sides = {i: self._preferred[i] if self._shown[i] else 0 for i in SIDES}
        missing = CENTRE_ROOM - (total - sum(sides.values()))
        if missing > 0:  # the side panels give way first, each in proportion to its slack
            slack = {i: max(sides[i] - self.widget(i).minimumWidth(), 0) if sides[i] else 0 for i in SIDES}
            room = sum(slack.values())
            if room:
                give = min(missing, room)
                taken = {0: round(give * slack[0] / room)}
                taken[2] = give - taken[0]
                sides = {i: sides[i] - taken[i] for i in SIDES}
        centre = max(total - sum(sides.values()), 0)
        sizes = [sides[0], centre, sides[2]]
        self._fitted = sizes
        self.setSizes(sizes)
        self._fitted = self.sizes()  # what the splitter made of them (minimum sizes win)

    # -- events --------------------------------------------------------------------------------
    def resizeEvent(self, event) -> None:
        self._adopt_outside_changes()  # a drag or setSizes since the last fit, at the old width
        super().resizeEvent(event)
        self._fitted = self.sizes()  # QSplitter's own redistribution is nobody's choice
        self.fit()

    def _on_splitter_moved(self, _pos: int, _index: int) -> None:
        self._adopt_outside_changes()

    def _adopt_outside_changes(self) -> None:
        """Sizes changed by someone else than ``fit`` (a drag, ``setSizes``): the side
        panels' widths become the chosen ones; a side at 0 is collapsed."""
        sizes = self.sizes()
        if self._fitted is None or sizes == self._fitted or sum(sizes) == 0:
            return
        before, self._fitted = self._fitted, sizes
        for i in SIDES:
            if sizes[i] == before[i]:
                continue  # only the panels that were moved: the other keeps its chosen width
            shown = sizes[i] > 0
            if shown:
                self._preferred[i] = sizes[i]
            if shown != self._shown[i]:
                self._shown[i] = shown
                self.panelToggled.emit(i, shown)
