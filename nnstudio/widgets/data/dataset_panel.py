"""The dataset panel (right column): choose, parametrise, import and download datasets.

- ``datasetCombo`` lists ``core.data.DATASETS`` (in the catalogue's order), the current
  imported file if any, and "Import IDX…" / "Import CSV…". A choice is loaded (checked)
  before it becomes an undoable ``document.change``; a DataError is shown with
  ``document.notify`` and the previous choice stays (the combo returns to it).
- Generated sets show their parameters as a ``SchemaForm`` over
  ``core.spec.dataset_fit.dataset_param_schema`` (object names ``datasetParam_<name>``); each edit is
  an undoable change (one undo step per field while it keeps focus).
- Info (``dataset_facts``: samples, input, classes; attribution) and a preview (``DatasetPreview``).
- When the network does not fit the dataset (``core.spec.dataset_fit.check_compatibility``) an
  inline notice offers ``fitNetworkButton``: ``core.spec.dataset_fit.fit_spec_to_dataset``, applied
  in the same undo step as the dataset choice that caused the mismatch when that choice is
  still the last edit.
- A catalogue set that takes seconds to build the first time (``LOADED_IN_BACKGROUND``: the
  pen digits, rendered stroke by stroke) is loaded off the GUI thread when chosen or when a
  setting changes: ``datasetLoading`` says so, the window stays responsive, and the choice
  becomes the document's (undoable) once the data is there; a newer choice or a change of
  the document's dataset meanwhile supersedes it; a failure is shown as for any choice.
- MNIST not on this computer: an inline notice with ``downloadMnistButton`` (progress bar
  ``downloadProgress``, ``cancelDownloadButton``; on failure the message and "Retry") and
  ``locateMnistButton`` (``dialogs.choose_folder``; the files are copied into nnstudio's
  data folder so they are found next time). Never a modal dialog. The notices are
  ``dataset_notices``; asking for import files is ``dataset_import``.

Image sets (digits, MNIST) are laid out to suit the network's first layer
(``core.spec.dataset_fit.layout_for_spec``: Conv2D -> images, Dense -> flat rows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGroupBox,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.data import DATASETS, MNIST_FILES, DataError, Dataset, find_mnist, locate_mnist_in
from core.spec.dataset_fit import (
    check_compatibility,
    dataset_param_schema,
    layout_for_spec,
    propose_dataset_fit,
)
from nnstudio.background.task_runner import TaskRunner
from nnstudio.controllers.mnist_download import DownloadProgress, MnistDownloader, adopt_mnist_copy
from nnstudio.messages import describe_failure
from nnstudio.state.document import DatasetChoice, DatasetUnavailable, Document, load_choice
from nnstudio.state.user_dataset import UserDrawings
from nnstudio.widgets.common.schema_form import SchemaForm
from nnstudio.widgets.data.dataset_facts import facts_html
from nnstudio.widgets.data.dataset_import import (
    IMPORT_CSV,
    IMPORT_IDX,
    ask_import,
    ask_located,
    busy,
    dataset_title,
    validate_choice,
)
from nnstudio.widgets.data.dataset_notices import MNIST_TOTAL_BYTES, MnistNotice, notice_frame
from nnstudio.widgets.data.dataset_preview import DatasetPreview

_CURRENT_IMPORT = "current-import"

#: Catalogue sets whose first load takes seconds (rendering every pen digit through the
#: canvas brush; later loads read the on-disk cache): loaded off the GUI thread.
LOADED_IN_BACKGROUND = frozenset({"pendigits"})


def _load_quietly(choice: DatasetChoice) -> tuple[DatasetChoice, Exception | None]:
    """Background job: load ``choice`` (this fills core's in-process cache, so loading it
    again in the GUI thread costs little); the error, if any, is returned to be shown."""
    try:
        load_choice(choice)
    except Exception as exc:  # broad on purpose: shown to the user as any failed choice is
        return choice, exc
    return choice, None


@dataclass
class _PendingLoad:
    """A choice being loaded in the background and what to do once it is ready."""

    choice: DatasetChoice
    then: Callable[[], object]


@dataclass
class _MergeWindow:
    """The last dataset change this panel made: the fit button merges into it while it is
    still the newest command on the undo stack."""

    key: str
    index: int
    choice: DatasetChoice


# Moved to dataset_import; importable from here as before.
__all__ = ["IMPORT_CSV", "IMPORT_IDX", "MNIST_TOTAL_BYTES", "DatasetPanel", "dataset_title", "validate_choice"]


class DatasetPanel(QGroupBox):
    """Dataset choice, parameters, info, preview, network-fit notice and MNIST download."""

    #: Emitted after a dataset choice made in this panel was applied (name).
    datasetChosen = Signal(str)

    def __init__(self, document: Document, dialogs: Any, parent: QWidget | None = None):
        super().__init__("Dataset", parent)
        self.setObjectName("datasetPanel")
        self.document = document
        self.dialogs = dialogs
        self.downloader = MnistDownloader(parent=self)
        self._merge: _MergeWindow | None = None
        self._change_count = 0
        self._param_session = 0
        self.params_form: SchemaForm | None = None  # the generated set's parameters
        self._param_name: str | None = None
        self._failed_choice: DatasetChoice | None = None
        self._want_mnist = False  # the user asked for MNIST: switch to it once it is here
        self._pending: _PendingLoad | None = None  # a choice loading in the background
        self._ready: DatasetChoice | None = None  # loaded in the background: apply it now
        self._loader = TaskRunner(self)
        self._loader.finished.connect(self._on_loader_finished)
        self._loader.failed.connect(self._on_loader_failed)
        self._build()
        document.datasetChanged.connect(self._on_document_dataset_changed)
        document.specChanged.connect(self._on_document_spec_changed)
        document.trainingActiveChanged.connect(self._on_document_training_active_changed)
        self.downloader.progressed.connect(self._on_downloader_progressed)
        self.downloader.finished.connect(self._on_downloader_finished)
        self.downloader.failed.connect(self._on_downloader_failed)
        self.downloader.cancelled.connect(self._on_downloader_cancelled)
        self._refresh()

    # -- construction ---------------------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        self.combo = QComboBox()
        self.combo.setObjectName("datasetCombo")
        self.combo.setToolTip("The data the network learns from; imported files appear here too")
        self.combo.setAccessibleName("Dataset")
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(10)
        self.combo.activated.connect(self._on_combo_activated)
        layout.addWidget(self.combo)

        self.loading_label = QLabel()
        self.loading_label.setObjectName("datasetLoading")
        self.loading_label.setWordWrap(True)
        self.loading_label.setStyleSheet("color: palette(placeholder-text);")
        self.loading_label.hide()
        layout.addWidget(self.loading_label)

        self.description = QLabel()
        self.description.setObjectName("datasetDescription")
        self.description.setWordWrap(True)
        layout.addWidget(self.description)

        self.params_box = QWidget()
        self.params_box.setObjectName("datasetParams")
        self._params_layout = QVBoxLayout(self.params_box)
        self._params_layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.params_box)

        self.drawings_check = QCheckBox("Include my drawings")
        self.drawings_check.setObjectName("includeDrawingsCheck")
        self.drawings_check.setToolTip("Add the drawings you kept from the Draw tab (right-click a prediction) "
                                       "to the training samples of the next run; the test set is unchanged")
        self.drawings_check.clicked.connect(self._on_drawings_check_clicked)
        layout.addWidget(self.drawings_check)

        self.info = QLabel()
        self.info.setObjectName("datasetInfo")
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.info)
        # Shown when an opened model's data files could not be re-opened (the message bar
        # offers the same; this one stays after the message is dismissed).
        self.locate_data_button = QPushButton("Locate…")
        self.locate_data_button.setObjectName("locateDataButton")
        self.locate_data_button.setToolTip("Choose where the file the model was trained on is now; the import's "
                                           "settings are kept")
        self.locate_data_button.clicked.connect(self.locate_dataset)
        self.locate_data_button.hide()
        layout.addWidget(self.locate_data_button, 0, Qt.AlignmentFlag.AlignLeft)

        self.preview = DatasetPreview()
        layout.addWidget(self.preview)

        self.compat_notice, self.compat_text = notice_frame("compatNotice", "warning")
        self.fit_button = QPushButton("Fix first and last layers")
        self.fit_button.setObjectName("fitNetworkButton")
        self.fit_button.setToolTip("Set the network's input to the dataset's samples and its last Dense layer "
                                   "to one output per class (undoable)")
        self.fit_button.clicked.connect(self._on_fit_button_clicked)
        self.compat_notice.layout().addWidget(self.fit_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.compat_notice)

        self.mnist_notice = MnistNotice()
        # The notice's parts, by the names the rest of the panel (and its tests) use.
        self.mnist_text = self.mnist_notice.text
        self.progress = self.mnist_notice.progress
        self.download_button = self.mnist_notice.download_button
        self.locate_button = self.mnist_notice.locate_button
        self.cancel_button = self.mnist_notice.cancel_button
        self.download_button.clicked.connect(self._on_download_button_clicked)
        self.locate_button.clicked.connect(self._on_locate_button_clicked)
        self.cancel_button.clicked.connect(self._on_cancel_button_clicked)
        # Right under the list: it answers the choice just made there.
        layout.insertWidget(layout.indexOf(self.combo) + 1, self.mnist_notice)
        self._set_mnist_state("hidden")

        self.attribution = QLabel()
        self.attribution.setObjectName("datasetAttribution")
        self.attribution.setWordWrap(True)
        self.attribution.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.attribution.font()
        font.setPointSizeF(max(7.0, font.pointSizeF() - 1.5))
        self.attribution.setFont(font)
        self.attribution.setStyleSheet("color: palette(placeholder-text);")
        layout.addWidget(self.attribution)
        layout.addStretch(1)  # spare height goes below, not between the rows
        self._fill_combo()

    def _fill_combo(self) -> None:
        self.combo.blockSignals(True)
        self.combo.clear()
        for name, info in DATASETS.items():  # the catalogue itself: a new entry is offered at once
            self.combo.addItem(info.title, name)
            self.combo.setItemData(self.combo.count() - 1, info.description, Qt.ItemDataRole.ToolTipRole)
        choice = self.document.dataset_choice
        if choice.name in (IMPORT_IDX, IMPORT_CSV):
            self.combo.addItem(f"Imported: {dataset_title(choice)}", _CURRENT_IMPORT)
            files = [str(v) for k, v in choice.params.items() if k in ("path", "images", "labels")]
            self.combo.setItemData(self.combo.count() - 1, "\n".join(files), Qt.ItemDataRole.ToolTipRole)
        self.combo.insertSeparator(self.combo.count())
        self.combo.addItem("Import IDX…", IMPORT_IDX)
        self.combo.setItemData(self.combo.count() - 1, "Images and labels in the IDX format MNIST uses (.gz or raw)",
                               Qt.ItemDataRole.ToolTipRole)
        self.combo.addItem("Import CSV…", IMPORT_CSV)
        self.combo.setItemData(self.combo.count() - 1, "A table with one sample per row and the class in the last "
                               "column", Qt.ItemDataRole.ToolTipRole)
        if self._pending is not None:  # the list shows what the user chose while it loads
            choice = self._pending.choice
        current = _CURRENT_IMPORT if choice.name in (IMPORT_IDX, IMPORT_CSV) else choice.name
        self.combo.setCurrentIndex(max(0, self.combo.findData(current)))
        self.combo.blockSignals(False)

    # -- public ---------------------------------------------------------------------------------
    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Stop a running download and wait for its thread and for a dataset loading in the
        background (call before the window closes)."""
        self._pending = None
        downloaded = self.downloader.shutdown(timeout_ms)
        return self._loader.wait(timeout_ms) and downloaded

    @property
    def loading_choice(self) -> DatasetChoice | None:
        """The choice being loaded in the background (None when none is)."""
        return None if self._pending is None else self._pending.choice

    def choose(self, name: str) -> bool:
        """Choose the named dataset as if picked in the combo. True when it was applied."""
        ok = self._choose_named(name)
        self._fill_combo()
        return ok

    # -- choosing ----------------------------------------------------------------------------------
    def _on_combo_activated(self, index: int) -> None:
        data = self.combo.itemData(index)
        if data in (IMPORT_IDX, IMPORT_CSV):
            self._import(data)
        elif data in DATASETS:
            self._choose_named(data)
        self._fill_combo()  # back to the document's choice when nothing changed

    def _choice_for(self, name: str) -> DatasetChoice:
        current = self.document.dataset_choice
        params = dict(current.params) if current.name == name else {}
        if "layout" in DATASETS[name].params:
            params["layout"] = layout_for_spec(self.document.spec)
        return DatasetChoice(name, params)

    def _choose_named(self, name: str) -> bool:
        if self.document.training_active:
            return False
        if name == "mnist" and find_mnist() is None:
            self._want_mnist = True
            if self.mnist_state not in ("downloading", "preparing"):  # a running download keeps its bar
                self._set_mnist_state("absent")
            return False
        return self._apply_choice(self._choice_for(name), f"Use dataset {dataset_title(DatasetChoice(name))}")

    def _apply_choice(self, choice: DatasetChoice, text: str, failure: str = "") -> bool:
        """Load ``choice``; on success make it the document's dataset (undoable). False when
        it could not be loaded, or is loading in the background (applied once ready)."""
        if choice == self.document.dataset_choice:
            self._pending = None  # back to the current choice: a pending one is given up
            self.loading_label.hide()
            return True
        if self._load_in_background(choice, lambda: self._apply_choice(choice, text, failure)):
            return False
        try:
            with busy():
                validate_choice(self.document, choice)
        except Exception as exc:  # broad on purpose: a slot that opens a file shows a sentence, never raises
            action = failure or f"{dataset_title(choice)} could not be loaded"
            text, details = describe_failure(action, exc, dataset_title(choice))
            self.document.notify(text, "error", details)
            return False
        self._change_count += 1
        key = f"dataset-choice-{id(self)}-{self._change_count}"
        self.document.change(text, dataset=choice, merge_key=key)
        self._merge = _MergeWindow(key, self.document.undo_stack.index(), choice)
        # The user has made a choice: a pending wish for MNIST is fulfilled or given up.
        self._want_mnist = False
        if self.mnist_state not in ("downloading", "preparing"):
            self._set_mnist_state("hidden")
        self.datasetChosen.emit(choice.name)
        return True

    def _import(self, kind: str) -> None:
        if self.document.training_active:
            return
        try:
            choice = ask_import(self.dialogs, kind, layout_for_spec(self.document.spec))
        except DataError as exc:
            self.document.notify(str(exc), "error")
            return
        if choice is not None:
            self._apply_choice(choice, f"Import {dataset_title(choice)}",
                               failure=f"Could not import {dataset_title(choice)}")

    def locate_dataset(self) -> bool:
        """Ask where the files of the current imported dataset are now (an opened model named
        files that could not be re-opened) and use them, keeping the import's settings.
        True when the located data was loaded and chosen (undoable)."""
        choice = self.document.dataset_choice
        if self.document.training_active or choice.name not in (IMPORT_IDX, IMPORT_CSV):
            return False
        try:
            located = ask_located(self.dialogs, choice)
        except DataError as exc:
            self.document.notify(str(exc), "error")
            return False
        if located is None:
            return False
        if located == choice:  # the same place again (the file is back): read it once more
            return self.document.retry_dataset()
        ok = self._apply_choice(located, f"Locate {dataset_title(located)}",
                                failure=f"Could not use {dataset_title(located)}")
        self._fill_combo()
        return ok

    # -- parameters of generated sets --------------------------------------------------------------
    def _rebuild_params(self, choice: DatasetChoice) -> None:
        # "layout" follows the network (flat rows or images); other choices (the pen digits'
        # rendering mode) are the user's.
        schema = [p for p in dataset_param_schema(choice.name) if p.name != "layout"] if choice.name in DATASETS else []
        if self._param_name != choice.name:
            self._param_name = choice.name
            if self.params_form is not None:
                self._params_layout.removeWidget(self.params_form)
                self.params_form.setParent(None)  # gone at once, not only once the event loop runs
                self.params_form.deleteLater()
                self.params_form = None
            if schema:
                # Each value regenerates the data: the form applies on Enter, focus loss or
                # arrow steps, never per keystroke (a half-typed number is not one the user meant).
                self.params_form = SchemaForm(schema, object_prefix="datasetParam_", owner=dataset_title(choice))
                self.params_form.valueEdited.connect(self._on_param_value_changed)
                self.params_form.editingFinished.connect(self._on_param_editing_finished)
                self._params_layout.addWidget(self.params_form)
        self.params_box.setVisible(bool(schema))
        if self.params_form is not None:
            self.params_form.set_values({p.name: p.default for p in schema} | dict(choice.params))

    def _on_param_value_changed(self, name: str, value: Any) -> None:
        choice = self.document.dataset_choice
        if self.document.training_active or choice.name not in DATASETS:
            return
        defaults = {p.name: p.default for p in dataset_param_schema(choice.name)}
        params = defaults | dict(choice.params) | {name: value}
        new = DatasetChoice(choice.name, params)
        if self._load_in_background(new, lambda: self._on_param_value_changed(name, value)):
            return
        try:
            validate_choice(self.document, new)
        except DataError as exc:  # the ranges should make this impossible; never lose the old choice
            self.document.notify(f"{dataset_title(choice)}: {exc}", "error")
            self._param_name = None  # rebuilt: the inputs show the document's values again
            self._rebuild_params(choice)
            return
        key = f"dataset-param-{id(self)}-{name}-{self._param_session}"
        title = next((p.title for p in dataset_param_schema(choice.name) if p.name == name), name)
        self.document.change(f"Change {dataset_title(choice)} {title.lower()}",
                             dataset=new, merge_key=key)
        self._merge = _MergeWindow(key, self.document.undo_stack.index(), new)

    def _on_param_editing_finished(self, _name: str = "") -> None:
        self._param_session += 1  # the next edit starts a new undo step

    # -- loading in the background -------------------------------------------------------------------
    def _load_in_background(self, choice: DatasetChoice, then: Callable[[], object]) -> bool:
        """Start loading ``choice`` off the GUI thread when it is slow to load and not in
        memory; ``then()`` runs once it is loaded (and runs the usual synchronous path, now
        quick). False when the caller should load it now; a pending load is then given up."""
        if choice == self._ready:
            self._ready = None
            return False
        if choice.name not in LOADED_IN_BACKGROUND or self.document.loaded_dataset(choice) is not None:
            self._pending = None  # a newer choice supersedes one still loading
            self.loading_label.hide()
            return False
        self._pending = _PendingLoad(choice, then)
        self._loader.submit("dataset", _load_quietly, choice)
        self.loading_label.setText(f"Loading {dataset_title(choice)}… The first time it takes a few seconds; "
                                   "you can keep working meanwhile.")
        self.loading_label.show()
        return True

    def _on_loader_finished(self, _kind: str, result: tuple[DatasetChoice, Exception | None]) -> None:
        choice, error = result
        pending = self._pending
        if pending is None or pending.choice != choice:
            return  # superseded by a newer choice, or the document's dataset changed meanwhile
        self._pending = None
        self.loading_label.hide()
        if error is not None:
            title = dataset_title(choice)
            text, details = describe_failure(f"{title} could not be loaded", error, title)
            self.document.notify(text, "error", details)
            self._param_name = None  # the settings show the document's values again
            self._refresh()
            return
        if self.document.training_active:  # choices wait for the end of training
            self._refresh()
            return
        self._ready = choice
        try:
            pending.then()
        finally:
            self._ready = None
        self._fill_combo()

    def _on_loader_failed(self, _kind: str, message: str, details: str) -> None:
        if self._pending is None:
            return
        title = dataset_title(self._pending.choice)
        self._pending = None
        self.loading_label.hide()
        self.document.notify(f"{title} could not be loaded ({message}).", "error", details)
        self._refresh()

    # -- fitting the network -------------------------------------------------------------------------
    def _fit_proposal(self, data: Dataset) -> tuple[Any, DatasetChoice] | None:
        """(fitted spec, dataset choice) that makes the network fit, or None when nothing needs
        changing or no complete fix exists: the same repair as the editor's Fix button
        (``core.spec.dataset_fit.propose_dataset_fit``)."""
        from nnstudio.state.readiness import choice_with_layout, facts_for

        choice = self.document.dataset_choice
        fit = propose_dataset_fit(self.document.spec, facts_for(choice, data))
        return None if fit is None else (fit.spec, choice_with_layout(choice, fit.layout))

    def _on_fit_button_clicked(self) -> None:
        data = self._current_data()
        if data is None or self.document.training_active:
            return
        proposal = self._fit_proposal(data)
        if proposal is None:
            return
        spec, choice = proposal
        if choice != self.document.dataset_choice:
            try:
                with busy():
                    validate_choice(self.document, choice)
            except DataError as exc:
                self.document.notify(f"{dataset_title(choice)} could not be loaded: {exc}", "error")
                return
        stack, merge = self.document.undo_stack, self._merge
        mergeable = (merge is not None and stack.index() == merge.index == stack.count()
                     and self.document.dataset_choice == merge.choice)
        self.document.change(f"Fit network to {dataset_title(choice)}", spec=spec,
                             dataset=choice if choice != self.document.dataset_choice else None,
                             merge_key=merge.key if mergeable else None)
        self._merge = None

    # -- refresh ------------------------------------------------------------------------------------------
    def _current_data(self) -> Dataset | None:
        choice = self.document.dataset_choice
        if choice == self._failed_choice:
            return None
        if choice.name == "mnist" and find_mnist() is None:
            return None
        try:
            with busy():
                return self.document.dataset()
        except DatasetUnavailable:
            return None  # loading in the background, or the user was told how to locate it
        except DataError as exc:
            self._failed_choice = choice
            self.document.notify(f"{dataset_title(choice)} could not be loaded: {exc}", "error")
            return None

    def _refresh(self) -> None:
        choice = self.document.dataset_choice
        self._fill_combo()
        self._rebuild_params(choice)
        info = DATASETS.get(choice.name)
        self.description.setText(info.description if info is not None else
                                 f"Imported from {dataset_title(choice)}")
        mnist_missing = choice.name == "mnist" and find_mnist() is None
        if mnist_missing:
            self._want_mnist = True
            if self.mnist_state not in ("downloading", "preparing"):
                self._set_mnist_state("absent")
        elif self.mnist_state in ("absent", "ready") and not self._want_mnist:
            self._set_mnist_state("hidden")
        data = self._current_data()
        self._show_data(data, choice)
        self.locate_data_button.setVisible(bool(self.document.dataset_problem(choice) and choice.files()))
        self._update_drawings_check(data, choice)
        self._update_compat(data)
        self._update_enabled()

    def _update_drawings_check(self, data: Dataset | None, choice: DatasetChoice) -> None:
        """Offered for MNIST once the user has kept drawings from the Draw tab."""
        count = 0
        if data is not None and choice.name == "mnist":
            try:
                count = UserDrawings.load().count
            except DataError:
                count = 0
        included = bool(choice.params.get("include_drawings", False))
        self.drawings_check.setVisible(count > 0 or included)
        self.drawings_check.setText(f"Include my drawings ({count:,})")
        self.drawings_check.setChecked(included)

    def drawings_changed(self) -> None:
        """The user's kept drawings changed (Draw tab): update the offer and its count."""
        self._update_drawings_check(self._current_data(), self.document.dataset_choice)

    def _on_drawings_check_clicked(self, checked: bool) -> None:
        choice = self.document.dataset_choice
        params = {k: v for k, v in choice.params.items() if k != "include_drawings"}
        if checked:
            params["include_drawings"] = True
        text = "Include my drawings" if checked else "Leave out my drawings"
        if not self._apply_choice(DatasetChoice(choice.name, params), text):
            self._refresh()

    def _show_data(self, data: Dataset | None, choice: DatasetChoice) -> None:
        self.preview.set_dataset(data)
        self.preview.setVisible(data is not None)
        if data is None:
            if choice.name == "mnist" and find_mnist() is None:
                self.info.setText("MNIST is not on this computer yet: download it or locate a folder below.")
            elif self.document.dataset_loading(choice):
                self.info.setText(f"Loading {dataset_title(choice)}…")
            elif self.document.dataset_problem(choice):
                self.info.setText(self.document.dataset_problem(choice) or "")
            else:
                self.info.setText(f"{dataset_title(choice)} could not be loaded (see the message above).")
            self.attribution.setText("")
            self.attribution.hide()
            return
        self.info.setText(facts_html(data))
        self.attribution.setText(data.attribution)
        self.attribution.setVisible(bool(data.attribution))

    def _update_compat(self, data: Dataset | None) -> None:
        if data is None:
            self.compat_notice.hide()
            return
        choice = self.document.dataset_choice
        problems = check_compatibility(self.document.spec, data.input_shape, data.n_classes, dataset_title(choice))
        if not problems:
            self.compat_notice.hide()
            return
        lines = [p.message + "." for p in problems]
        proposal = self._fit_proposal(data)
        self.fit_button.setVisible(proposal is not None)
        if proposal is None:
            fixes = [p.fix for p in problems if p.fix]
            lines.append("Change the network in the layer editor" + (f": {fixes[0]}." if fixes else "."))
        self.compat_text.setText("\n".join(lines))
        self.compat_notice.show()

    def _update_enabled(self) -> None:
        training = self.document.training_active
        for widget in (self.combo, self.params_box, self.fit_button, self.locate_button, self.drawings_check,
                       self.locate_data_button):
            widget.setEnabled(not training)
        if training:
            self.combo.setToolTip("The dataset cannot change while training runs")
        else:
            self.combo.setToolTip("The data the network learns from; imported files appear here too")

    def _on_document_dataset_changed(self) -> None:
        self._failed_choice = None
        if self._pending is not None:  # undo, redo or another file: the document's choice wins
            self._pending = None
            self.loading_label.hide()
        self._refresh()

    def _on_document_spec_changed(self) -> None:
        self._update_compat(self._current_data())

    def _on_document_training_active_changed(self, active: bool) -> None:
        self._update_enabled()
        if not active and self._want_mnist and self.mnist_state == "ready":
            self._choose_named("mnist")

    # -- MNIST: download and locate -------------------------------------------------------------------
    @property
    def mnist_state(self) -> str:
        """What the MNIST notice shows: one of ``dataset_notices.MNIST_STATES``."""
        return self.mnist_notice.state

    def _set_mnist_state(self, state: str, message: str = "") -> None:
        current = dataset_title(self.document.dataset_choice)
        keeps = "" if self.document.dataset_choice.name == "mnist" else f"{current} stays selected meanwhile."
        self.mnist_notice.set_state(state, message, keeps, self.document.training_active)

    def _on_download_button_clicked(self) -> None:
        self._want_mnist = True
        if self.downloader.start():
            self._set_mnist_state("downloading")

    def _on_cancel_button_clicked(self) -> None:
        self.mnist_notice.show_cancelling()
        self.downloader.cancel()

    def _on_downloader_progressed(self, _kind: str, progress: DownloadProgress) -> None:
        if progress.preparing:
            self._set_mnist_state("preparing")
            return
        self.mnist_notice.show_progress(progress.done, progress.total, progress.file_name)

    def _on_downloader_finished(self, _kind: str, _folder: str) -> None:
        self._mnist_arrived()

    def _on_downloader_failed(self, _kind: str, message: str, _details: str) -> None:
        self._set_mnist_state("failed", message)

    def _on_downloader_cancelled(self, _kind: str) -> None:
        self._set_mnist_state("cancelled")

    def _on_locate_button_clicked(self) -> None:
        folder = self.dialogs.choose_folder("Locate a folder holding MNIST")
        if not folder:
            return
        location = locate_mnist_in(folder)
        if location is None:
            expected = ", ".join(name.removesuffix(".gz") + "(.gz)" for name, _, _ in MNIST_FILES)
            self._set_mnist_state(
                "wrong-folder",
                f"No MNIST in {folder}. Expected the four files {expected} (or Keras' mnist.npz), in that folder "
                f"or its mnist/ or MNIST/raw/ subfolder.")
            return
        try:
            with busy():
                adopt_mnist_copy(location)  # copied so it is found next time; checked; removed if bad
        except DataError as exc:
            self._set_mnist_state("wrong-folder", f"MNIST in {folder} cannot be used: {exc}")
            return
        self._want_mnist = True
        self._mnist_arrived()

    def _mnist_arrived(self) -> None:
        """MNIST is now in nnstudio's data folder: switch to it if the user still wants it
        (refresh when the document already names it), else say it is ready."""
        if self.document.training_active or not self._want_mnist:
            self._set_mnist_state("ready")
            return
        self._set_mnist_state("hidden")
        if self.document.dataset_choice.name == "mnist":
            self._failed_choice = None
            self._want_mnist = False
            self._refresh()
        elif not self._choose_named("mnist"):
            self._set_mnist_state("ready")
