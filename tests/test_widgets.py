"""The napari workspace driven through its real dock widgets (pytest-qt, napari's viewer fixture)."""

import numpy as np
import pytest
from qtpy.QtCore import Qt

from napari_tsne_label._widgets.data_widget import DataFeaturesWidget
from napari_tsne_label._widgets.tsne_widget import TsneLabelingWidget
from napari_tsne_label._widgets.workspace import (
    MAP_EMBEDDING,
    UNLABELED_COLOR,
    Workspace,
    class_color,
)
from napari_tsne_label.store import Project

pytestmark = pytest.mark.gui

N_SAMPLES = 100
CLASSES = ["RBC", "WBC", "Platelets"]


def make_project(path, n=N_SAMPLES, seed=0):
    """A small project: (n, 16, 16, 3) thumbnails coloured by class, 3 classes, 'im' features."""
    rng = np.random.default_rng(seed)
    truth = np.arange(n) % 3
    thumbnails = np.zeros((n, 16, 16, 3), dtype=np.uint8)
    thumbnails[np.arange(n), :, :, truth] = 200
    features = np.eye(3)[truth] * 4 + rng.normal(scale=0.3, size=(n, 3))
    features = np.hstack([features, rng.normal(scale=0.3, size=(n, 13))]).astype(np.float32)
    with Project.create(path, thumbnails=thumbnails, sources=[f"/data/{i}.png" for i in range(n)],
                        boxes=np.tile([0, 0, 16, 16], (n, 1)), truth=truth,
                        class_names=CLASSES) as project:
        project.write_features("im", features, {"method": "im"})
    return path


@pytest.fixture
def workspace_widgets(make_napari_viewer, tmp_path):
    """A viewer with both dock widgets and a small project open in it."""
    viewer = make_napari_viewer()
    data = DataFeaturesWidget(viewer)
    tsne = TsneLabelingWidget(viewer)
    viewer.window.add_dock_widget(data, name="Data & features")
    viewer.window.add_dock_widget(tsne, name="t-SNE labeling")
    data.open_project(make_project(tmp_path / "cells.ntl.zarr"))
    yield viewer, data, tsne
    Workspace.of(viewer).close_project()


def run_epochs(qtbot, tsne, workspace, epochs):
    """Press Start, wait until the worker has advanced ``epochs`` epochs, press Pause."""
    tsne.epochs_per_update.setValue(5)
    qtbot.mouseClick(tsne.start_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: workspace.epoch >= epochs, timeout=30000)
    qtbot.mouseClick(tsne.pause_button, Qt.LeftButton)


def test_open_project_shows_map_with_features_table(workspace_widgets):
    viewer, data, tsne = workspace_widgets
    layer = Workspace.of(viewer).map_layer
    assert layer.data.shape == (N_SAMPLES, 3)
    assert viewer.dims.ndisplay == 3
    assert list(layer.features.columns) == ["index", "label", "truth"]
    assert layer.features["truth"].tolist()[:3] == CLASSES
    assert set(layer.features["label"]) == {"unlabeled"}
    np.testing.assert_allclose(layer.face_color[0], UNLABELED_COLOR)
    assert data.features_label.text() == "im 100×16"
    assert [tsne.class_box.itemText(i) for i in range(3)] == ["1: RBC", "2: WBC", "3: Platelets"]


