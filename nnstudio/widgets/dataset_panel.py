"""The dataset panel (right column): choose, parametrise, import and download datasets.

- ``datasetCombo`` lists ``core.data.DATASETS`` (in ``DATASET_NAMES`` order), the current
  imported file if any, and "Import IDX…" / "Import CSV…". A choice is loaded (checked)
  before it becomes an undoable ``document.change``; a DataError is shown with
  ``document.notify`` and the previous choice stays (the combo returns to it).
- Generated sets show their parameters (n_samples, noise, seed, n_classes) as spin boxes;
  each edit is an undoable change (one undo step per field while it keeps focus).
- Info (samples, input, classes, attribution) and a preview (``DatasetPreview``).
- When the network does not fit the dataset (``core.compat.check_compatibility``) an
  inline notice offers ``fitNetworkButton``: ``core.compat.fit_spec_to_dataset``, applied
  in the same undo step as the dataset choice that caused the mismatch when that choice is
  still the last edit.
- MNIST not on this computer: an inline notice with ``downloadMnistButton`` (progress bar
  ``downloadProgress``, ``cancelDownloadButton``; on failure the message and "Retry") and
  ``locateMnistButton`` (``dialogs.choose_folder``; the files are copied into nnstudio's
  data folder so they are found next time). Never a modal dialog.

Image sets (digits, MNIST) are laid out to suit the network's first layer
(``core.compat.layout_for_spec``: Conv2D -> images, Dense -> flat rows).
"""

from __future__ import annotations

import contextlib
import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.compat import (
    check_compatibility,
    dataset_param_schema,
    describe_input,
    image_shape_for,
    layout_for_spec,
    propose_dataset_fit,
)
from core.data import DATASET_NAMES, DATASETS, MNIST_FILES, DataError, Dataset, find_mnist, load_mnist, locate_mnist_in
from core.params import Param

from ..document import DatasetChoice, DatasetUnavailable, Document
from ..messages import describe_failure
from ..mnist_download import DownloadProgress, MnistDownloader, adopt_mnist_copy, mnist_folder
from ..theme import style_notice
from ..user_dataset import UserDrawings
from .dataset_preview import DatasetPreview

IMPORT_IDX = "import-idx"
IMPORT_CSV = "import-csv"
_CURRENT_IMPORT = "current-import"
_MB = 1_000_000
MNIST_TOTAL_BYTES = sum(size for _, size, _ in MNIST_FILES)
_PARAM_LABELS = {"n_samples": "Samples", "noise": "Noise", "seed": "Data seed", "n_classes": "Classes"}


def dataset_title(choice: DatasetChoice) -> str:
    """Short name for messages: "Digits 8×8", "MNIST", "data.csv"."""
    if choice.name == IMPORT_CSV:
        return Path(str(choice.params.get("path", "CSV file"))).name
    if choice.name == IMPORT_IDX:
        return Path(str(choice.params.get("images", "IDX files"))).name
    info = DATASETS.get(choice.name)
    return info.title.split(" (")[0] if info is not None else choice.name


def validate_choice(document: Document, choice: DatasetChoice) -> None:
    """Raise DataError when ``choice`` cannot be loaded. For MNIST only the raw files are
    decoded (shared in-memory cache), so the document's own load then costs little."""
    if choice.name == "mnist":
        location = find_mnist()
        if location is None:
            raise DataError("MNIST was not found on this computer")
        load_mnist(location)
        return
    document.load_dataset(choice)  # cached: the switch that follows does not load it again


@contextlib.contextmanager
def _busy():
    QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
    try:
        yield
    finally:
        QGuiApplication.restoreOverrideCursor()


