"""Rate-limit a view's refresh: at most one call per interval, and none while hidden.

Snapshots arrive at every epoch end; on a tiny dataset that can be dozens per second. The
first request refreshes at once; requests during the interval collapse into one refresh at
its end. A hidden widget (another tab) only records that it is out of date and refreshes
when shown (its ``showEvent`` calls ``widget_shown``), so views nobody looks at cost nothing
during training. No event filter: Python callbacks on a widget's every event are costly and
also run while Qt tears the widget down.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QWidget


class RefreshThrottle(QObject):
    """Calls ``callback()`` for ``request()``s, no more often than every ``interval_ms``."""

    def __init__(self, widget: QWidget, callback: Callable[[], None], interval_ms: int):
        super().__init__(widget)
        self._widget = widget
        self._callback = callback
        self._dirty = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._on_timer_timeout)

    @property
    def interval_ms(self) -> int:
        return self._timer.interval()

    @property
    def pending(self) -> bool:
        """A refresh is owed (waiting for the interval to end or for the widget to show)."""
        return self._dirty

    def request(self) -> None:
        if not self._widget.isVisible() or self._timer.isActive():
            self._dirty = True
            return
        self._run()

    def _run(self) -> None:
        self._dirty = False
        self._timer.start()
        self._callback()

    def _on_timer_timeout(self) -> None:
        if self._dirty:
            self.request()

    def widget_shown(self) -> None:
        """Call from the widget's ``showEvent``: pay a refresh owed while it was hidden."""
        if self._dirty:
            # After the show completes, so the view has its size when it paints.
            QTimer.singleShot(0, self._on_timer_timeout)