def test_full_labeling_session_survives_reopening(workspace_widgets, qtbot):
    viewer, data, tsne = workspace_widgets
    ws = Workspace.of(viewer)
    layer = ws.map_layer
    before = layer.data.copy()
    tsne.f.setValue(0.05)
    run_epochs(qtbot, tsne, ws, 10)
    assert ws.epoch >= 10
    assert not np.allclose(layer.data, before)

    ws.focus(0)
    tsne.k_slider.setValue(5)
    group = ws.session.group
    assert len(group) == 6 and group[0] == 0
    assert tsne.grid.indices() == group.tolist()
    dropped = group[3]
    rect = tsne.grid.visualItemRect(tsne.grid.item(3))
    qtbot.mouseClick(tsne.grid.viewport(), Qt.LeftButton, pos=rect.center())
    assert ws.session.deselected.tolist() == [dropped]
    assert "✗" in tsne.grid.item(3).text()

    tsne.class_box.setCurrentIndex(1)
    qtbot.mouseClick(tsne.apply_button, Qt.LeftButton)
    labeled = np.sort(group[group != dropped])
    np.testing.assert_array_equal(np.flatnonzero(ws.project.labels == 1), labeled)
    np.testing.assert_allclose(layer.face_color[labeled[0]], class_color(1))
    assert layer.features["label"][labeled[0]] == "WBC"

    qtbot.mouseClick(tsne.undo_button, Qt.LeftButton)
    assert np.all(ws.project.labels == -1)
    qtbot.mouseClick(tsne.redo_button, Qt.LeftButton)
    np.testing.assert_array_equal(np.flatnonzero(ws.project.labels == 1), labeled)
    assert tsne.actions_label.text().startswith("actions: 6 ")

    path = ws.project.path
    kinds = [a.kind for a in ws.project.actions()]
    assert kinds == ["focus", "slider", "deselect", "label", "undo", "redo"]
    ws.close_project()
    with Project.open(path) as reopened:
        np.testing.assert_array_equal(np.flatnonzero(reopened.labels == 1), labeled)
        assert [a.kind for a in reopened.actions()] == kinds
        assert reopened.embedding_settings(MAP_EMBEDDING)["epoch"] >= 10
    tsne.f.setValue(0.1)
    data.open_project(path)
    assert ws.epoch >= 10
    assert ws.settings.f == tsne.f.value() == 0.05
    np.testing.assert_allclose(ws.map_layer.face_color[labeled[0]], class_color(1))


def test_worker_takes_label_changes_without_restarting(workspace_widgets, qtbot):
    viewer, _, tsne = workspace_widgets
    ws = Workspace.of(viewer)
    run_epochs(qtbot, tsne, ws, 5)
    engine = ws.engine
    ws.focus(1)
    ws.set_k(4)
    applied = ws.apply(0)
    run_epochs(qtbot, tsne, ws, ws.epoch + 5)
    assert ws.engine is engine
    np.testing.assert_array_equal(np.flatnonzero(engine.labels == 0), applied)


def test_conflicts_are_shown_before_applying(workspace_widgets):
    viewer, _, tsne = workspace_widgets
    ws = Workspace.of(viewer)
    ws.project.apply_label([ws.session._sorted_neighbours(2)[0]], 0)
    ws.refresh_labels()
    ws.focus(2)
    tsne.k_slider.setValue(3)
    tsne.class_box.setCurrentIndex(2)
    assert tsne.conflict_label.text() == (
        "<b>1 already labeled</b> (1 RBC): keep their labels (tick overwrite)")
    tsne.overwrite.setChecked(True)
    assert tsne.conflict_label.text().endswith("will be relabeled")


def test_label_key_applies_class(workspace_widgets, qtbot):
    viewer, _, tsne = workspace_widgets
    ws = Workspace.of(viewer)
    ws.focus(4)
    tsne.k_slider.setValue(2)
    group = ws.session.group
    canvas = viewer.window._qt_viewer.canvas.native
    canvas.setFocus()
    qtbot.keyClick(canvas, "3")
    np.testing.assert_array_equal(np.flatnonzero(ws.project.labels == 2), np.sort(group))


def test_add_and_rename_class_updates_dropdown_and_legend(workspace_widgets, qtbot):
    viewer, _, tsne = workspace_widgets
    tsne.class_name.setText("Neutrophil")
    qtbot.mouseClick(tsne.add_class_button, Qt.LeftButton)
    assert tsne.class_box.currentText() == "4: Neutrophil"
    tsne.class_box.setCurrentIndex(0)
    tsne.class_name.setText("Erythrocyte")
    qtbot.mouseClick(tsne.rename_class_button, Qt.LeftButton)
    assert Workspace.of(viewer).project.class_names == ["Erythrocyte", "WBC", "Platelets",
                                                       "Neutrophil"]
    assert "Erythrocyte (0)" in tsne.legend.text()