@dataclass
class _MergeWindow:
    """The last dataset change this panel made: the fit button merges into it while it is
    still the newest command on the undo stack."""

    key: str
    index: int
    choice: DatasetChoice


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
        self._param_widgets: dict[str, QWidget] = {}
        self._param_name: str | None = None
        self._failed_choice: DatasetChoice | None = None
        self._want_mnist = False  # the user asked for MNIST: switch to it once it is here
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

        self.description = QLabel()
        self.description.setObjectName("datasetDescription")
        self.description.setWordWrap(True)
        layout.addWidget(self.description)

        self.params_box = QWidget()
        self.params_box.setObjectName("datasetParams")
        self.params_form = QFormLayout(self.params_box)
        self.params_form.setContentsMargins(0, 0, 0, 0)
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

        self.compat_notice, self.compat_text = self._notice("compatNotice", "warning")
        self.fit_button = QPushButton("Fix first and last layers")
        self.fit_button.setObjectName("fitNetworkButton")
        self.fit_button.setToolTip("Set the network's input to the dataset's samples and its last Dense layer "
                                   "to one output per class (undoable)")
        self.fit_button.clicked.connect(self._on_fit_button_clicked)
        self.compat_notice.layout().addWidget(self.fit_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.compat_notice)

        self.mnist_notice, self.mnist_text = self._notice("mnistNotice", "info")
        self.progress = QProgressBar()
        self.progress.setObjectName("downloadProgress")
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress.setAccessibleName("MNIST download progress")
        self.mnist_notice.layout().addWidget(self.progress)
        buttons = QHBoxLayout()
        self.download_button = QPushButton("Download (11.6 MB)")
        self.download_button.setObjectName("downloadMnistButton")
        self.download_button.setToolTip(f"Download MNIST from a public mirror into {mnist_folder()}; "
                                        "files are checked against their published checksums")
        self.download_button.clicked.connect(self._on_download_button_clicked)
        self.locate_button = QPushButton("Locate folder…")
        self.locate_button.setObjectName("locateMnistButton")
        self.locate_button.setToolTip("Use a copy of MNIST already on this computer (the four IDX files or "
                                      "Keras' mnist.npz)")
        self.locate_button.clicked.connect(self._on_locate_button_clicked)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelDownloadButton")
        self.cancel_button.setToolTip("Stop the download; it resumes where it stopped next time")
        self.cancel_button.clicked.connect(self._on_cancel_button_clicked)
        for button in (self.download_button, self.locate_button, self.cancel_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        self.mnist_notice.layout().addLayout(buttons)
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

    def _notice(self, name: str, level: str) -> tuple[QFrame, QLabel]:
        frame = QFrame()
        frame.setObjectName(name)
        frame.setFrameShape(QFrame.Shape.StyledPanel)
        style_notice(frame, level, f"#{name} QLabel")  # light or dark colours, recoloured on a theme switch
        box = QVBoxLayout(frame)
        box.setContentsMargins(8, 6, 8, 6)
        text = QLabel()
        text.setObjectName(name + "Text")
        text.setWordWrap(True)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.addWidget(text)
        frame.hide()
        return frame, text

    def _fill_combo(self) -> None:
        self.combo.blockSignals(True)
        self.combo.clear()
        for name in DATASET_NAMES:
            info = DATASETS[name]
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
        current = _CURRENT_IMPORT if choice.name in (IMPORT_IDX, IMPORT_CSV) else choice.name
        self.combo.setCurrentIndex(max(0, self.combo.findData(current)))
        self.combo.blockSignals(False)

    # -- public ---------------------------------------------------------------------------------
    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Stop a running download and wait for its thread (call before the window closes)."""
        return self.downloader.shutdown(timeout_ms)

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
        """Load ``choice``; on success make it the document's dataset (undoable)."""
        if choice == self.document.dataset_choice:
            return True
        try:
            with _busy():
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
        if kind == IMPORT_CSV:
            paths = self.dialogs.open_data_paths("Import CSV", "CSV files (*.csv *.txt *.tsv);;All files (*)")
            if not paths:
                return
            choice = DatasetChoice(IMPORT_CSV, {"path": str(paths[0])})
        else:
            paths = self.dialogs.open_data_paths("Import IDX: choose the images file and the labels file",
                                                 "IDX files (*-ubyte *-ubyte.gz *.idx* *.gz);;All files (*)",
                                                 multiple=True)
            if not paths:
                return
            pair = self._idx_pair(paths)
            if pair is None:
                self.document.notify(
                    f"Import IDX needs two files, the images (idx3) and the labels (idx1); {len(paths)} "
                    f"{'was' if len(paths) == 1 else 'were'} chosen. Select both files at once.", "error")
                return
            choice = DatasetChoice(IMPORT_IDX, {"images": pair[0], "labels": pair[1],
                                                "layout": layout_for_spec(self.document.spec)})
        self._apply_choice(choice, f"Import {dataset_title(choice)}",
                           failure=f"Could not import {dataset_title(choice)}")

    def locate_dataset(self) -> bool:
        """Ask where the files of the current imported dataset are now (an opened model named
        files that could not be re-opened) and use them, keeping the import's settings.
        True when the located data was loaded and chosen (undoable)."""
        choice = self.document.dataset_choice
        if self.document.training_active or choice.name not in (IMPORT_IDX, IMPORT_CSV):
            return False
        if choice.name == IMPORT_CSV:
            paths = self.dialogs.open_data_paths(f"Locate {dataset_title(choice)}",
                                                 "CSV files (*.csv *.txt *.tsv);;All files (*)")
            if not paths:
                return False
            located = DatasetChoice(IMPORT_CSV, {**choice.params, "path": str(paths[0])})
        else:
            paths = self.dialogs.open_data_paths(f"Locate {dataset_title(choice)}: choose the images file and the "
                                                 "labels file", "IDX files (*-ubyte *-ubyte.gz *.idx* *.gz);;All "
                                                 "files (*)", multiple=True)
            pair = self._idx_pair(paths) if paths else None
            if pair is None:
                if paths:
                    self.document.notify("Locate the IDX data by selecting both files at once: the images (idx3) "
                                         "and the labels (idx1).", "error")
                return False
            located = DatasetChoice(IMPORT_IDX, {**choice.params, "images": pair[0], "labels": pair[1]})
        if located == choice:  # the same place again (the file is back): read it once more
            return self.document.retry_dataset()
        ok = self._apply_choice(located, f"Locate {dataset_title(located)}",
                                failure=f"Could not use {dataset_title(located)}")
        self._fill_combo()
        return ok

    @staticmethod
    def _idx_pair(paths: list[str]) -> tuple[str, str] | None:
        """(images, labels) from two chosen paths: the labels file names "label" or "idx1"."""
        if len(paths) != 2:
            return None
        def is_labels(p: str) -> bool:
            name = Path(p).name.lower()
            return "label" in name or "idx1" in name
        first, second = (str(p) for p in paths)
        return (second, first) if is_labels(first) and not is_labels(second) else (first, second)

    # -- parameters of generated sets --------------------------------------------------------------
    def _rebuild_params(self, choice: DatasetChoice) -> None:
        schema = [p for p in dataset_param_schema(choice.name) if p.kind != "choice"] if choice.name in DATASETS else []
        if self._param_name != choice.name:
            self._param_name = choice.name
            while self.params_form.rowCount():
                self.params_form.removeRow(0)
            self._param_widgets = {}
            for param in schema:
                widget = self._param_widget(param)
                self._param_widgets[param.name] = widget
                label = QLabel(_PARAM_LABELS.get(param.name, param.name))
                label.setToolTip(widget.toolTip())
                label.setBuddy(widget)
                self.params_form.addRow(label, widget)
        self.params_box.setVisible(bool(schema))
        values = {p.name: p.default for p in schema} | dict(choice.params)
        for name, widget in self._param_widgets.items():
            widget.blockSignals(True)
            widget.setValue(values[name])
            widget.blockSignals(False)

    def _param_widget(self, param: Param) -> QAbstractSpinBox:
        if param.kind == "int":
            widget: QAbstractSpinBox = QSpinBox()
            widget.setRange(int(param.minimum), int(param.maximum))
            widget.setGroupSeparatorShown(param.name == "n_samples")
            if param.name == "n_samples":
                widget.setSingleStep(100)
        else:
            widget = QDoubleSpinBox()
            widget.setDecimals(3)
            widget.setSingleStep(0.01)
            widget.setRange(float(param.minimum), float(param.maximum))
        widget.setObjectName(f"datasetParam_{param.name}")
        widget.setToolTip(param.help[:1].upper() + param.help[1:])
        widget.setAccessibleName(_PARAM_LABELS.get(param.name, param.name))
        # Apply on Enter, focus loss or arrow steps, not per keystroke: each value regenerates
        # the data, and a half-typed number is not one the user meant.
        widget.setKeyboardTracking(False)
        widget.valueChanged.connect(lambda value, n=param.name: self._on_param_value_changed(n, value))
        widget.editingFinished.connect(self._on_param_editing_finished)
        return widget

    def _on_param_value_changed(self, name: str, value) -> None:
        choice = self.document.dataset_choice
        if self.document.training_active or choice.name not in DATASETS:
            return
        defaults = {p.name: p.default for p in dataset_param_schema(choice.name)}
        params = defaults | dict(choice.params) | {name: value}
        new = DatasetChoice(choice.name, params)
        try:
            validate_choice(self.document, new)
        except DataError as exc:  # the ranges should make this impossible; never lose the old choice
            self.document.notify(f"{dataset_title(choice)}: {exc}", "error")
            self._rebuild_params(choice)
            return
        key = f"dataset-param-{id(self)}-{name}-{self._param_session}"
        self.document.change(f"Change {dataset_title(choice)} {_PARAM_LABELS.get(name, name).lower()}",
                             dataset=new, merge_key=key)
        self._merge = _MergeWindow(key, self.document.undo_stack.index(), new)

    def _on_param_editing_finished(self) -> None:
        self._param_session += 1  # the next edit starts a new undo step

    # -- fitting the network -------------------------------------------------------------------------
    def _fit_proposal(self, data: Dataset) -> tuple[Any, DatasetChoice] | None:
        """(fitted spec, dataset choice) that makes the network fit, or None when nothing needs
        changing or no complete fix exists: the same repair as the editor's Fix button
        (``core.compat.propose_dataset_fit``)."""
        from ..readiness import choice_with_layout, facts_for

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
                with _busy():
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
            with _busy():
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
        samples = f"{data.n_samples:,} samples"
        if data.y_test is not None:
            samples += f" + {len(data.y_test):,} official test samples"
        shape = describe_input(data.input_shape)
        image = image_shape_for(data.input_shape, data.preprocessing)
        if image is not None and len(data.input_shape) == 1:
            shape += f" ({image[0]}×{image[1]} images as flat rows, for Dense layers)"
        elif image is not None:
            shape += " (for Conv2D layers)"
        names = list(data.class_names)
        shown = ", ".join(names[:12]) + (f", … ({len(names) - 12} more)" if len(names) > 12 else "")
        # Class names come from files: escape them, the label shows rich text.
        self.info.setText(f"<b>{samples}</b><br>Input: {html.escape(shape)}<br>{data.n_classes} classes: "
                          f"{html.escape(shown)}")
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
        self._refresh()

    def _on_document_spec_changed(self) -> None:
        self._update_compat(self._current_data())

    def _on_document_training_active_changed(self, active: bool) -> None:
        self._update_enabled()
        if not active and self._want_mnist and self.mnist_state == "ready":
            self._choose_named("mnist")

    # -- MNIST: download and locate -------------------------------------------------------------------
    mnist_state = "hidden"

    def _set_mnist_state(self, state: str, message: str = "") -> None:
        """hidden | absent | downloading | preparing | failed | cancelled | wrong-folder | ready."""
        self.mnist_state = state
        current = dataset_title(self.document.dataset_choice)
        keeps = "" if self.document.dataset_choice.name == "mnist" else f" {current} stays selected meanwhile."
        texts = {
            "absent": "MNIST is not on this computer yet. Download it (11.6 MB) into nnstudio's data folder, "
                      "or locate a folder that already holds it." + keeps,
            "downloading": "Downloading MNIST…",
            "preparing": "Checking and unpacking MNIST…",
            "failed": message,
            "cancelled": "Download cancelled. Downloading again resumes where it stopped." + keeps,
            "wrong-folder": message,
            "ready": "MNIST is ready: choose it in the list above"
                     + (" once training has stopped." if self.document.training_active else "."),
        }
        self.mnist_text.setText(texts.get(state, ""))
        self.mnist_notice.setVisible(state != "hidden")
        active = state in ("downloading", "preparing")
        self.progress.setVisible(active)
        self.cancel_button.setVisible(state == "downloading")
        self.download_button.setVisible(state in ("absent", "failed", "cancelled", "wrong-folder"))
        self.locate_button.setVisible(state in ("absent", "failed", "cancelled", "wrong-folder"))
        self.download_button.setText({"failed": "Retry", "cancelled": "Resume download"}.get(state,
                                                                                            "Download (11.6 MB)"))
        if state == "preparing":
            self.progress.setRange(0, 0)  # busy indicator: decoding reports no progress
        elif state == "downloading":
            self.progress.setRange(0, 1000)
            self.progress.setValue(0)
            self.progress.setFormat("Starting…")

    def _on_download_button_clicked(self) -> None:
        self._want_mnist = True
        if self.downloader.start():
            self._set_mnist_state("downloading")

    def _on_cancel_button_clicked(self) -> None:
        self.cancel_button.setEnabled(False)
        self.mnist_text.setText("Cancelling…")
        self.downloader.cancel()

    def _on_downloader_progressed(self, _kind: str, progress: DownloadProgress) -> None:
        if progress.preparing:
            self._set_mnist_state("preparing")
            return
        if self.mnist_state != "downloading":
            return
        done, total, name = progress.done, progress.total, progress.file_name
        self.progress.setValue(int(1000 * done / total) if total else 0)
        self.progress.setFormat(f"{done / _MB:.1f} of {total / _MB:.1f} MB")
        self.mnist_text.setText(f"Downloading MNIST: {name}")

    def _on_downloader_finished(self, _kind: str, _folder: str) -> None:
        self.cancel_button.setEnabled(True)
        self._mnist_arrived()

    def _on_downloader_failed(self, _kind: str, message: str, _details: str) -> None:
        self.cancel_button.setEnabled(True)
        self._set_mnist_state("failed", message)

    def _on_downloader_cancelled(self, _kind: str) -> None:
        self.cancel_button.setEnabled(True)
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
            with _busy():
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
