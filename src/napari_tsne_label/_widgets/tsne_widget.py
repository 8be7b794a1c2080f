"""The *t-SNE labeling* dock: run the live map, pick a focus, size its group, label it."""

from __future__ import annotations

from typing import Any

import numpy as np
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from napari_tsne_label._widgets.qt_helpers import on_click, reports_user_errors, spin
from napari_tsne_label._widgets.thumbnails import SamplePreview, ThumbnailGrid, read_thumbnails
from napari_tsne_label._widgets.workspace import Workspace, class_color

MAX_K = 200


def legend_html(class_names: list[str], counts: np.ndarray) -> str:
    """HTML legend: a coloured square, the key (1-9), the class name and its labeled count."""
    rows = []
    for i, name in enumerate(class_names):
        r, g, b, _ = (int(255 * c) for c in class_color(i))
        key = f"{i + 1}: " if i < 9 else ""
        rows.append(
            f"<span style='color:rgb({r},{g},{b})'>&#9632;</span> {key}{name} ({counts[i]})"
        )
    return "<br>".join(rows)


class TsneLabelingWidget(QWidget):
    """Start/pause/reset the live t-SNE, focus + k slider + deselect, apply, undo/redo, classes."""

    def __init__(self, napari_viewer: Any):
        super().__init__()
        self.viewer = napari_viewer
        self.workspace = Workspace.of(napari_viewer)
        layout = QVBoxLayout(self)
        layout.addWidget(self._build_tsne_box())
        layout.addWidget(self._build_labeling_box())
        layout.addWidget(self._build_selection_box())
        layout.addStretch(1)
        ws = self.workspace
        ws.project_changed.connect(self._on_project_changed)
        ws.labels_changed.connect(self._on_labels_changed)
        ws.classes_changed.connect(self._on_labels_changed)
        ws.selection_changed.connect(self._on_selection_changed)
        ws.positions_changed.connect(self._on_positions_changed)
        ws.hovered.connect(self._on_hovered)
        ws.tsne_state.connect(self._on_tsne_state)
        self._on_project_changed()

    # ------------------------------------------------------------------ layout

    def _build_tsne_box(self) -> QGroupBox:
        box = QGroupBox("t-SNE")
        form = QFormLayout(box)
        self.method = QComboBox()
        self.dims = QComboBox()
        self.dims.addItems(["3D", "2D"])
        self.perplexity = spin(QDoubleSpinBox(), 2, 100, 20, step=1)
        self.f = spin(QDoubleSpinBox(), 0, 1, 0.1, step=0.01, decimals=3)
        self.r = spin(QDoubleSpinBox(), 0, 1, 0.1, step=0.01, decimals=3)
        self.ramp = spin(QSpinBox(), 0, 500, 10)
        self.ramp.setToolTip("epochs over which a newly labeled point's label weight ramps to 1")
        self.epochs_per_update = spin(QSpinBox(), 1, 50, 2)
        for label, widget in [
            ("features", self.method),
            ("dimensions", self.dims),
            ("perplexity", self.perplexity),
            ("label importance f", self.f),
            ("repulsion r", self.r),
            ("label ramp (epochs)", self.ramp),
            ("epochs per update", self.epochs_per_update),
        ]:
            form.addRow(label, widget)
        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause")
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip(
            "restart from a fresh initialisation; features, dimensions, perplexity, f, r and the "
            "ramp take effect at the next Start after a Reset")
        buttons = QHBoxLayout()
        for button in (self.start_button, self.pause_button, self.reset_button):
            buttons.addWidget(button)
        form.addRow(buttons)
        self.epoch_label = QLabel("epoch 0")
        form.addRow(self.epoch_label)
        on_click(self.start_button, self._start)
        on_click(self.pause_button, self.workspace.pause_tsne)
        on_click(self.reset_button, self._reset)
        self.dims.currentIndexChanged.connect(reports_user_errors(self._reset))
        return box

    def _build_labeling_box(self) -> QGroupBox:
        box = QGroupBox("Labeling")
        form = QFormLayout(box)
        self.focus_label = QLabel("click a point to focus it")
        self.suggest_button = QPushButton("Suggest next focus")
        on_click(self.suggest_button, self.workspace.suggest_focus)
        form.addRow(self.focus_label)
        form.addRow(self.suggest_button)
        self.k_slider = QSlider(Qt.Horizontal)
        self.k_slider.setRange(0, MAX_K)
        self.k_value = QLabel("k = 0")
        slider_row = QHBoxLayout()
        slider_row.addWidget(self.k_slider)
        slider_row.addWidget(self.k_value)
        form.addRow("group size", slider_row)
        self.k_slider.valueChanged.connect(reports_user_errors(self._on_k_moved))
        self.k_slider.sliderReleased.connect(reports_user_errors(self._on_k_released))
        self.class_box = QComboBox()
        self.apply_button = QPushButton("Apply label")
        self.overwrite = QCheckBox("overwrite labeled")
        apply_row = QHBoxLayout()
        for widget in (self.class_box, self.apply_button, self.overwrite):
            apply_row.addWidget(widget)
        form.addRow(apply_row)
        self.conflict_label = QLabel("")
        self.conflict_label.setWordWrap(True)
        form.addRow(self.conflict_label)
        on_click(self.apply_button, self._apply)
        self.overwrite.toggled.connect(self._on_overwrite)
        self.class_box.currentIndexChanged.connect(self._show_conflicts)
        self.class_name = QLineEdit()
        self.class_name.setPlaceholderText("class name")
        self.add_class_button = QPushButton("Add")
        self.rename_class_button = QPushButton("Rename")
        class_row = QHBoxLayout()
        for widget in (self.class_name, self.add_class_button, self.rename_class_button):
            class_row.addWidget(widget)
        form.addRow("classes", class_row)
        on_click(self.add_class_button, self._add_class)
        on_click(self.rename_class_button, self._rename_class)
        self.undo_button = QPushButton("Undo")
        self.redo_button = QPushButton("Redo")
        history = QHBoxLayout()
        history.addWidget(self.undo_button)
        history.addWidget(self.redo_button)
        form.addRow(history)
        on_click(self.undo_button, self.workspace.undo)
        on_click(self.redo_button, self.workspace.redo)
        self.actions_label = QLabel("actions: 0")
        self.legend = QLabel("")
        form.addRow(self.actions_label)
        form.addRow(self.legend)
        return box

    def _build_selection_box(self) -> QGroupBox:
        box = QGroupBox("Selection (click a tile to deselect / reselect)")
        layout = QVBoxLayout(box)
        self.grid = ThumbnailGrid(reports_user_errors(self.workspace.toggle))
        self.preview = SamplePreview()
        layout.addWidget(self.grid)
        layout.addWidget(self.preview)
        return box

    # ------------------------------------------------------------------ handlers

    def _start(self) -> None:
        ws = self.workspace
        if ws.engine is None:
            ws.settings.method = self.method.currentText()
            ws.settings.n_components = 3 if self.dims.currentText() == "3D" else 2
            ws.settings.perplexity = self.perplexity.value()
            ws.settings.f = self.f.value()
            ws.settings.r = self.r.value()
            ws.settings.ramp_epochs = self.ramp.value()
        ws.settings.epochs_per_update = self.epochs_per_update.value()
        ws.start_tsne()

    def _reset(self, *_: Any) -> None:
        ws = self.workspace
        if ws.project is None:
            return
        ws.settings.n_components = 3 if self.dims.currentText() == "3D" else 2
        ws.reset_tsne()

    def _on_k_moved(self, k: int) -> None:
        self.k_value.setText(f"k = {k}")
        if self.workspace.session is not None and self.workspace.session.focus is not None:
            self.workspace.set_k(k, log=not self.k_slider.isSliderDown())

    def _on_k_released(self) -> None:
        if self.workspace.session is not None and self.workspace.session.focus is not None:
            self.workspace.set_k(self.k_slider.value())

    def _apply(self) -> None:
        self.workspace.apply(self.class_box.currentIndex())

    def _on_overwrite(self, checked: bool) -> None:
        self.workspace.overwrite = checked
        self._show_conflicts()

    def _add_class(self) -> None:
        index = self.workspace.add_class(self.class_name.text())
        self.class_name.clear()
        self.class_box.setCurrentIndex(index)

    def _rename_class(self) -> None:
        self.workspace.rename_class(self.class_box.currentIndex(), self.class_name.text())
        self.class_name.clear()

    # ------------------------------------------------------------------ views

    def _on_project_changed(self) -> None:
        ws = self.workspace
        self.method.clear()
        if ws.project is not None:
            self.method.addItems(list(ws.project.features))
            self.method.setCurrentText(ws.settings.method)
            self._show_settings()
        self._on_labels_changed()
        self._on_selection_changed()
        self._on_positions_changed()

    def _show_settings(self) -> None:
        """Show the workspace's t-SNE settings (restored with a project's stored map)."""
        s = self.workspace.settings
        self.dims.blockSignals(True)
        self.dims.setCurrentText(f"{s.n_components}D")
        self.dims.blockSignals(False)
        self.perplexity.setValue(s.perplexity)
        self.f.setValue(s.f)
        self.r.setValue(s.r)
        self.ramp.setValue(s.ramp_epochs)
        self.epochs_per_update.setValue(s.epochs_per_update)

    def _on_labels_changed(self) -> None:
        ws = self.workspace
        project = ws.project
        names = project.class_names if project is not None else []
        current = self.class_box.currentIndex()
        self.class_box.blockSignals(True)
        self.class_box.clear()
        self.class_box.addItems([f"{i + 1}: {n}" if i < 9 else n for i, n in enumerate(names)])
        self.class_box.setCurrentIndex(min(max(current, 0), len(names) - 1))
        self.class_box.blockSignals(False)
        if project is None:
            self.legend.setText("")
            self.actions_label.setText("no project open")
            return
        labels = project.labels
        counts = np.bincount(labels[labels >= 0], minlength=len(names))
        self.legend.setText(
            legend_html(names, counts) + f"<br><span style='color:grey'>&#9632;</span> unlabeled "
            f"({int(np.sum(labels < 0))})"
        )
        self.actions_label.setText(
            f"actions: {ws.session.action_count}    labeled: {int(np.sum(labels >= 0))}"
            f" / {project.n_samples}"
        )
        self.undo_button.setEnabled(project.can_undo)
        self.redo_button.setEnabled(project.can_redo)
        self._show_conflicts()

    def _on_selection_changed(self) -> None:
        ws = self.workspace
        session = ws.session
        if session is None or session.focus is None:
            self.focus_label.setText("click a point to focus it")
            self.grid.clear()
            self.k_slider.blockSignals(True)
            self.k_slider.setValue(0)
            self.k_slider.blockSignals(False)
            self.k_value.setText("k = 0")
            self.conflict_label.setText("")
            if session is not None:
                self._on_labels_changed()
            return
        self.focus_label.setText(
            f"focus: sample {session.focus}, {len(session.selection)} of {len(session.group)} selected"
        )
        if self.k_slider.value() != session.k:
            self.k_slider.blockSignals(True)
            self.k_slider.setValue(session.k)
            self.k_slider.blockSignals(False)
            self.k_value.setText(f"k = {session.k}")
        self.grid.show_group(ws.project.thumbnails, session.group, session.deselected)
        self._on_hovered(session.focus)
        self.actions_label.setText(
            f"actions: {session.action_count}    labeled: {int(np.sum(ws.project.labels >= 0))}"
            f" / {ws.project.n_samples}"
        )
        self._show_conflicts()

    def _show_conflicts(self, *_: Any) -> None:
        ws = self.workspace
        session = ws.session
        label = self.class_box.currentIndex()
        if session is None or session.focus is None or label < 0:
            self.conflict_label.setText("")
            return
        conflict = session.conflicts(label)
        if not len(conflict):
            self.conflict_label.setText("")
            return
        names = ws.project.class_names
        kinds = ", ".join(
            f"{np.sum(conflict.labels == c)} {names[c]}" for c in np.unique(conflict.labels)
        )
        fate = "will be relabeled" if ws.overwrite else "keep their labels (tick overwrite)"
        self.conflict_label.setText(f"<b>{len(conflict)} already labeled</b> ({kinds}): {fate}")

    def _on_positions_changed(self) -> None:
        ws = self.workspace
        self.epoch_label.setText(f"epoch {ws.epoch}")

    def _on_tsne_state(self, state: str) -> None:
        self.start_button.setText("Resume" if state == "paused" else "Start")
        self.epoch_label.setText(f"epoch {self.workspace.epoch} ({state})")

    def _on_hovered(self, index: int) -> None:
        ws = self.workspace
        if index < 0 or ws.project is None or index == self.preview.shown:
            return
        names = ws.project.class_names
        label, truth = int(ws.labels_snapshot()[index]), int(ws.truth[index])
        caption = (
            f"sample {index}: {names[label] if label >= 0 else 'unlabeled'}"
            f" (truth: {names[truth] if 0 <= truth < len(names) else 'unknown'})"
        )
        image = read_thumbnails(ws.project.thumbnails, [index])[0]
        self.preview.show_sample(index, image, caption)
