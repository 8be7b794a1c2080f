"""A real napari window under Xvfb: the workspace renders the map coloured by label and the grid.

Set ``NTL_UPDATE_SCREENSHOT=1`` to also write the picture to ``docs/screenshot.png`` (README).
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


def test_workspace_screenshot_shows_label_colours_and_thumbnails(make_napari_viewer, tmp_path,
                                                                  qtbot):
    from test_widgets import make_project

    viewer = make_napari_viewer(show=True)
    viewer.window.resize(1500, 950)
    data = DataFeaturesWidget(viewer)
    tsne = TsneLabelingWidget(viewer)
    viewer.window.add_dock_widget(data, name="Data & features", area="left")
    viewer.window.add_dock_widget(tsne, name="t-SNE labeling", area="right")
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
    path = tmp_path / "workspace.png"
    Image.fromarray(shot).save(path)
    if os.environ.get("NTL_UPDATE_SCREENSHOT") == "1":
        shutil.copy(path, DOCS_SCREENSHOT)

    assert shot.ndim == 3 and shot.shape[0] >= 600 and shot.shape[1] >= 1000
    assert shot[..., :3].std() > 20
    canvas = viewer.screenshot(canvas_only=True, flash=False)
    for label in (0, 1):
        rgb = (np.asarray(class_color(label)[:3]) * 255).round()
        assert pixels_near(canvas, rgb) > 50, f"class {label} colour missing from the map"
    tile_colour = np.array([0, 0, 200])  # the thumbnails of class 2 are pure blue (see make_project)
    assert pixels_near(shot, tile_colour) > 12 * 100
    Workspace.of(viewer).close_project()
