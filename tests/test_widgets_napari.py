"""napari integration: manifest, reader, File > Open Sample, and the ``demo`` command."""

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from napari_tsne_label._widgets.workspace import Workspace
from napari_tsne_label.cli.demo_command import NO_DISPLAY, launch_demo
from napari_tsne_label.sample_data import CACHE_ENV

pytestmark = pytest.mark.gui

PLUGIN = "napari-tsne-label"
BLOOD_CELL_SAMPLES = 361 + 1667 + 372


@pytest.fixture(scope="module")
def sample_cache(tmp_path_factory):
    """A private cache folder for the imported blood-cell sample, shared by this module's tests."""
    with pytest.MonkeyPatch.context() as patch:
        path = tmp_path_factory.mktemp("cache")
        patch.setenv(CACHE_ENV, str(path))
        yield path


@pytest.fixture
def viewer(make_napari_viewer):
    """A napari viewer whose workspace project is closed after the test."""
    viewer = make_napari_viewer()
    yield viewer
    Workspace.of(viewer).close_project()


def test_manifest_validates_and_lists_widgets_reader_and_sample():
    import npe2

    manifest = npe2.PluginManifest.from_distribution(PLUGIN)
    manifest.validate_imports()
    assert [w.display_name for w in manifest.contributions.widgets] == [
        "Data & features", "t-SNE labeling", "Emulation"]
    assert [(s.key, s.display_name) for s in manifest.contributions.sample_data] == [
        ("blood-cells", "Blood cells")]
    assert manifest.contributions.readers[0].accepts_directories


def test_napari_lists_the_docks_and_the_sample(viewer):
    from napari.plugins import _npe2

    docks = [names for kind, (plugin, names) in _npe2.widget_iterator() if plugin == PLUGIN]
    assert docks == [["Data & features", "t-SNE labeling", "Emulation"]]
    samples = dict(_npe2.sample_iterator())[PLUGIN]
    assert samples["blood-cells"]["display_name"] == "Blood cells"
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "t-SNE labeling")
    assert type(widget).__name__ == "TsneLabelingWidget"


def test_reader_opens_a_project_in_the_workspace(viewer, tmp_path):
    from test_widgets import make_project

    path = make_project(tmp_path / "drop.ntl.zarr", n=30)
    viewer.open(str(path), plugin=PLUGIN)
    workspace = Workspace.of(viewer)
    assert workspace.project.path == path
    assert workspace.map_layer.data.shape == (30, 3)
    assert len(viewer.layers) == 1


def test_reader_imports_an_image_folder_then_opens_it(viewer, tmp_path, qtbot):
    folder = tmp_path / "cells"
    for name, value in [("a", 40), ("b", 200)]:
        (folder / name).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.full((20, 24, 3), value + i, np.uint8)).save(folder / name / f"{i}.png")
    (tmp_path / "notes.txt").write_text("not images")
    from napari_tsne_label._napari import get_reader

    assert get_reader(str(tmp_path / "notes.txt")) is None
    viewer.open(str(folder), plugin=PLUGIN)
    workspace = Workspace.of(viewer)
    qtbot.waitUntil(lambda: workspace.project is not None, timeout=30000)
    assert workspace.project.path == tmp_path / "cells.ntl.zarr"
    assert workspace.project.class_names == ["a", "b"]
    assert workspace.map_layer.data.shape == (6, 3)


@pytest.mark.slow
def test_demo_opens_sample_extracts_and_moves_the_map(viewer, sample_cache, qtbot):
    data_widget = launch_demo(viewer, method="pix")
    workspace = Workspace.of(viewer)
    qtbot.waitUntil(lambda: workspace.epoch >= 2, timeout=90000)
    project = workspace.project
    assert project.n_samples == BLOOD_CELL_SAMPLES
    assert project.features["pix"] == (BLOOD_CELL_SAMPLES, 3 * 32 * 32)
    assert workspace.map_layer.data.shape == (BLOOD_CELL_SAMPLES, 3)
    assert data_widget.features_label.text() == f"pix {BLOOD_CELL_SAMPLES}×3072"
    workspace.stop_tsne()


def test_open_sample_menu_reuses_the_cached_project(viewer, sample_cache):
    layers = viewer.open_sample(PLUGIN, "blood-cells")
    workspace = Workspace.of(viewer)
    assert [layer.name for layer in layers] == ["t-SNE map"]
    assert workspace.map_layer is layers[0]
    assert workspace.project.path.parent == sample_cache
    assert workspace.map_layer.features["truth"].value_counts().to_dict() == {
        "RBC": 1667, "WBC": 372, "Platelets": 361}


def test_demo_without_display_prints_one_line_and_fails():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    result = subprocess.run([sys.executable, "-m", "napari_tsne_label", "demo"], env=env, check=False,
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr == NO_DISPLAY + "\n"
    assert result.stdout == ""
