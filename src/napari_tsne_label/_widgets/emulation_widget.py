"""The *Emulation* dock: Algorithm 1 and the uncertainty-sampling baselines on the open project.

The protocol (``emulation.protocol.run_protocol``) runs in a thread worker. While the emulated
annotator labels the training folds, their live map is drawn as its own Points layer coloured by
the emulated labels (the user's own labels are untouched); every new curve point is drawn on an
accuracy-versus-actions plot, and the Table-2 summary is shown at the end.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from qtpy.QtGui import QFont
from qtpy.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from napari_tsne_label._widgets.qt_helpers import (
    ProgressJobMixin,
    on_click,
    progress_worker,
    spin,
)
from napari_tsne_label._widgets.workspace import Workspace, display_positions, label_colors
from napari_tsne_label.emulation.protocol import (
    ALL_STRATEGIES,
    ProtocolProgress,
    ProtocolResult,
    ProtocolSettings,
    TSNESettings,
    run_protocol,
    stratified_folds,
)
from napari_tsne_label.emulation.report import format_table
from napari_tsne_label.errors import UserInputError

EMULATION_LAYER = "emulated labeling"
REDRAW_INTERVAL_S = 0.1
LINE_STYLES = ("-", "--", ":", "-.")
STRATEGY_COLORS = dict(zip(ALL_STRATEGIES, ("C3", "C0", "C1", "C2", "C4")))


class EmulationWidget(ProgressJobMixin, QWidget):
    """Run the emulation protocol on the open project, animate it and plot its curves live."""

    def __init__(self, napari_viewer: Any):
        super().__init__()
        self.viewer = napari_viewer
        self.workspace = Workspace.of(napari_viewer)
        self.worker: Any = None
        self._cancelling = False
        self.result: ProtocolResult | None = None
        self.curves: dict[tuple[str, str, int], list[tuple[int, float]]] = {}
        self._folds = np.empty(0, dtype=np.int64)
        self._last_draw = 0.0
        layout = QVBoxLayout(self)
        layout.addWidget(self._build_settings_box())
        buttons = QHBoxLayout()
        self.run_button = QPushButton("Run emulation")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        layout.addLayout(buttons)
        on_click(self.run_button, self.run)
        on_click(self.cancel_button, self.cancel)
        self.progress = QProgressBar()
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        self.figure = Figure(figsize=(4, 3), tight_layout=True)
        self.axes = self.figure.add_subplot(1, 1, 1)
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumHeight(240)
        layout.addWidget(self.canvas)
        self.table = QLabel("")
        self.table.setFont(QFont("monospace"))
        layout.addWidget(self.table)
        self.workspace.project_changed.connect(self._on_project_changed)
        self._on_project_changed()

    def _build_settings_box(self) -> QGroupBox:
        box = QGroupBox("Emulation settings")
        form = QFormLayout(box)
        self.method_row = QHBoxLayout()
        self.method_checks: dict[str, QCheckBox] = {}
        form.addRow("features", self.method_row)
        strategies = QVBoxLayout()
        self.strategy_checks = {s: QCheckBox(s) for s in ALL_STRATEGIES}
        for check in self.strategy_checks.values():
            check.setChecked(True)
            strategies.addWidget(check)
        form.addRow("strategies", strategies)
        self.folds = spin(QSpinBox(), 2, 10, 5)
        self.max_actions = spin(QSpinBox(), 10, 5000, 300, step=10)
        self.start_epoch = spin(QSpinBox(), 0, 2000, 200, step=10)
        self.max_epochs = spin(QSpinBox(), 10, 5000, 1000, step=50)
        self.f = spin(QDoubleSpinBox(), 0, 1, 0.1, step=0.01, decimals=3)
        self.r = spin(QDoubleSpinBox(), 0, 1, 0.1, step=0.01, decimals=3)
        for label, widget in [
            ("folds", self.folds),
            ("max actions", self.max_actions),
            ("labeling start epoch s", self.start_epoch),
            ("max epochs", self.max_epochs),
            ("label importance f", self.f),
            ("repulsion r", self.r),
        ]:
            form.addRow(label, widget)
        return box

    # ------------------------------------------------------------------ run

    def settings(self) -> ProtocolSettings:
        """The protocol settings chosen in the dock."""
        strategies = tuple(s for s, check in self.strategy_checks.items() if check.isChecked())
        if not strategies:
            raise UserInputError("choose at least one strategy")
        tsne = TSNESettings(
            f=self.f.value(),
            r=self.r.value(),
            start_epoch=self.start_epoch.value(),
            max_epochs=self.max_epochs.value(),
            n_components=self.workspace.settings.n_components,
        )
        return ProtocolSettings(
            strategies=strategies,
            n_folds=self.folds.value(),
            max_actions=self.max_actions.value(),
            tsne=tsne,
        )

    def run(self) -> None:
        """Start the protocol in a worker on the chosen feature methods of the open project."""
        if self.worker is not None:
            raise UserInputError("an emulation is running already")
        project = self.workspace.require_project()
        methods = [m for m, check in self.method_checks.items() if check.isChecked()]
        if not methods:
            raise UserInputError("no features chosen: extract some in the Data & features dock")
        settings = self.settings()
        truth = project.truth
        features = {m: project.read_features(m) for m in methods}
        generator = run_protocol(features, truth, settings)
        self._folds = stratified_folds(truth, settings.n_folds, settings.seed)
        self.curves.clear()
        self.result = None
        self.table.setText("")
        self._draw_curves()
        worker = progress_worker(
            generator,
            yielded=self._on_progress,
            returned=self._on_result,
            errored=lambda err: self.status.setText(f"error: {err}"),
            finished=self._on_finished,
        )
        self.worker = worker
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        worker.start()

    # ------------------------------------------------------------------ live views

    def _on_progress(self, report: ProtocolProgress) -> None:
        if not self._show_progress(report, f"{report.stage} {report.message}".strip()):
            return
        if report.point is not None:
            p = report.point
            self.curves.setdefault((p.method, p.strategy, p.fold), []).append(
                (p.actions, p.accuracy)
            )
            self._draw_curves()
        live = report.emulation
        if live is not None and live.positions is not None:
            now = time.monotonic()
            if now - self._last_draw >= REDRAW_INTERVAL_S:
                self._last_draw = now
                self._show_emulated_map(live.positions, live.labels, report.fold)

    def _show_emulated_map(
        self, positions: np.ndarray, labels: np.ndarray | None, fold: int
    ) -> None:
        """Draw the training folds' live map, coloured by the emulated labels so far."""
        train = np.flatnonzero(self._folds != fold)
        if labels is None:
            labels = np.full(len(train), -1)
        data = display_positions(positions)
        colors = label_colors(np.asarray(labels))
        layers = self.viewer.layers
        if EMULATION_LAYER in layers and layers[EMULATION_LAYER].data.shape == data.shape:
            layer = layers[EMULATION_LAYER]
            layer.data = data
            layer.face_color = colors
            return
        if EMULATION_LAYER in layers:
            layers.remove(EMULATION_LAYER)
        if self.workspace.map_layer is not None:
            self.workspace.map_layer.visible = False
        self.viewer.add_points(
            data,
            name=EMULATION_LAYER,
            size=2.5,
            face_color=colors,
            features={"index": train},
            border_width=0,
        )

    def _draw_curves(self) -> None:
        ax = self.axes
        ax.clear()
        ax.set_xlabel("actions")
        ax.set_ylabel("validation accuracy")
        methods = list(dict.fromkeys(method for method, _, _ in self.curves))
        seen = set()
        for (method, strategy, _fold), points in self.curves.items():
            actions, accuracy = np.array(points).T
            label = f"{method} {strategy}"
            ax.plot(
                actions,
                accuracy,
                color=STRATEGY_COLORS.get(strategy, "k"),
                linestyle=LINE_STYLES[methods.index(method) % len(LINE_STYLES)],
                label=None if label in seen else label,
            )
            seen.add(label)
        if seen:
            ax.legend(fontsize="small")
        self.canvas.draw_idle()

    def _on_result(self, result: ProtocolResult) -> None:
        self.result = result
        self.table.setText(format_table(result))

    def _on_finished(self) -> None:
        if self._cancelling:
            self.status.setText("cancelled")
        self._cancelling = False
        self.worker = None
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    def _on_project_changed(self) -> None:
        for check in self.method_checks.values():
            self.method_row.removeWidget(check)
            check.deleteLater()
        self.method_checks.clear()
        project = self.workspace.project
        for method in project.features if project is not None else []:
            check = QCheckBox(method)
            check.setChecked(method == self.workspace.settings.method)
            self.method_checks[method] = check
            self.method_row.addWidget(check)
