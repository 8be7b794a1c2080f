"""The labeling workspace of one napari viewer: open project, live t-SNE map layer and session.

The dock widgets are thin views on a :class:`Workspace`; there is one per viewer, shared by all
of them (:meth:`Workspace.of`). The t-SNE runs in a ``thread_worker`` generator that reads the
current labels before every step, so labeling never restarts the embedding.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from psygnal import Signal

from napari_tsne_label.errors import UserInputError
from napari_tsne_label.labeling import LabelingSession
from napari_tsne_label.store import Project

MAP_LAYER = "t-SNE map"
MAP_EMBEDDING = "map"
METADATA_KEY = "napari_tsne_label_project"
DISPLAY_HALF_WIDTH = 50.0
POINT_SIZE = 2.5
FRAME_WAIT_S = 1.0
UNLABELED_COLOR = (0.55, 0.55, 0.55, 0.7)
FOCUS_BORDER = (1.0, 0.1, 0.1, 1.0)
GROUP_BORDER = (1.0, 1.0, 0.0, 1.0)
DESELECTED_BORDER = (0.3, 0.3, 1.0, 1.0)
NO_BORDER = (0.0, 0.0, 0.0, 0.0)
CLASS_COLORS = np.array(
    [
        (0.12, 0.47, 0.71),
        (1.00, 0.50, 0.05),
        (0.17, 0.63, 0.17),
        (0.84, 0.15, 0.16),
        (0.58, 0.40, 0.74),
        (0.55, 0.34, 0.29),
        (0.89, 0.47, 0.76),
        (0.74, 0.74, 0.13),
        (0.09, 0.75, 0.81),
    ]
)

_WORKSPACES: dict[int, Workspace] = {}


def class_color(label: int) -> tuple[float, float, float, float]:
    """RGBA colour of class ``label`` (cycling through nine colours); grey for -1."""
    if label < 0:
        return UNLABELED_COLOR
    return (*CLASS_COLORS[label % len(CLASS_COLORS)], 1.0)


def label_colors(labels: np.ndarray) -> np.ndarray:
    """(N, 4) float RGBA face colours of (N,) int labels: class colours, grey when unlabeled."""
    labels = np.asarray(labels)
    colors = np.tile(np.asarray(UNLABELED_COLOR), (len(labels), 1))
    labeled = labels >= 0
    colors[labeled, :3] = CLASS_COLORS[labels[labeled] % len(CLASS_COLORS)]
    colors[labeled, 3] = 1.0
    return colors


def display_positions(Y: np.ndarray) -> np.ndarray:
    """Centre and scale (N, d) t-SNE positions into a fixed box of half-width 50 for display.

    t-SNE grows from a tiny initialisation to tens of units; a fixed display box keeps the point
    size and the camera meaningful all along. Row order (sample index) is unchanged.
    """
    Y = np.asarray(Y, dtype=np.float64)
    centred = Y - np.median(Y, axis=0)
    extent = np.percentile(np.abs(centred), 99) if len(Y) else 0.0
    return centred * (DISPLAY_HALF_WIDTH / extent if extent > 0 else 1.0)


def initial_positions(n_samples: int, n_components: int, seed: int = 0) -> np.ndarray:
    """Seeded Gaussian (N, d) positions shown before any embedding exists."""
    return np.random.default_rng(seed).normal(size=(n_samples, n_components))


@dataclass
class TsneSettings:
    """What the t-SNE widget sets: dimensions, perplexity, labeling importance f, repulsion r, ramp."""

    n_components: int = 3
    perplexity: float = 20.0
    f: float = 0.1
    r: float = 0.1
    ramp_epochs: int = 10
    epochs_per_update: int = 2
    method: str = ""


class Workspace:
    """One viewer's open project, labeling session, map layer and t-SNE worker.

    Signals: ``project_changed()``, ``labels_changed()``, ``selection_changed()``,
    ``positions_changed()``, ``classes_changed()``, ``hovered(int)`` (sample under the mouse,
    -1 for none), ``tsne_state(str)`` ("preparing", "running", "paused", "stopped").
    """

    project_changed = Signal()
    labels_changed = Signal()
    selection_changed = Signal()
    positions_changed = Signal()
    classes_changed = Signal()
    hovered = Signal(int)
    tsne_state = Signal(str)

    def __init__(self, viewer: Any):
        self._viewer_ref = weakref.ref(viewer)
        self.project: Project | None = None
        self.session: LabelingSession | None = None
        self.positions: np.ndarray | None = None
        self.settings = TsneSettings()
        self.engine: Any = None
        self.worker: Any = None
        self.epoch = 0
        self.overwrite = False
        self._labels = np.empty(0, dtype=np.int32)
        self.truth = np.empty(0, dtype=np.int32)
        self._map_layer: Any = None
        self._step_shown = threading.Event()

    @classmethod
    def of(cls, viewer: Any) -> Workspace:
        """The workspace of ``viewer``, made on first use and dropped when the viewer closes.

        napari hands plugin widgets a proxy of the viewer; the workspace belongs to the viewer.
        """
        viewer = getattr(viewer, "__wrapped__", viewer)
        key = id(viewer)
        workspace = _WORKSPACES.get(key)
        if workspace is None or workspace.viewer is not viewer:
            workspace = _WORKSPACES[key] = cls(viewer)
            weakref.finalize(viewer, _WORKSPACES.pop, key, None)
            viewer.layers.events.inserted.connect(workspace._on_layer_inserted)
            viewer.layers.events.removed.connect(workspace._on_layer_removed)
            _close_on_quit(workspace)
        return workspace

    @property
    def viewer(self) -> Any:
        """The napari viewer (None once it is gone)."""
        return self._viewer_ref()

    # ------------------------------------------------------------------ project

    def open_project(self, path: str | Path, show_map: bool = True) -> Project:
        """Open the project at ``path`` for labeling (closing any other) and show its map.

        ``show_map=False`` leaves adding the map to the caller (see :meth:`map_layer_data`).
        """
        self.close_project()
        project = Project.open(path, writable=True)
        self.project = project
        self._labels = project.labels
        self.truth = project.truth
        self.positions = self._stored_or_initial_positions()
        self.settings.method = self.default_method()
        self.session = LabelingSession(project, self.positions)
        if show_map:
            self._show_map()
        self.project_changed.emit()
        return project

    def close_project(self) -> None:
        """Stop the t-SNE, save its positions and release the project (idempotent)."""
        self.stop_tsne()
        if self.project is not None:
            self.project.close()
        self.project = None
        self.session = None
        self.engine = None
        self.project_changed.emit()

    def require_project(self) -> Project:
        """The open project, or a :class:`UserInputError` saying how to open one."""
        if self.project is None:
            raise UserInputError("open a project first (Data & features dock)")
        return self.project

    def default_method(self) -> str:
        """The feature method to embed: the one in use if still present, else the first stored."""
        methods = list(self.project.features) if self.project is not None else []
        if self.settings.method in methods:
            return self.settings.method
        preferred = [m for m in ("tf", "tr", "im") if m in methods]
        return (preferred or methods or [""])[0]

    def _stored_or_initial_positions(self) -> np.ndarray:
        project = self.project
        if MAP_EMBEDDING in project.embeddings:
            Y = project.read_embedding(MAP_EMBEDDING)
            stored = project.embedding_settings(MAP_EMBEDDING)
            self.epoch = int(stored.get("epoch", 0))
            fields = TsneSettings.__dataclass_fields__
            self.settings = TsneSettings(**{k: v for k, v in stored.items() if k in fields})
            self.settings.n_components = Y.shape[1]
            return Y
        self.epoch = 0
        return initial_positions(project.n_samples, self.settings.n_components)

    def _on_layer_removed(self, event: Any) -> None:
        if event.value is self._map_layer:
            self.stop_tsne()
            self._map_layer = None

    # ------------------------------------------------------------------ map layer

    @property
    def map_layer(self) -> Any:
        """The Points layer of the map, or None."""
        viewer = self.viewer
        layer = self._map_layer
        if viewer is None or layer is None or layer not in viewer.layers:
            return None
        return layer

    def map_layer_data(self) -> tuple[np.ndarray, dict[str, Any], str]:
        """The map as a napari LayerData tuple; the workspace adopts it once the viewer adds it."""
        dims = self.positions.shape[1]
        kwargs = {
            "name": MAP_LAYER,
            "size": POINT_SIZE,
            "face_color": label_colors(self._labels),
            "border_color": np.tile(NO_BORDER, (len(self._labels), 1)),
            "border_width": 0.25,
            "features": self._features_table(),
            "shading": "spherical" if dims == 3 else "none",
            "metadata": {METADATA_KEY: str(self.project.path)},
        }
        return display_positions(self.positions), kwargs, "points"

    def _show_map(self) -> None:
        """Replace the map layer by a fresh one of the current positions and labels."""
        viewer = self.viewer
        old = self.map_layer
        if old is not None:
            viewer.layers.remove(old)
        data, kwargs, _ = self.map_layer_data()
        viewer.add_points(data, **kwargs)

    def _on_layer_inserted(self, event: Any) -> None:
        """Adopt a map layer of the open project: hook up the mouse and keys, show it in 3D."""
        layer = event.value
        if self.project is None or layer.metadata.get(METADATA_KEY) != str(self.project.path):
            return
        from napari_tsne_label._widgets.interaction import connect_map_interaction

        self._map_layer = layer
        connect_map_interaction(self, layer)
        viewer = self.viewer
        viewer.dims.ndisplay = layer.data.shape[1]
        viewer.layers.selection.active = layer
        viewer.reset_view()

    def _features_table(self) -> pd.DataFrame:
        """Per-point table: sample index, label name and ground-truth name (napari's features)."""
        names = self.project.class_names
        return pd.DataFrame(
            {
                "index": np.arange(self.project.n_samples),
                "label": [names[i] if i >= 0 else "unlabeled" for i in self._labels],
                "truth": [names[i] if 0 <= i < len(names) else "unknown" for i in self.truth],
            }
        )

    def refresh_labels(self) -> None:
        """Re-read labels from the project into the map colours and table; emit ``labels_changed``."""
        self._labels = self.require_project().labels
        layer = self.map_layer
        if layer is not None:
            layer.features = self._features_table()
            layer.face_color = label_colors(self._labels)
        self.labels_changed.emit()

    def refresh_selection(self) -> None:
        """Outline the focus (red), its selected group (yellow) and deselected members (blue)."""
        layer = self.map_layer
        if layer is None or self.session is None:
            return
        borders = np.tile(np.asarray(NO_BORDER), (self.project.n_samples, 1))
        sizes = np.full(self.project.n_samples, POINT_SIZE)
        borders[self.session.selection] = GROUP_BORDER
        borders[self.session.deselected] = DESELECTED_BORDER
        if self.session.focus is not None:
            borders[self.session.focus] = FOCUS_BORDER
            sizes[self.session.focus] = 2 * POINT_SIZE
        layer.border_color = borders
        layer.size = sizes
        self.selection_changed.emit()

    def set_positions(self, Y: np.ndarray) -> None:
        """Show new (N, d) positions; the session measures k-NN distances on them."""
        self.positions = np.asarray(Y)
        if self.session is not None:
            self.session.set_positions(self.positions)
        layer = self.map_layer
        if layer is not None and layer.data.shape == self.positions.shape:
            layer.data = display_positions(self.positions)
        self.positions_changed.emit()

    # ------------------------------------------------------------------ labeling actions

    def focus(self, index: int) -> None:
        """Make ``index`` the focus (logged) and outline it."""
        self._require_session().select_focus(index)
        self.refresh_selection()

    def set_k(self, k: int, log: bool = True) -> None:
        """Select the focus's ``k`` nearest neighbours (logged unless previewing)."""
        self._require_session().set_k(k, log=log)
        self.refresh_selection()

    def toggle(self, index: int) -> None:
        """Deselect or reselect a group member (logged)."""
        self._require_session().toggle(index)
        self.refresh_selection()

    def apply(self, label: int) -> np.ndarray:
        """Apply class ``label`` to the selection (saved, logged), honouring ``overwrite``."""
        applied = self._require_session().apply(label, overwrite=self.overwrite)
        self.refresh_labels()
        self.refresh_selection()
        return applied

    def undo(self) -> np.ndarray | None:
        """Undo the last label application."""
        touched = self._require_session().undo()
        self.refresh_labels()
        return touched

    def redo(self) -> np.ndarray | None:
        """Redo the last undone label application."""
        touched = self._require_session().redo()
        self.refresh_labels()
        return touched

    def add_class(self, name: str) -> int:
        """Add a class (logged); return its index."""
        index = self._require_session().add_class(name)
        self.classes_changed.emit()
        return index

    def rename_class(self, index: int, name: str) -> None:
        """Rename a class (logged)."""
        self._require_session().rename_class(index, name)
        self.refresh_labels()
        self.classes_changed.emit()

    def suggest_focus(self) -> int:
        """Make the suggested next focus (:meth:`LabelingSession.suggest_focus`) the focus."""
        session = self._require_session()
        features = self.project.read_features(self._require_method())
        index = session.suggest_focus(features)
        self.focus(index)
        self.centre_on(index)
        return index

    def centre_on(self, index: int) -> None:
        """Point the camera at sample ``index``."""
        layer = self.map_layer
        if layer is not None:
            self.viewer.camera.center = tuple(layer.data[index])

    def _require_session(self) -> LabelingSession:
        self.require_project()
        return self.session

    def _require_method(self) -> str:
        method = self.settings.method or self.default_method()
        if not method:
            raise UserInputError("no features yet: run an extraction in the Data & features dock")
        self.settings.method = method
        return method

    # ------------------------------------------------------------------ live t-SNE

    @property
    def tsne_running(self) -> bool:
        """Whether the worker exists and is not paused."""
        return self.worker is not None and not self.worker.is_paused

    def start_tsne(self) -> None:
        """Start (or resume) the live t-SNE worker on the chosen features.

        A new engine is built inside the worker (its affinities take seconds for thousands of
        samples), so the viewer stays responsive; ``tsne_state`` says "preparing" meanwhile.
        """
        if self.worker is not None:
            self.worker.resume()
            self.tsne_state.emit("running")
            return
        from napari.qt.threading import create_worker

        build_engine = self._engine_builder()
        self.worker = create_worker(
            _tsne_steps, build_engine, self.labels_snapshot, self.settings.epochs_per_update,
            self._step_shown, _start_thread=False,
        )
        self.worker.yielded.connect(self._on_tsne_step)
        self.worker.errored.connect(self._on_tsne_error)
        self.worker.start()
        self.tsne_state.emit("running" if self.engine is not None else "preparing")

    def pause_tsne(self) -> None:
        """Pause the worker between steps and save the positions."""
        if self.worker is not None:
            self.worker.pause()
            self.save_positions()
            self.tsne_state.emit("paused")

    def stop_tsne(self) -> None:
        """Ask the worker to stop after its current step, ignore that step, save the positions."""
        worker = self.worker
        if worker is None:
            return
        worker.yielded.disconnect(self._on_tsne_step)
        worker.quit()
        self._step_shown.set()
        self.worker = None
        self.save_positions()
        self.tsne_state.emit("stopped")

    def reset_tsne(self) -> None:
        """Stop, forget the engine and restart from a fresh initialisation on the next start."""
        self.stop_tsne()
        self.engine = None
        self.epoch = 0
        Y = initial_positions(self.require_project().n_samples, self.settings.n_components)
        self.positions = Y
        self.session.set_positions(Y)
        self._show_map()
        self.positions_changed.emit()

    def labels_snapshot(self) -> np.ndarray:
        """The labels as last applied (read by the worker thread before each step)."""
        return self._labels

    def save_positions(self) -> None:
        """Store the current positions in the project as embedding ``map`` with the settings."""
        if self.project is None or self.positions is None or self.engine is None:
            return
        settings = {**asdict(self.settings), "epoch": self.epoch}
        self.project.write_embedding(MAP_EMBEDDING, self.positions, settings)

    def _engine_builder(self) -> Callable[[], Any]:
        """A function for the worker that returns the engine: the current one, or a new one on
        the chosen features, warm-started from the stored map when its dimensions match."""
        if self.engine is not None:
            engine = self.engine
            return lambda: engine
        project = self.require_project()
        s = self.settings
        X = project.read_features(self._require_method())
        same_dims = self.positions is not None and self.positions.shape[1] == s.n_components
        warm_positions, warm_epoch = (self.positions, self.epoch) if same_dims else (None, 0)
        if not same_dims:
            self.positions = initial_positions(project.n_samples, s.n_components)
            self.session.set_positions(self.positions)
            self._show_map()

        def build() -> Any:
            from napari_tsne_label.tsne.engine import SemiSupervisedTSNE

            engine = SemiSupervisedTSNE(X, n_components=s.n_components, perplexity=s.perplexity,
                                        f=s.f, r=s.r, ramp_epochs=s.ramp_epochs, seed=0)
            if warm_epoch:
                engine.warm_start(warm_positions, epoch=warm_epoch)
            return engine

        return build

    def _on_tsne_error(self, _error: BaseException) -> None:
        """The engine failed (napari shows the error): forget the worker so Start can retry."""
        self.worker = None
        self.engine = None
        self.tsne_state.emit("stopped")

    def _on_tsne_step(self, step: tuple[Any, int, np.ndarray]) -> None:
        engine, self.epoch, Y = step
        if self.engine is not engine:
            self.engine = engine
            self.tsne_state.emit("running")
        self.set_positions(Y)
        self._step_shown.set()


def _close_on_quit(workspace: Workspace) -> None:
    """Save the map and release the project when the Qt application quits."""
    from qtpy.QtWidgets import QApplication

    app = QApplication.instance()
    if app is not None:
        app.aboutToQuit.connect(workspace.close_project)


def _tsne_steps(build_engine: Callable[[], Any], labels: Callable[[], np.ndarray],
                epochs_per_update: int, shown: threading.Event):
    """Worker body: build the engine, then forever set the current labels, advance the engine
    and yield (engine, epoch, positions).

    After each yield it waits until the GUI has ``shown`` the step (at most a second), so
    steps never pile up faster than the viewer can draw them.
    """
    engine = build_engine()
    while True:
        engine.set_labels(labels())
        Y = engine.step(n_epochs=epochs_per_update)
        shown.clear()
        yield engine, engine.epoch, Y
        shown.wait(FRAME_WAIT_S)
