"""napari contributions named in ``napari.yaml``: the reader and the blood-cell sample.

Both open the data in the labeling workspace and dock its widgets, so dropping a ``*.ntl.zarr``
project or an image folder onto napari, or choosing File > Open Sample > Blood cells, starts a
labeling session.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from napari_tsne_label.errors import UserInputError
from napari_tsne_label.store import PROJECT_SUFFIX

PLUGIN_NAME = "napari-tsne-label"
DOCK_WIDGETS = ("Data & features", "t-SNE labeling", "Emulation")
NULL_LAYER = [(None,)]


def show_workspace(viewer: Any) -> Any:
    """Dock the plugin's widgets in ``viewer`` (once; Emulation tabbed behind t-SNE labeling)
    and return the Data & features widget."""
    widgets = [viewer.window.add_plugin_dock_widget(PLUGIN_NAME, name, tabify=name == "Emulation")[1]
               for name in DOCK_WIDGETS]
    return widgets[0]


def get_reader(path: str | list[str]) -> Callable[[Any], list] | None:
    """napari reader hook: a reader for a project directory or a folder of images, else None."""
    if isinstance(path, list):
        if len(path) != 1:
            return None
        path = path[0]
    folder = Path(path)
    if not folder.is_dir():
        return None
    if folder.name.endswith(PROJECT_SUFFIX):
        return read_project
    return read_image_folder if _holds_images(folder) else None


def read_project(path: str | list[str]) -> list:
    """Open a ``*.ntl.zarr`` project in the current viewer's workspace (adds the map itself)."""
    import napari

    data_widget = show_workspace(napari.current_viewer())
    data_widget.open_project(_single(path))
    return NULL_LAYER


def read_image_folder(path: str | list[str]) -> list:
    """Import an image folder or VOC set into ``<folder>.ntl.zarr`` beside it (or reopen that)."""
    import napari

    source = Path(_single(path)).absolute()
    data_widget = show_workspace(napari.current_viewer())
    project = source.with_name(source.name + PROJECT_SUFFIX)
    if project.exists():
        data_widget.open_project(project)
    else:
        data_widget.import_folder(source, project)
    return NULL_LAYER


def blood_cells_sample() -> list:
    """File > Open Sample > Blood cells: the bundled BCCD crops in the workspace; returns the map."""
    import napari

    from napari_tsne_label._widgets.workspace import Workspace
    from napari_tsne_label.progress import drain
    from napari_tsne_label.sample_data import blood_cell_project

    viewer = napari.current_viewer()
    show_workspace(viewer)
    project = drain(blood_cell_project())
    workspace = Workspace.of(viewer)
    workspace.open_project(project, show_map=False)
    return [workspace.map_layer_data()]


def _single(path: str | list[str]) -> str:
    return path[0] if isinstance(path, list) else path


def _holds_images(folder: Path) -> bool:
    """Whether ``folder`` is something :func:`importing.import_folder` can import."""
    from napari_tsne_label.importing import plan_import

    try:
        plan_import(folder)
    except UserInputError:
        return False
    return True
