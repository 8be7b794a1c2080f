"""The bundled blood-cell sample: crops derived from BCCD (``sample_data/blood-cells``).

The crops ship in the source tree (``scripts/make_sample_data.py`` made them). The first use
imports them into a project under the cache folder (``$NAPARI_TSNE_LABEL_CACHE``, else
``~/.cache/napari-tsne-label``); later uses reopen that project, labels and all.
"""

from __future__ import annotations

import os
from pathlib import Path

from napari_tsne_label.errors import UserInputError
from napari_tsne_label.importing import DEFAULT_SIZE, import_folder
from napari_tsne_label.progress import ProgressGenerator
from napari_tsne_label.store import PROJECT_SUFFIX

SAMPLES = ("blood-cells",)
CACHE_ENV = "NAPARI_TSNE_LABEL_CACHE"
_SEARCH_ROOTS = (
    Path(__file__).resolve().parents[2] / "sample_data",  # source checkout / editable install
    Path(__file__).resolve().parent / "_sample_data",  # wheels: packaged beside this module
)


def sample_folder(name: str = "blood-cells") -> Path:
    """The folder of the bundled sample ``name`` (class sub-folders of JPEG crops)."""
    if name not in SAMPLES:
        raise UserInputError(f"unknown sample {name!r}; choose one of: {', '.join(SAMPLES)}")
    for root in _SEARCH_ROOTS:
        if (root / name).is_dir():
            return root / name
    raise UserInputError(
        f"sample {name!r} is not installed; it ships in the source tree (sample_data/{name}): "
        "reinstall napari-tsne-label"
    )


def cache_dir() -> Path:
    """Folder of cached sample projects: ``$NAPARI_TSNE_LABEL_CACHE``, else ``~/.cache/...``."""
    configured = os.environ.get(CACHE_ENV)
    return (
        Path(configured).expanduser()
        if configured
        else Path.home() / ".cache" / "napari-tsne-label"
    )


def sample_project(name: str = "blood-cells", size: int = DEFAULT_SIZE) -> ProgressGenerator[Path]:
    """Path of the cached project of sample ``name`` at thumbnail ``size``; imports it once."""
    path = cache_dir() / f"{name}-{size}px{PROJECT_SUFFIX}"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        project = yield from import_folder(sample_folder(name), path, max_samples=0, size=size)
    except UserInputError:
        if path.exists():  # another process imported it meanwhile
            return path
        raise
    project.close()
    return path


def blood_cell_project(size: int = DEFAULT_SIZE) -> ProgressGenerator[Path]:
    """Path of the cached blood-cell sample project; imports it once, yielding progress."""
    return (yield from sample_project("blood-cells", size))
