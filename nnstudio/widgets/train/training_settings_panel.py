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

Widgets are generated from the engine's schemas (``core.TrainingConfig.SCHEMA``, and the
optimizer's own settings are a ``SchemaForm`` over ``core.optimizers.OPTIMIZERS[name].schema``),
so a value the engine refuses cannot be entered; labels, steps and tooltips are the Params'.
Loss and optimizer names shown are the classes' own (``Loss.title``, the optimizer's summary).
A switch the engine refuses to turn on with the other current values (Nesterov without
momentum) is disabled with the engine's reason, and an edit that would make a switched-on
setting invalid turns it off in the same undo step.
"""

from __future__ import annotations

import contextlib
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
from core.losses import LOSSES
from core.optimizers import optimizer_from_config
from core.params import Param
from nnstudio.state.document import Document
from nnstudio.widgets.common.log_spin_box import LogSpinBox
from nnstudio.widgets.common.schema_form import CompactDoubleSpinBox, SchemaForm

__all__ = ["CompactDoubleSpinBox", "TrainingSettingsPanel", "loss_summary", "loss_title", "optimizer_summary"]

SEED_HELP = ("Seed for the initial weights, the shuffling and dropout: the same seed repeats a run exactly")
#: Learning-rate range offered (the engine accepts any value > 0 and ≤ 10).
LR_MIN, LR_MAX = 1e-6, 10.0
#: Seeds are stored as 63-bit integers; a spin box holds 31 bits, which is plenty to type.
SEED_MAX = 2**31 - 1


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _tooltip(label: str, param: Param) -> str:
    rng = param.range_text()
    return f"{label}: {_sentence(param.help)}" + (f" Allowed: {rng}." if rng else "")


def _training_param(name: str) -> Param:
    return next(p for p in TrainingConfig.SCHEMA if p.name == name)


def loss_title(name: str) -> str:
    """What the GUI calls a loss: its class's ``title`` ("Cross-entropy"), else its name."""
    cls = LOSSES.get(name)
    return getattr(cls, "title", "") or name


def loss_summary(name: str) -> str:
    """One line about a loss: its class's ``summary``, else its name."""
    cls = LOSSES.get(name)
    return getattr(cls, "summary", "") or name


def optimizer_summary(name: str) -> str:
    """One line about an optimizer: its class's ``summary`` or the first line of its docstring."""
    cls = OPTIMIZERS.get(name)
    if cls is None:
        return name
    text = getattr(cls, "summary", "") or (cls.__doc__ or name).strip().splitlines()[0]
    return text.rstrip(".")


