"""The *Data & features* dock: open a project, import a folder or VOC set, extract features."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qtpy.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from napari_tsne_label._widgets.qt_helpers import (
    ProgressJobMixin,
    on_click,
    progress_worker,
    reports_user_errors,
)
from napari_tsne_label._widgets.workspace import Workspace
from napari_tsne_label.errors import UserInputError
from napari_tsne_label.features.backbones import DEFAULT_BACKBONE
from napari_tsne_label.features.extraction import METHODS
from napari_tsne_label.progress import Progress


class DataFeaturesWidget(ProgressJobMixin, QWidget):
    """Open or import data into a project and run a feature extraction with progress and Cancel."""

    def __init__(self, napari_viewer: Any):
        super().__init__()
        self.viewer = napari_viewer
        self.workspace = Workspace.of(napari_viewer)
        self.worker: Any = None
        self._cancelling = False
        self._napari_progress: Any = None
        layout = QVBoxLayout(self)
        layout.addWidget(self._build_data_box())
        layout.addWidget(self._build_features_box())
        self.progress = QProgressBar()
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        on_click(self.cancel_button, self.cancel)
        row = QHBoxLayout()
        row.addWidget(self.progress)
        row.addWidget(self.cancel_button)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addStretch(1)
        self.workspace.project_changed.connect(self._on_project_changed)
        self._on_project_changed()

    def _build_data_box(self) -> QGroupBox:
        box = QGroupBox("Data")
        layout = QVBoxLayout(box)
        self.project_label = QLabel("no project open")
        self.project_label.setWordWrap(True)
        buttons = QHBoxLayout()
        self.open_button = QPushButton("Open project…")
        self.import_button = QPushButton("Import folder / VOC…")
        self.sample_button = QPushButton("Blood-cell sample")
        for button in (self.open_button, self.import_button, self.sample_button):
            buttons.addWidget(button)
        layout.addWidget(self.project_label)
        layout.addLayout(buttons)
        on_click(self.open_button, self._ask_open_project)
        on_click(self.import_button, self._ask_import)
        on_click(self.sample_button, self.open_sample)
        return box

    def _build_features_box(self) -> QGroupBox:
        box = QGroupBox("Features")
        form = QFormLayout(box)
        self.method = QComboBox()
        self.method.addItems(list(METHODS))
        self.method.setCurrentText("im")
        self.backbone = QLineEdit(DEFAULT_BACKBONE)
        self.extract_button = QPushButton("Extract")
        self.features_label = QLabel("")
        form.addRow("method", self.method)
        form.addRow("backbone", self.backbone)
        form.addRow(self.extract_button)
        form.addRow("stored", self.features_label)
        on_click(self.extract_button, self.extract)
        return box

    # ------------------------------------------------------------------ data

    def open_project(self, path: str | Path) -> None:
        """Open the project at ``path`` in the workspace."""
        self.workspace.open_project(path)

    def open_sample(self) -> None:
        """Open the bundled blood-cell sample project (imported once, then cached)."""
        from napari_tsne_label.sample_data import blood_cell_project

        self._run(blood_cell_project(), "importing the blood-cell sample", self.open_project)

    def import_folder(self, source: str | Path, project_path: str | Path) -> None:
        """Import a class folder, flat folder or VOC set into a new project, then open it."""
        from napari_tsne_label.importing import import_folder

        self._run(import_folder(source, project_path), f"importing {source}", self._open_imported)

    def _open_imported(self, project: Any) -> None:
        path = project.path
        project.close()
        self.open_project(path)

    def _ask_open_project(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a project (*.ntl.zarr)")
        if path:
            self.open_project(path)

    def _ask_import(self) -> None:
        source = QFileDialog.getExistingDirectory(self, "Folder of images or Pascal-VOC set")
        if not source:
            return
        default = str(Path(source).with_suffix(".ntl.zarr"))
        target, _ = QFileDialog.getSaveFileName(self, "New project", default)
        if target:
            self.import_folder(source, target)

    # ------------------------------------------------------------------ features

    def extract(self) -> None:
        """Extract the chosen method's features in a worker (stored features are reused)."""
        from napari_tsne_label.features.extraction import ExtractionSettings
        from napari_tsne_label.features.extraction import extract as extract_features

        project = self.workspace.require_project()
        settings = ExtractionSettings(
            method=self.method.currentText(),
            backbone=self.backbone.text().strip() or DEFAULT_BACKBONE,
        )
        self._run(
            extract_features(project, settings),
            f"extracting {settings.method} features",
            lambda _features: self._on_extracted(settings.method),
        )

    def _on_extracted(self, method: str) -> None:
        self.workspace.settings.method = method
        self.workspace.project_changed.emit()

    # ------------------------------------------------------------------ worker

    @property
    def busy(self) -> bool:
        """Whether an import or extraction is running."""
        return self.worker is not None

    def _run(self, generator: Any, description: str, on_result: Any) -> None:
        """Drain a progress generator in a thread worker with a progress bar and Cancel."""
        if self.busy:
            raise UserInputError("wait for the running job to finish or cancel it")
        from napari.utils import progress

        worker = progress_worker(
            generator,
            yielded=self._on_progress,
            returned=reports_user_errors(on_result),
            errored=self._on_error,
            finished=self._on_finished,
        )
        self._napari_progress = progress(total=0, desc=description)
        self.worker = worker
        self.status.setText(description)
        self.cancel_button.setEnabled(True)
        self._set_enabled(False)
        worker.start()

    def _on_progress(self, report: Progress) -> None:
        text = f"{report.stage} {report.done}/{report.total} {report.message}".strip()
        if not self._show_progress(report, text):
            return
        bar = self._napari_progress
        if bar is not None:
            bar.total = report.total
            bar.set_description(report.stage)
            bar.n = report.done
            bar.refresh()

    def _on_error(self, err: BaseException) -> None:
        self.status.setText(f"error: {err}")

    def _on_finished(self) -> None:
        if self._napari_progress is not None:
            self._napari_progress.close()
            self._napari_progress = None
        if self._cancelling:
            self.status.setText("cancelled")
        self._cancelling = False
        self.worker = None
        self.cancel_button.setEnabled(False)
        self._set_enabled(True)

    def _set_enabled(self, enabled: bool) -> None:
        for widget in (
            self.open_button,
            self.import_button,
            self.sample_button,
            self.extract_button,
        ):
            widget.setEnabled(enabled)

    def _on_project_changed(self) -> None:
        project = self.workspace.project
        if project is None:
            self.project_label.setText("no project open")
            self.features_label.setText("")
            return
        self.project_label.setText(
            f"{project.path.name}: {project.n_samples} samples, "
            f"classes {', '.join(project.class_names) or 'none'}"
        )
        self.features_label.setText(
            ", ".join(f"{m} {shape[0]}×{shape[1]}" for m, shape in project.features.items())
            or "none: extract some"
        )
