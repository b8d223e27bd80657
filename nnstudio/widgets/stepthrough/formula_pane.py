"""The right-hand side of the Step-through view: a clicked number's formula, the finite-
difference check of the layer on screen, and the seed article's walk-through.

Shows what ``core.analysis.formulas`` / ``core.analysis.walkthrough`` computed; computes nothing.
"""

from __future__ import annotations

import html

from PySide6.QtGui import QFont, QFontDatabase, QPalette
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QScrollArea,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from core.analysis.trace_views import number_text
from nnstudio.widgets.stepthrough.panels import GridView

FORMULA_HINT = ("Click any number on the left — a unit, a pixel of a feature map, a weight, a gradient — to see "
                "the formula that produced it, with the actual numbers filled in.")


def _monospace() -> QFont:
    return QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)


class FormulaPane(QWidget):
    """Title, equation, the explanation lines (monospace), the recomputed value against the
    engine's, and for a Conv2D output its input window and kernel as small grids."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("formulaPane")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        self.title_label = QLabel(FORMULA_HINT)
        self.title_label.setObjectName("formulaTitle")
        self.title_label.setWordWrap(True)
        bold = QFont(self.title_label.font())
        bold.setBold(True)
        self.title_label.setFont(bold)
        self.equation_label = QLabel("")
        self.equation_label.setObjectName("formulaEquation")
        self.equation_label.setWordWrap(True)
        big = QFont(self.equation_label.font())
        big.setPointSizeF(big.pointSizeF() * 1.25)
        self.equation_label.setFont(big)
        self.equation_label.setTextInteractionFlags(self.equation_label.textInteractionFlags()
                                                    | self.equation_label.textInteractionFlags().TextSelectableByMouse)
        self.lines_edit = QPlainTextEdit()
        self.lines_edit.setObjectName("formulaLines")
        self.lines_edit.setReadOnly(True)
        self.lines_edit.setFont(_monospace())
        # Wrapped, not scrolled sideways: in the narrow pane beside the layer view every number
        # of a line stays in sight (a line's end was cut off behind a horizontal scroll bar).
        self.lines_edit.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.check_label = QLabel("")
        self.check_label.setObjectName("formulaCheck")
        self.check_label.setWordWrap(True)
        self.window_row = QHBoxLayout()
        self._window_views: list[QWidget] = []
        layout.addWidget(self.title_label)
        layout.addWidget(self.equation_label)
        layout.addLayout(self.window_row)
        layout.addWidget(self.lines_edit, 1)
        layout.addWidget(self.check_label)
        self.lines_edit.hide()

    def clear(self, text: str = FORMULA_HINT) -> None:
        self.title_label.setText(text)
        self.equation_label.setText("")
        self.lines_edit.clear()
        self.lines_edit.hide()
        self.check_label.setText("")
        self._set_window(())

    def show_message(self, text: str) -> None:
        self.clear(text)

    def show_explanation(self, explanation) -> None:
        formula = explanation.formula
        self.title_label.setText(formula.title)
        self.equation_label.setText(formula.equation)
        self.lines_edit.setPlainText("\n".join(formula.lines))
        self.lines_edit.show()
        if formula.exact:
            agreement = "exactly the engine's number, bit for bit"
        elif abs(formula.value - formula.engine_value) <= formula.tolerance:
            agreement = (f"the engine's number up to rounding (the bound for {formula.tolerance_reason}: "
                         f"±{formula.tolerance:.2g})")
        else:
            agreement = f"NOT the engine's number {number_text(formula.engine_value)}"
        self.check_label.setText(f"Recomputed here: {formula.value!r} — {agreement}.")
        self._set_window(explanation.window, explanation.winner)

    def _set_window(self, panels, winner: tuple[int, ...] | None = None) -> None:
        for view in self._window_views:
            self.window_row.removeWidget(view)
            view.deleteLater()
        self._window_views = []
        for panel in panels:
            box = QWidget()
            column = QVBoxLayout(box)
            column.setContentsMargins(0, 0, 0, 0)
            column.addWidget(QLabel(panel.title))
            view = GridView(panel, max_cell=18)
            if winner is not None and panel.title == "input window":
                view.select(winner)  # MaxPool2D: the input that won
            column.addWidget(view, 1)
            self.window_row.addWidget(box)
            self._window_views.append(box)


class CheckPane(QLabel):
    """The finite-difference check as a small table: backprop, numeric, relative error."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("finiteDifferencePane")
        self.setWordWrap(True)
        self.setTextFormat(self.textFormat().RichText)
        self.setMargin(8)
        self.setText("“Check with finite differences” compares the gradients of the layer on screen with "
                     "(L(w + h) − L(w − h)) / 2h computed in float64.")

    def show_result(self, result) -> None:
        rows = "".join(
            f"<tr><td>{html.escape(r.what)}</td><td align='right'>{r.backprop:.6e}</td>"
            f"<td align='right'>{r.numeric:.6e}</td><td align='right'>{r.relative_error:.1e}</td>"
            f"<td>{'kink' if r.at_kink else ('✓' if r.agrees else '✗')}</td></tr>"
            for r in result.rows)
        worst = max((r.relative_error for r in result.rows if not r.at_kink), default=0.0)
        self.setText(f"<b>{html.escape(result.title)}</b> — {len(result.rows)} largest gradients, "
                     f"in {result.seconds * 1000:.0f} ms; worst relative error {worst:.1e}"
                     "<table cellspacing='0' cellpadding='3' style='margin-top:6px'>"
                     "<tr><th align='left'>entry</th><th>backprop</th><th>numeric</th><th>rel. error</th><th></th></tr>"
                     f"{rows}</table><p>Entries at a kink (ReLU or max-pool exactly at a tie) are marked: "
                     "there the central difference straddles two slopes and cannot agree.</p>")

    def show_message(self, text: str) -> None:
        self.setText(html.escape(text))


class WalkthroughPane(QTextBrowser):
    """The seed article's walk-through of one sample (``seed_walkthrough``)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("walkthroughPane")
        self.setOpenExternalLinks(False)
        self.show_steps(None)

    def show_steps(self, steps) -> None:
        if not steps:
            self.setPlainText("The article's walk-through (dE/dY in, dE/dX out, dE/dW = Xᵀ·dE/dY) is shown for "
                              "networks of Dense and activation layers traced on one sample: pick “A sample” "
                              "or the XOR preset.")
            return
        mono = _monospace().family()
        parts = []
        for step in steps:
            lines = "<br>".join(html.escape(line) for line in step.lines)
            parts.append(f"<h4>{html.escape(step.title)}</h4><p style='font-family:\"{mono}\"'>{lines}</p>")
        self.setHtml("".join(parts))


class SidePane(QTabWidget):
    """Formula | Finite differences | Walk-through."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("stepSidePane")
        self.formula = FormulaPane()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.formula)
        self.check = CheckPane()
        check_scroll = QScrollArea()
        check_scroll.setWidgetResizable(True)
        check_scroll.setWidget(self.check)
        self.walkthrough = WalkthroughPane()
        self.addTab(scroll, "Formula")
        self.addTab(check_scroll, "Finite differences")
        self.addTab(self.walkthrough, "Walk-through")
        self.setBackgroundRole(QPalette.ColorRole.Base)