def _without_owner(message: str) -> str:
    """"SGD: 'nesterov' needs …" -> "'nesterov' needs …" (the field already says whose)."""
    owner, sep, rest = message.partition(": ")
    return rest if sep and " " not in owner else message


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
        #: The optimizer's own settings (learning rate aside); rebuilt when its type changes.
        self.optimizer_form: SchemaForm | None = None
        self._labels: list[QLabel] = []
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
            self.loss_combo.addItem(loss_title(name), name)
            self.loss_combo.setItemData(self.loss_combo.count() - 1, _sentence(loss_summary(name)),
                                        Qt.ItemDataRole.ToolTipRole)
        self.loss_combo.activated.connect(self._on_loss_combo_activated)
        self._add_row("&Loss", self.loss_combo)

        self.optimizer_combo = QComboBox()
        self.optimizer_combo.setObjectName("optimizerCombo")
        for name in OPTIMIZERS:
            self.optimizer_combo.addItem(name, name)
            self.optimizer_combo.setItemData(self.optimizer_combo.count() - 1,
                                             _sentence(optimizer_summary(name)), Qt.ItemDataRole.ToolTipRole)
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
        self._labels.append(label)
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
        if self.optimizer_form is not None:
            self.form.removeRow(self.optimizer_form)  # deletes the form and its inputs
            self.optimizer_form = None
        cls = OPTIMIZERS.get(type_name)
        # The learning rate has its own log-scale field above (it stays live during a run).
        schema = [p for p in (cls.schema if cls is not None else ()) if p.name != "learning_rate"]
        if schema:
            form = self.optimizer_form = SchemaForm(schema, object_prefix="optimizer_", owner=type_name)
            form.setObjectName("optimizerSettings")
            # The same layout policies as the panel's own rows, so the two read as one form.
            form.form.setSpacing(self.form.spacing())
            form.form.setRowWrapPolicy(self.form.rowWrapPolicy())
            form.form.setFieldGrowthPolicy(self.form.fieldGrowthPolicy())
            form.form.setLabelAlignment(self.form.labelAlignment())
            form.valueEdited.connect(self._on_optimizer_form_value_edited)
            form.editingFinished.connect(self._on_field_editing_finished)
            row, _ = self.form.getWidgetPosition(self.lr_note)  # right after the learning rate's note
            self.form.insertRow(row + 1, form)
        self._align_labels()

    def _align_labels(self) -> None:
        """One label column for the panel's rows and the optimizer's (a nested form)."""
        labels = self._labels + (self.optimizer_form.labels() if self.optimizer_form is not None else [])
        for label in labels:
            label.setMinimumWidth(0)
        width = max((label.sizeHint().width() for label in labels), default=0)
        for label in labels:
            label.setMinimumWidth(width)

    def _update_optimizer_switches(self, optimizer: dict[str, Any]) -> None:
        """A switch the engine refuses to turn on with the current values is disabled, and its
        tooltip gives the engine's reason (Nesterov needs a momentum above 0)."""
        form, cls = self.optimizer_form, OPTIMIZERS.get(str(optimizer.get("type")))
        if form is None or cls is None:
            return
        for param in cls.schema:
            if param.kind != "bool" or param.name not in form.names():
                continue
            reason = ""
            if not optimizer.get(param.name):
                try:
                    optimizer_from_config(optimizer | {param.name: True})
                except SpecError as exc:
                    reason = _sentence(_without_owner(str(exc)))
            form.set_field_enabled(param.name, not reason and not self.document.training_active,
                                   f"Not available now: {reason}" if reason else "")

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
            self._change_spec(f"Use loss {loss_title(name).lower()}", loss=name)
        self._sync()

    def _on_optimizer_combo_activated(self, index: int) -> None:
        name = self.optimizer_combo.itemData(index)
        old = self._optimizer_config()
        if name == old.get("type") or self.document.training_active:
            self._sync()
            return
        old_cls, new_cls = OPTIMIZERS.get(old.get("type")), OPTIMIZERS[name]
        config: dict[str, Any] = {"type": name, **{p.name: p.default for p in new_cls.schema}}
        # Keep what the user chose in a setting both optimizers share (learning rate, weight
        # decay); a setting left at its default follows the new optimizer's own default.
        old_defaults = {p.name: p.default for p in (old_cls.schema if old_cls is not None else ())}
        for param in new_cls.schema:
            if param.name in old and param.name in old_defaults and old[param.name] != old_defaults[param.name]:
                with contextlib.suppress(SpecError):  # out of the new optimizer's range: its default
                    config[param.name] = param.check(old[param.name], name)
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

    def _on_optimizer_form_value_edited(self, name: str, value: Any) -> None:
        if self._syncing or self.document.training_active:
            return
        config = self._switch_off_what_the_edit_invalidates(self._optimizer_config() | {name: value}, name)
        cls = OPTIMIZERS.get(str(config.get("type")))
        title = next((p.title for p in (cls.schema if cls is not None else ()) if p.name == name), name)
        self._change_spec(f"Change {title}", name, optimizer=config)

    @staticmethod
    def _switch_off_what_the_edit_invalidates(config: dict[str, Any], edited: str) -> dict[str, Any]:
        """When the engine refuses ``config`` only because of a switched-on setting (momentum
        set to 0 with Nesterov on), that setting goes off in the same step."""
        try:
            optimizer_from_config(dict(config))
            return config
        except SpecError:
            pass
        for name, value in config.items():
            if name != edited and value is True:
                candidate = config | {name: False}
                try:
                    optimizer_from_config(dict(candidate))
                except SpecError:
                    continue
                return candidate
        return config  # still refused: _change_spec says why and keeps the document

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
            self.loss_combo.setToolTip("Loss: " + _sentence(loss_summary(spec.loss)))
            self.optimizer_combo.setToolTip("Optimizer: " + _sentence(optimizer_summary(str(optimizer.get("type")))))
            if not (self.document.training_active and "learning_rate" in self._pending):
                _set(self.lr_edit, float(optimizer.get("learning_rate", self.lr_edit.value())))
            if self.optimizer_form is not None:
                self.optimizer_form.set_values(optimizer)
            self._update_optimizer_switches(optimizer)
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
        optimizer_form = [self.optimizer_form] if self.optimizer_form is not None else []
        for widget in (self.loss_combo, self.optimizer_combo, self.epochs_spin, self.split_spin, self.seed_spin,
                       self.shuffle_check, *optimizer_form):
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
