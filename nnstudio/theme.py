"""Light and dark appearance: the View ▸ Theme choice (System / Light / Dark), remembered.

How a theme is applied. Qt 6.8+ can be asked for a colour scheme
(``QStyleHints.setColorScheme``); where the platform honours it (Windows, macOS, recent
GNOME/KDE) the native style repaints itself. Where it does not (other Linux desktops, the
offscreen platform the tests use), the resulting palette still has the wrong brightness and
the app falls back to the Fusion style with a palette of its own. "System" follows the
desktop's scheme, also when it changes while the app runs.

Widgets never hard-code colours that must contrast with the background: they read them from
their palette (``palette()``, or :func:`plot_colors` for pyqtgraph plots) and re-read them on
``QEvent.PaletteChange`` — Qt sends it to every widget when the application palette changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QWidget

from nnstudio.settings import app_settings

#: The choices of View ▸ Theme, in menu order, with their menu texts.
THEMES = {"system": "&System", "light": "&Light", "dark": "&Dark"}
SETTINGS_KEY = "view/theme"
DEFAULT_THEME = "system"

#: Events after which a widget must re-read its colours.
PALETTE_EVENTS = (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange)

_DARK = {
    "Window": "#2d2d30", "WindowText": "#e6e6e6", "Base": "#1e1e1f", "AlternateBase": "#2a2a2d",
    "ToolTipBase": "#3c3c40", "ToolTipText": "#e6e6e6", "PlaceholderText": "#9a9a9e", "Text": "#e6e6e6",
    "Button": "#38383c", "ButtonText": "#e6e6e6", "BrightText": "#ff6b6b", "Light": "#505055",
    "Midlight": "#424246", "Mid": "#5c5c62", "Dark": "#1a1a1b", "Shadow": "#000000", "Highlight": "#2f6fc9",
    "HighlightedText": "#ffffff", "Link": "#6fb3ff", "LinkVisited": "#b59cff", "Accent": "#2f6fc9",
}
_DARK_DISABLED = {"WindowText": "#7c7c80", "Text": "#7c7c80", "ButtonText": "#7c7c80", "Base": "#262628",
                  "Highlight": "#4a4a50", "HighlightedText": "#b0b0b0", "PlaceholderText": "#66666a"}
_LIGHT = {
    "Window": "#efefef", "WindowText": "#000000", "Base": "#ffffff", "AlternateBase": "#f7f7f7",
    "ToolTipBase": "#ffffdc", "ToolTipText": "#000000", "PlaceholderText": "#7f7f7f", "Text": "#000000",
    "Button": "#efefef", "ButtonText": "#000000", "BrightText": "#ffffff", "Light": "#ffffff",
    "Midlight": "#cacaca", "Mid": "#b8b8b8", "Dark": "#9f9f9f", "Shadow": "#767676", "Highlight": "#308cc6",
    "HighlightedText": "#ffffff", "Link": "#0000ff", "LinkVisited": "#ff00ff", "Accent": "#308cc6",
}
_LIGHT_DISABLED = {"WindowText": "#bebebe", "Text": "#bebebe", "ButtonText": "#bebebe", "Base": "#efefef",
                   "Highlight": "#919191", "HighlightedText": "#ffffff", "PlaceholderText": "#bebebe"}


def build_palette(dark: bool) -> QPalette:
    """The fallback palette for a light or dark theme (Fusion's look)."""
    colors, disabled = (_DARK, _DARK_DISABLED) if dark else (_LIGHT, _LIGHT_DISABLED)
    palette = QPalette()
    for name, value in colors.items():
        role = getattr(QPalette.ColorRole, name, None)
        if role is not None:
            palette.setColor(role, QColor(value))
    for name, value in disabled.items():
        palette.setColor(QPalette.ColorGroup.Disabled, getattr(QPalette.ColorRole, name), QColor(value))
    return palette


def is_dark(palette: QPalette | None = None) -> bool:
    """True when the window background is darker than its text (a dark theme)."""
    palette = palette if palette is not None else QGuiApplication.palette()
    return (palette.color(QPalette.ColorRole.Window).lightness()
            < palette.color(QPalette.ColorRole.WindowText).lightness())


@dataclass(frozen=True)
class PlotColors:
    """Colours of a pyqtgraph plot on the current palette (RGB(A) tuples or names).

    The light values are the ones the plots always used; the dark ones keep the same
    meaning with enough contrast on a dark background.
    """

    background: QColor
    text: QColor
    axis: QColor
    legend_fill: QColor
    legend_border: QColor
    line_label_fill: tuple[int, int, int, int]
    line_label_text: tuple[int, int, int]
    change_line: tuple[int, int, int, int]
    batch: tuple[int, int, int]         # the per-batch and smoothed loss curves
    epoch: tuple[int, int, int]         # the per-epoch training curve
    validation: tuple[int, int, int]
    marker: tuple[int, int, int]        # the hover marker
    bar: tuple[int, int, int]           # probability bars
    top_bar: tuple[int, int, int]


_LIGHT_PLOT = {"line_label_fill": (255, 255, 255, 220), "line_label_text": (40, 40, 40),
               "change_line": (90, 90, 90, 200), "batch": (31, 119, 180), "epoch": (20, 60, 140),
               "validation": (230, 110, 0), "marker": (200, 0, 0), "bar": (150, 170, 200), "top_bar": (30, 110, 220)}
_DARK_PLOT = {"line_label_fill": (45, 45, 48, 220), "line_label_text": (225, 225, 225),
              "change_line": (170, 170, 170, 200), "batch": (90, 165, 235), "epoch": (150, 195, 255),
              "validation": (255, 150, 50), "marker": (255, 90, 90), "bar": (85, 105, 140), "top_bar": (80, 160, 255)}


def plot_colors(palette: QPalette | None = None) -> PlotColors:
    """Plot colours for ``palette`` (default: the application's)."""
    palette = palette if palette is not None else QGuiApplication.palette()
    if is_dark(palette):
        return PlotColors(background=palette.color(QPalette.ColorRole.Base),
                          text=palette.color(QPalette.ColorRole.Text), axis=QColor("#a8a8ac"),
                          legend_fill=palette.color(QPalette.ColorRole.Window), legend_border=QColor("#5c5c62"),
                          **_DARK_PLOT)
    return PlotColors(background=QColor("white"), text=QColor("#222222"), axis=QColor("#444444"),
                      legend_fill=QColor(255, 255, 255), legend_border=QColor(200, 200, 200), **_LIGHT_PLOT)


#: (background, text and border) of message frames per level, on a light and a dark theme.
_NOTICE_COLORS = {
    False: {"error": ("#fdecea", "#8a1c1c"), "warning": ("#fff4e5", "#7a4b00"), "info": ("#e8f1fb", "#0b3c6b"),
            "success": ("#e7f5ea", "#1b5e20")},
    True: {"error": ("#4a1c1f", "#ffb4ab"), "warning": ("#43331a", "#ffd59a"), "info": ("#17304a", "#a9d1ff"),
           "success": ("#17351f", "#a5e0b0")},
}


def notice_colors(level: str, palette: QPalette | None = None) -> tuple[str, str]:
    """(background, text) of a message of ``level`` ("error", "warning", "info", "success")."""
    colors = _NOTICE_COLORS[is_dark(palette)]
    return colors.get(level, colors["info"])


def style_notice(frame: QWidget, level: str, text_selector: str, palette: QPalette | None = None) -> None:
    """Colour a message frame (named by its objectName) and its texts (``text_selector``,
    a style-sheet selector) for ``level`` on ``palette`` (default: the frame's); a theme
    switch recolours it (ThemeManager)."""
    frame.setProperty("noticeLevel", level)
    frame.setProperty("noticeTextSelector", text_selector)
    background, foreground = notice_colors(level, palette if palette is not None else frame.palette())
    frame.setStyleSheet(f"#{frame.objectName()} {{ background: {background}; border: 1px solid {foreground}; "
                        f"border-radius: 4px; }} {text_selector} {{ color: {foreground}; }}")


def is_palette_event(event: QEvent) -> bool:
    return event.type() in PALETTE_EVENTS


def saved_theme() -> str:
    """The remembered choice ("system" when none or unknown)."""
    value = str(app_settings().value(SETTINGS_KEY, DEFAULT_THEME))
    return value if value in THEMES else DEFAULT_THEME


class ThemeManager(QObject):
    """Applies a theme to the application and remembers it. One per QApplication
    (:func:`theme_manager`). ``choice`` is "system", "light" or "dark"."""

    def __init__(self, app: QApplication):
        super().__init__(app)
        self._app = app
        # What the platform gave us, to return to when the fallback is no longer needed.
        self._native_style = app.style().name()
        self._native_palette = QPalette(app.palette())
        self._fallback = False
        self.choice = DEFAULT_THEME
        app.styleHints().colorSchemeChanged.connect(self._on_system_scheme_changed)

    def apply(self, choice: str, remember: bool = True) -> None:
        """Switch to ``choice`` now (every widget gets a PaletteChange) and, with
        ``remember``, store it in the settings."""
        if choice not in THEMES:
            raise ValueError(f"unknown theme {choice!r} (known: {', '.join(THEMES)})")
        self.choice = choice
        if remember:
            app_settings().setValue(SETTINGS_KEY, choice)
        self._restore_native()
        hints = self._app.styleHints()
        if choice == "system":
            hints.unsetColorScheme()
            want_dark = (hints.colorScheme() == Qt.ColorScheme.Dark if hints.colorScheme() != Qt.ColorScheme.Unknown
                         else is_dark(self._native_palette))
        else:
            want_dark = choice == "dark"
            hints.setColorScheme(Qt.ColorScheme.Dark if want_dark else Qt.ColorScheme.Light)
        if is_dark(self._app.palette()) != want_dark:
            # The platform did not follow the request: Fusion with our own palette does.
            self._app.setStyle("Fusion")
            self._app.setPalette(build_palette(want_dark))
            self._fallback = True
        self._refresh_style_sheets()

    def _refresh_style_sheets(self) -> None:
        """Style sheets resolve ``palette(...)`` colours when a widget is polished, not when
        the palette changes: setting each sheet again makes it read the new palette. Message
        frames get their theme's colours (:func:`style_notice`)."""
        for widget in self._app.allWidgets():
            level = widget.property("noticeLevel")
            if level:
                # The app's palette: the widgets' own copies are updated by posted events, later.
                style_notice(widget, level, widget.property("noticeTextSelector"), self._app.palette())
            elif "palette(" in widget.styleSheet():
                widget.setStyleSheet(widget.styleSheet())

    @property
    def dark(self) -> bool:
        return is_dark(self._app.palette())

    def _restore_native(self) -> None:
        if self._fallback:
            self._app.setStyle(self._native_style)
            self._app.setPalette(self._native_palette)
            self._fallback = False

    def _on_system_scheme_changed(self, _scheme) -> None:
        if self.choice == "system":
            self.apply("system", remember=False)


def theme_manager(app: QApplication | None = None) -> ThemeManager:
    """The application's ThemeManager (created on first use)."""
    app = app or QApplication.instance()
    manager = app.findChild(ThemeManager)
    return manager if manager is not None else ThemeManager(app)


def apply_saved_theme(app: QApplication | None = None) -> ThemeManager:
    """At start-up: apply the remembered theme (System on first start)."""
    manager = theme_manager(app)
    manager.apply(saved_theme(), remember=False)
    return manager
