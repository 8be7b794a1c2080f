"""A real napari window under Xvfb: the workspace renders the map coloured by label and the grid.

The README's ``docs/screenshot.png`` comes from the slow test on the blood-cell sample:
``NTL_UPDATE_SCREENSHOT=1 python -m pytest -m slow tests/test_screenshot.py``.
"""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from napari_tsne_label._widgets.data_widget import DataFeaturesWidget
from napari_tsne_label._widgets.tsne_widget import TsneLabelingWidget
from napari_tsne_label._widgets.workspace import Workspace, class_color

pytestmark = pytest.mark.gui

DOCS_SCREENSHOT = Path(__file__).parents[1] / "docs" / "screenshot.png"
COLOR_TOLERANCE = 40


def pixels_near(image: np.ndarray, rgb: np.ndarray) -> int:
    """Number of pixels of an (H, W, 3+) uint8 image within COLOR_TOLERANCE of ``rgb`` per channel."""
    return int(np.sum(np.all(np.abs(image[..., :3].astype(int) - rgb) <= COLOR_TOLERANCE, axis=-1)))


def workspace_window(make_napari_viewer):
    """A shown 1500 x 950 viewer with the Data (left) and t-SNE labeling (right) docks."""
    viewer = make_napari_viewer(show=True)
    viewer.window.resize(1500, 950)
    data = DataFeaturesWidget(viewer)
    tsne = TsneLabelingWidget(viewer)
    viewer.window.add_dock_widget(data, name="Data & features", area="left")
    viewer.window.add_dock_widget(tsne, name="t-SNE labeling", area="right")
    return viewer, data, tsne


def test_workspace_screenshot_shows_label_colours_and_thumbnails(make_napari_viewer, tmp_path,
                                                                  qtbot):
    from test_widgets import make_project

    viewer, data, tsne = workspace_window(make_napari_viewer)
    data.open_project(make_project(tmp_path / "shot.ntl.zarr", n=240))
    ws = Workspace.of(viewer)
    tsne.dims.setCurrentText("2D")
    tsne.epochs_per_update.setValue(25)
    tsne.start_button.click()
    qtbot.waitUntil(lambda: ws.epoch >= 400, timeout=60000)
    ws.stop_tsne()
    for label, focus in enumerate((0, 1)):
        ws.focus(focus)
        ws.set_k(30)
        ws.apply(label)
    ws.focus(2)
    ws.set_k(12)
    ws.toggle(ws.session.group[5])
    viewer.reset_view()
    qtbot.wait(200)

    shot = viewer.screenshot(canvas_only=False, flash=False)
    Image.fromarray(shot).save(tmp_path / "workspace.png")

    assert shot.ndim == 3 and shot.shape[0] >= 600 and shot.shape[1] >= 1000
    assert shot[..., :3].std() > 20
    canvas = viewer.screenshot(canvas_only=True, flash=False)
    for label in (0, 1):
        rgb = (np.asarray(class_color(label)[:3]) * 255).round()
        assert pixels_near(canvas, rgb) > 50, f"class {label} colour missing from the map"
    tile_colour = np.array([0, 0, 200])  # the thumbnails of class 2 are pure blue (see make_project)
    assert pixels_near(shot, tile_colour) > 12 * 100
    Workspace.of(viewer).close_project()


@pytest.mark.slow
def test_readme_screenshot_of_the_blood_cell_sample(make_napari_viewer, tmp_path, qtbot):
    """Label the blood-cell sample as a user would (suggested focus, group, deselect the odd
    ones, apply the class) for a few rounds, then save the window (docs/screenshot.png)."""
    from napari_tsne_label.features.extraction import ExtractionSettings, extract
    from napari_tsne_label.progress import drain
    from napari_tsne_label.sample_data import blood_cell_project
    from napari_tsne_label.store import Project

    source = drain(blood_cell_project())
    with Project.open(source, writable=True) as project:
        drain(extract(project, ExtractionSettings("im")))
    path = tmp_path / source.name
    shutil.copytree(source, path, ignore=shutil.ignore_patterns(".lock"))
    viewer, data, tsne = workspace_window(make_napari_viewer)
    data.open_project(path)
    ws = Workspace.of(viewer)
    truth = ws.project.truth
    tsne.epochs_per_update.setValue(20)
    tsne.start_button.click()
    qtbot.waitUntil(lambda: ws.epoch >= 400, timeout=300000)
    ws.stop_tsne()
    for k in (60, 40, 30, 20):
        focus = ws.suggest_focus()
        ws.set_k(k)
        for member in ws.session.group:
            if truth[member] != truth[focus]:
                ws.toggle(member)
        tsne.class_box.setCurrentIndex(int(truth[focus]))
        if k != 20:
            ws.apply(int(truth[focus]))
    viewer.camera.angles = (0, 30, 60)
    viewer.reset_view()
    qtbot.wait(300)
    shot = viewer.screenshot(canvas_only=False, flash=False)
    assert shot[..., :3].std() > 20
    Image.fromarray(shot).save(tmp_path / "workspace.png")
    if os.environ.get("NTL_UPDATE_SCREENSHOT") == "1":
        shutil.copy(tmp_path / "workspace.png", DOCS_SCREENSHOT)
    ws.close_project()
