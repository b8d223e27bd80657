"""Training settings (right column): loss, optimizer and its settings, learning rate,
epochs, batch size, validation split, seed, shuffle.

Every edit is an undoable ``document.change``; edits in one field while it keeps focus
merge into one undo step. The panel follows ``specChanged`` / ``trainingConfigChanged``
(undo, open, presets) without echoing values back.

While training runs (``document.training_active``) the document cannot change: the
learning rate and batch size stay editable and are emitted as ``learningRateRequested`` /
``batchSizeRequested`` for the training controller (applied at the next batch); everything
else is disabled. When the run stops, the values chosen during it are written into the
document as one undoable change each, so the next run and the saved file use them.

Widgets are generated from the engine's schemas (``core.optimizers.OPTIMIZERS[name].schema``
and ``core.TrainingConfig.SCHEMA``), so a value the engine refuses cannot be entered.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QSpinBox,
    QWidget,
)

from core import OPTIMIZERS, SpecError, TrainingConfig
from core.losses import LOSS_HELP, LOSSES
from core.optimizers import optimizer_from_config
from core.params import Param

from ..document import Document
from .log_spin_box import LogSpinBox

LOSS_LABELS = {"mse": "Mean squared error", "cross_entropy": "Cross-entropy",
               "binary_cross_entropy": "Binary cross-entropy"}
OPTIMIZER_HELP = {"SGD": "Stochastic gradient descent: steps against the gradient, optionally with momentum",
                  "Adam": "Adam: per-weight step sizes from running averages of the gradients (a robust default)"}
PARAM_LABELS = {"momentum": "Momentum", "nesterov": "Nesterov momentum", "beta1": "β₁ (beta1)",
                "beta2": "β₂ (beta2)", "epsilon": "ε (epsilon)", "weight_decay": "L2 weight decay"}
SEED_HELP = ("Seed for the initial weights, the shuffling and dropout: the same seed repeats a run exactly")
#: Learning-rate range offered (the engine accepts any value > 0 and ≤ 10).
LR_MIN, LR_MAX = 1e-6, 10.0
#: Smallest positive value offered where the engine only asks for > 0 (epsilon).
TINY = 1e-12
#: Seeds are stored as 63-bit integers; a spin box holds 31 bits, which is plenty to type.
SEED_MAX = 2**31 - 1


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _tooltip(label: str, param: Param) -> str:
    rng = param.range_text()
    return f"{label}: {_sentence(param.help)}" + (f" Allowed: {rng}." if rng else "")


def _training_param(name: str) -> Param:
    return next(p for p in TrainingConfig.SCHEMA if p.name == name)


class CompactDoubleSpinBox(QDoubleSpinBox):
    """A QDoubleSpinBox that shows "0.9" rather than "0.9000"."""

    def textFromValue(self, value: float) -> str:
        return f"{value:.{self.decimals()}f}".rstrip("0").rstrip(".") or "0"


class TrainingSettingsPanel(QGroupBox):
    """The training hyperparameters of the document's spec and training config."""

    #: During training: the user wants this learning rate from the next batch on.
    learningRateRequested = Signal(float)
    #: During training: the user wants this batch size from the next batch on.
    batchSizeRequested = Signal(int)

    def __init__(self, document: Document, parent: QWidget | None = None):
        super().__init__("Training", parent)
        self.setObjectName("trainingSettingsPanel")
        self.document = document
        self._session = 0                     # bumps when a field finishes editing: new undo step
        self._pending: dict[str, Any] = {}    # values requested during the current run
        self._optimizer_type: str | None = None
        self._optimizer_widgets: dict[str, QWidget] = {}
        self._build()
        document.specChanged.connect(self._on_document_spec_changed)
        document.trainingConfigChanged.connect(self._on_document_training_config_changed)
        document.trainingActiveChanged.connect(self._on_document_training_active_changed)
        self._sync()
        self._update_enabled()

    # -- construction ---------------------------------------------------------------------------
    def _build(self) -> None:
        form = QFormLayout(self)
        self.form = form

        self.loss_combo = QComboBox()
        self.loss_combo.setObjectName("lossCombo")
        for name in LOSSES:
            self.loss_combo.addItem(LOSS_LABELS.get(name, name), name)
            self.loss_combo.setItemData(self.loss_combo.count() - 1, _sentence(LOSS_HELP.get(name, name)),
                                        Qt.ItemDataRole.ToolTipRole)
        self.loss_combo.activated.connect(self._on_loss_combo_activated)
        self._add_row("&Loss", self.loss_combo)

        self.optimizer_combo = QComboBox()
        self.optimizer_combo.setObjectName("optimizerCombo")
        for name in OPTIMIZERS:
            self.optimizer_combo.addItem(name, name)
            self.optimizer_combo.setItemData(self.optimizer_combo.count() - 1,
                                             _sentence(OPTIMIZER_HELP.get(name, name)), Qt.ItemDataRole.ToolTipRole)
        self.optimizer_combo.activated.connect(self._on_optimizer_combo_activated)
        self._add_row("&Optimizer", self.optimizer_combo)

        lr_param = next(p for p in OPTIMIZERS["Adam"].schema if p.name == "learning_rate")
        self.lr_edit = LogSpinBox(LR_MIN, LR_MAX, 1e-3)
        self.lr_edit.setObjectName("learningRateEdit")
        self.lr_edit.setToolTip(f"Learning rate: {_sentence(lr_param.help)} Arrows step 1-2-5 (…0.001, 0.002, "
                                f"0.005…), Page Up/Down ×10; type any value from {LR_MIN:g} to {LR_MAX:g}. "
                                "Can be changed while training runs.")
        self._spin(self.lr_edit, self._on_lr_edit_value_changed)
        self._add_row("Learning &rate", self.lr_edit)
        # Under the field: why a typed value was changed (out of range), or what the range
        # is while one is being typed. Hidden when there is nothing to say.
        self.lr_note = QLabel()
        self.lr_note.setObjectName("learningRateNote")
        self.lr_note.setWordWrap(True)
        self.lr_note.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        small = self.lr_note.font()
        small.setPointSizeF(max(small.pointSizeF() * 0.9, 7.0))
        self.lr_note.setFont(small)
        self.lr_note.hide()
        self.lr_edit.rangeNote.connect(self._on_lr_edit_range_note)
        self.form.addRow(self.lr_note)

        # The optimizer's own settings are inserted as rows right after the learning rate
        # (same label column as the rest), rebuilt when the optimizer type changes.

        epochs = _training_param("epochs")
        self.epochs_spin = QSpinBox()
        self.epochs_spin.setObjectName("epochsSpin")
        self.epochs_spin.setRange(int(epochs.minimum), int(epochs.maximum))
        self.epochs_spin.setToolTip(_tooltip("Epochs", epochs))
        self._spin(self.epochs_spin, lambda v: self._set_training("epochs", int(v), "Change epochs"))
        self._add_row("&Epochs", self.epochs_spin)

        batch = _training_param("batch_size")
        self.batch_spin = QSpinBox()
        self.batch_spin.setObjectName("batchSizeSpin")
        self.batch_spin.setRange(int(batch.minimum), int(batch.maximum))
        self.batch_spin.setGroupSeparatorShown(True)
        self.batch_spin.setToolTip(_tooltip("Batch size", batch) + " Can be changed while training runs.")
        self._spin(self.batch_spin, self._on_batch_spin_value_changed)
        self._add_row("&Batch size", self.batch_spin)

        split = _training_param("validation_split")
        self.split_spin = CompactDoubleSpinBox()
        self.split_spin.setObjectName("validationSplitSpin")
        self.split_spin.setDecimals(2)
        self.split_spin.setSingleStep(0.05)
        self.split_spin.setRange(float(split.minimum), float(split.maximum))
        self.split_spin.setToolTip(_tooltip("Validation split", split))
        self._spin(self.split_spin, lambda v: self._set_training("validation_split", float(v),
                                                                 "Change validation split"))
        self._add_row("&Validation split", self.split_spin)

        self.seed_spin = QSpinBox()
        self.seed_spin.setObjectName("seedSpin")
        self.seed_spin.setRange(0, SEED_MAX)
        self.seed_spin.setToolTip(f"Seed: {SEED_HELP}.")
        self._spin(self.seed_spin, self._on_seed_spin_value_changed)
        self._add_row("&Seed", self.seed_spin)

        shuffle = _training_param("shuffle")
        self.shuffle_check = QCheckBox("Shuffle every epoch")
        self.shuffle_check.setObjectName("shuffleCheck")
        self.shuffle_check.setToolTip(f"Shuffle: {_sentence(shuffle.help)}")
        self.shuffle_check.toggled.connect(lambda on: self._set_training("shuffle", bool(on), "Change shuffle"))
        form.addRow(self.shuffle_check)

    def _add_row(self, text: str, widget: QWidget) -> None:
        if isinstance(widget, QComboBox):
            # Long item texts must not widen the right column (the splitter gives it ~310 px).
            widget.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            widget.setMinimumContentsLength(8)
        label = QLabel(text)
        label.setBuddy(widget)
        label.setToolTip(widget.toolTip())
        widget.setAccessibleName(text.replace("&", ""))
        self.form.addRow(label, widget)

    def _spin(self, widget: QAbstractSpinBox, slot) -> None:
        # Values apply on Enter, focus loss or an arrow step, never per keystroke: "0.5" on
        # the way to "0.05" must not reach a running training, and typing is one undo step.
        widget.setKeyboardTracking(False)
        widget.valueChanged.connect(slot)
        widget.editingFinished.connect(self._on_field_editing_finished)

    def _merge_key(self, field: str) -> str:
        return f"training-settings-{id(self)}-{field}-{self._session}"

    def _on_field_editing_finished(self) -> None:
        self._session += 1

    # -- optimizer settings form ------------------------------------------------------------------------
    def _rebuild_optimizer_form(self, type_name: str) -> None:
        if type_name == self._optimizer_type:
            return
        self._optimizer_type = type_name
        for widget in self._optimizer_widgets.values():
            self.form.removeRow(widget)  # deletes the widget and its label
        self._optimizer_widgets = {}
        cls = OPTIMIZERS.get(type_name)
        row, _ = self.form.getWidgetPosition(self.lr_note)  # the rows follow the learning rate's note
        for param in (cls.schema if cls is not None else ()):
            if param.name == "learning_rate":
                continue  # has its own log-scale field above
            widget = self._optimizer_widget(param)
            widget.setObjectName(f"optimizer_{param.name}")
            self._optimizer_widgets[param.name] = widget
            row += 1
            text = PARAM_LABELS.get(param.name, param.name)
            widget.setAccessibleName(text)
            if isinstance(widget, QCheckBox):
                self.form.insertRow(row, widget)
            else:
                label = QLabel(text)
                label.setBuddy(widget)
                label.setToolTip(widget.toolTip())
                self.form.insertRow(row, label, widget)

    def _optimizer_widget(self, param: Param) -> QWidget:
        label = PARAM_LABELS.get(param.name, param.name)
        name = param.name
        if param.kind == "bool":
            widget: QWidget = QCheckBox(label)
            widget.toggled.connect(lambda on: self._set_optimizer_param(name, bool(on)))
        elif param.kind == "float" and (param.log_scale or 0 < (param.default or 0) < 1e-3):
            low = max(float(param.minimum or 0.0), TINY) if param.exclusive_minimum or not param.minimum else float(
                param.minimum)
            widget = LogSpinBox(low, float(param.maximum), float(param.default))
            self._spin(widget, lambda v: self._set_optimizer_param(name, float(v)))
        elif param.kind == "float" and param.name == "weight_decay":
            # Typical values are 0 or 1e-5..1e-2: decades, with 0 as "off".
            widget = LogSpinBox(1e-6, float(param.maximum), 0.0, allow_zero=True)
            self._spin(widget, lambda v: self._set_optimizer_param(name, float(v)))
        elif param.kind == "float":
            widget = CompactDoubleSpinBox()
            widget.setDecimals(4)
            widget.setSingleStep(0.01)
            high = float(param.maximum) - (1e-4 if param.exclusive_maximum else 0.0)
            low = float(param.minimum) + (1e-4 if param.exclusive_minimum else 0.0)
            widget.setRange(low, high)
            self._spin(widget, lambda v: self._set_optimizer_param(name, float(v)))
        else:  # int settings: none today, but the schema may grow
            widget = QSpinBox()
            widget.setRange(int(param.minimum if param.minimum is not None else 0),
                            int(param.maximum if param.maximum is not None else 2**31 - 1))
            self._spin(widget, lambda v: self._set_optimizer_param(name, int(v)))
        widget.setToolTip(_tooltip(label, param))
        return widget

    # -- edits ---------------------------------------------------------------------------------------------
    def _change_spec(self, text: str, merge_field: str | None = None, **changes: Any) -> bool:
        spec = self.document.spec.replace(**changes)
        if "optimizer" in changes:
            try:
                optimizer_from_config(dict(changes["optimizer"]))
            except SpecError as exc:  # the widgets' ranges should make this impossible
                self.document.notify(f"{text}: {exc}", "error")
                self._sync()
                return False
        self.document.change(text, spec=spec, merge_key=self._merge_key(merge_field) if merge_field else None)
        return True

    def _set_training(self, name: str, value: Any, text: str) -> None:
        if self._syncing or self.document.training_active:
            return
        training = replace(self.document.training, **{name: value})
        self.document.change(text, training=training, merge_key=self._merge_key(name))

    def _optimizer_config(self) -> dict[str, Any]:
        return dict(self.document.spec.optimizer)

    def _on_loss_combo_activated(self, index: int) -> None:
        name = self.loss_combo.itemData(index)
        if name != self.document.spec.loss and not self.document.training_active:
            self._change_spec(f"Use loss {LOSS_LABELS.get(name, name).lower()}", loss=name)
        self._sync()

    def _on_optimizer_combo_activated(self, index: int) -> None:
        name = self.optimizer_combo.itemData(index)
        old = self._optimizer_config()
        if name == old.get("type") or self.document.training_active:
            self._sync()
            return
        old_cls, new_cls = OPTIMIZERS.get(old.get("type")), OPTIMIZERS[name]
        defaults = {p.name: p.default for p in new_cls.schema}
        old_default_lr = (next((p.default for p in old_cls.schema if p.name == "learning_rate"), None)
                          if old_cls else None)
        config = {"type": name, **defaults}
        # Keep a learning rate the user chose; a default follows the optimizer's own default.
        if "learning_rate" in old and old["learning_rate"] != old_default_lr:
            config["learning_rate"] = old["learning_rate"]
        if "weight_decay" in old and "weight_decay" in config:
            config["weight_decay"] = old["weight_decay"]
        self._change_spec(f"Use optimizer {name}", optimizer=config)
        self._sync()

    def _on_lr_edit_range_note(self, note: str) -> None:
        self.lr_note.setText(note)
        self.lr_note.setVisible(bool(note))

    def _on_lr_edit_value_changed(self, value: float) -> None:
        if self._syncing:
            return
        if self.document.training_active:
            self._pending["learning_rate"] = float(value)
            self.learningRateRequested.emit(float(value))
            return
        config = self._optimizer_config() | {"learning_rate": float(value)}
        self._change_spec("Change learning rate", "learning_rate", optimizer=config)

    def _on_batch_spin_value_changed(self, value: int) -> None:
        if self._syncing:
            return
        if self.document.training_active:
            self._pending["batch_size"] = int(value)
            self.batchSizeRequested.emit(int(value))
            return
        self._set_training("batch_size", int(value), "Change batch size")

    def _on_seed_spin_value_changed(self, value: int) -> None:
        if not self._syncing and not self.document.training_active:
            self._change_spec("Change seed", "seed", seed=int(value))

    def _set_optimizer_param(self, name: str, value: Any) -> None:
        if self._syncing or self.document.training_active:
            return
        config = self._optimizer_config() | {name: value}
        if name == "momentum" and value == 0.0 and config.get("nesterov"):
            config["nesterov"] = False  # Nesterov needs momentum: turn it off in the same step
        self._change_spec(f"Change {PARAM_LABELS.get(name, name)}", name, optimizer=config)

    # -- following the document -------------------------------------------------------------------------
    _syncing = False

    def _sync(self) -> None:
        """Show the document's values; never emits edits (no feedback loop)."""
        self._syncing = True
        try:
            spec, training = self.document.spec, self.document.training
            optimizer = dict(spec.optimizer)
            self._rebuild_optimizer_form(str(optimizer.get("type", "")))
            _set(self.loss_combo, max(0, self.loss_combo.findData(spec.loss)))
            _set(self.optimizer_combo, max(0, self.optimizer_combo.findData(optimizer.get("type"))))
            self.loss_combo.setToolTip("Loss: " + _sentence(LOSS_HELP.get(spec.loss, spec.loss)))
            self.optimizer_combo.setToolTip("Optimizer: " + _sentence(OPTIMIZER_HELP.get(optimizer.get("type"), "")))
            if not (self.document.training_active and "learning_rate" in self._pending):
                _set(self.lr_edit, float(optimizer.get("learning_rate", self.lr_edit.value())))
            for name, widget in self._optimizer_widgets.items():
                if name in optimizer:
                    _set(widget, optimizer[name])
            nesterov = self._optimizer_widgets.get("nesterov")
            if nesterov is not None:
                nesterov.setEnabled(float(optimizer.get("momentum", 0.0)) > 0 and not self.document.training_active)
                if not nesterov.isEnabled() and float(optimizer.get("momentum", 0.0)) == 0:
                    nesterov.setToolTip(_tooltip("Nesterov momentum", next(
                        p for p in OPTIMIZERS["SGD"].schema if p.name == "nesterov")) + " Needs a momentum above 0.")
            _set(self.epochs_spin, training.epochs)
            if not (self.document.training_active and "batch_size" in self._pending):
                _set(self.batch_spin, training.batch_size)
            _set(self.split_spin, training.validation_split)
            _set(self.seed_spin, min(spec.seed, SEED_MAX))
            _set(self.shuffle_check, training.shuffle)
        finally:
            self._syncing = False

    def _on_document_spec_changed(self) -> None:
        self._sync()

    def _on_document_training_config_changed(self) -> None:
        self._sync()

    def _on_document_training_active_changed(self, active: bool) -> None:
        if active:
            self._pending = {}
        else:
            self._commit_pending()
        self._update_enabled()
        self._sync()

    def _commit_pending(self) -> None:
        """Write the values chosen during the run into the document (undoable)."""
        pending, self._pending = self._pending, {}
        lr = pending.get("learning_rate")
        if lr is not None and lr != self._optimizer_config().get("learning_rate"):
            self._change_spec("Change learning rate", optimizer=self._optimizer_config() | {"learning_rate": lr})
        batch = pending.get("batch_size")
        if batch is not None and batch != self.document.training.batch_size:
            self.document.change("Change batch size", training=replace(self.document.training, batch_size=batch))

    def _update_enabled(self) -> None:
        training = self.document.training_active
        for widget in (self.loss_combo, self.optimizer_combo, self.epochs_spin, self.split_spin, self.seed_spin,
                       self.shuffle_check, *self._optimizer_widgets.values()):
            widget.setEnabled(not training)
            label = self.form.labelForField(widget)
            if label is not None:
                label.setEnabled(not training)
        # Learning rate and batch size stay live: the controller applies them at the next batch.
        self.lr_edit.setEnabled(True)
        self.batch_spin.setEnabled(True)


def _set(widget: QWidget, value: Any) -> None:
    """Set a widget's value without emitting, and only when it differs (keeps the cursor)."""
    widget.blockSignals(True)
    try:
        if isinstance(widget, QComboBox):
            if widget.currentIndex() != value:
                widget.setCurrentIndex(value)
        elif isinstance(widget, QCheckBox):
            if widget.isChecked() != bool(value):
                widget.setChecked(bool(value))
        elif isinstance(widget, (QSpinBox, QDoubleSpinBox)) and widget.value() != value:
            widget.setValue(value)
    finally:
        widget.blockSignals(False)