def test_suggest_focus_picks_an_unlabeled_point_and_focuses_it(workspace_widgets, qtbot):
    viewer, _, tsne = workspace_widgets
    ws = Workspace.of(viewer)
    run_epochs(qtbot, tsne, ws, 5)
    qtbot.mouseClick(tsne.suggest_button, Qt.LeftButton)
    focus = ws.session.focus
    assert focus is not None and ws.project.labels[focus] == -1
    assert ws.project.actions()[-1].kind == "focus"
    np.testing.assert_allclose(viewer.camera.center, ws.map_layer.data[focus])


def test_extract_runs_in_a_worker_and_offers_the_new_features(workspace_widgets, qtbot):
    viewer, data, tsne = workspace_widgets
    data.method.setCurrentText("pix")
    qtbot.mouseClick(data.extract_button, Qt.LeftButton)
    assert data.busy and not data.extract_button.isEnabled()
    qtbot.waitUntil(lambda: not data.busy, timeout=60000)
    project = Workspace.of(viewer).project
    assert project.features["pix"] == (N_SAMPLES, 3 * 32 * 32)
    assert data.features_label.text() == "im 100×16, pix 100×3072"
    assert [tsne.method.itemText(i) for i in range(tsne.method.count())] == ["im", "pix"]
    assert tsne.method.currentText() == "pix"
    assert data.progress.value() == data.progress.maximum() == N_SAMPLES
    assert data.extract_button.isEnabled()


def test_cancel_stops_extraction_and_keeps_stored_features(workspace_widgets, qtbot):
    viewer, data, _ = workspace_widgets
    project = Workspace.of(viewer).project
    before = project.read_features("im")
    data.method.setCurrentText("im")
    qtbot.mouseClick(data.extract_button, Qt.LeftButton)
    qtbot.mouseClick(data.cancel_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not data.busy, timeout=120000)
    assert data.status.text() == "cancelled"
    np.testing.assert_array_equal(project.read_features("im"), before)
    assert not data.busy


def test_hovering_a_point_shows_its_thumbnail(workspace_widgets):
    viewer, _, tsne = workspace_widgets
    ws = Workspace.of(viewer)
    ws.hovered.emit(5)
    assert tsne.preview.shown == 5
    assert tsne.preview.caption.text() == "sample 5: unlabeled (truth: Platelets)"
    image = tsne.preview.image.pixmap().toImage()
    center = image.pixelColor(image.width() // 2, image.height() // 2)
    assert center.red() == center.green() == 0 and abs(center.blue() - 200) <= 8


class FakeMouseEvent:
    """The attributes of a napari mouse event that the map's callbacks read."""

    def __init__(self, kind, pos, position):
        self.type, self.pos, self.position, self.button = kind, pos, position, 1
        self.view_direction, self.dims_displayed = None, [0, 1]


def drive_press(layer, events):
    """Feed press / move / release events through the map layer's drag callback."""
    press, *rest = events
    callback = layer.mouse_drag_callbacks[-1](layer, press)
    next(callback)
    for event in rest:
        press.type, press.pos, press.position = event.type, event.pos, event.position
        try:
            next(callback)
        except StopIteration:
            break


def test_clicking_a_point_focuses_it_and_dragging_does_not(workspace_widgets):
    viewer, _, tsne = workspace_widgets
    ws = Workspace.of(viewer)
    tsne.dims.setCurrentText("2D")
    layer = ws.map_layer
    target = tuple(layer.data[7])
    drive_press(layer, [FakeMouseEvent("mouse_press", (100, 100), target),
                        FakeMouseEvent("mouse_move", (130, 100), target),
                        FakeMouseEvent("mouse_release", (130, 100), target)])
    assert ws.session.focus is None
    drive_press(layer, [FakeMouseEvent("mouse_press", (100, 100), target),
                        FakeMouseEvent("mouse_release", (101, 100), target)])
    assert ws.session.focus == 7
    assert tsne.focus_label.text().startswith("focus: sample 7")
