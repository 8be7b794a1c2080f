"""``napari-tsne-label demo``: napari with the labeling workspace on the blood-cell sample.

The sample is imported into a cached project, the chosen features are extracted (reused on later
runs) and the live t-SNE starts, each step in the Data & features dock's worker with progress.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

DEMO_METHODS = ("im", "tf", "tr", "rn", "pre", "pix")
NO_DISPLAY = (
    "napari-tsne-label demo: no display found (neither DISPLAY nor WAYLAND_DISPLAY is set); "
    "use the headless commands instead: napari-tsne-label import/info/extract/embed/emulate/export --help"
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``demo`` sub-command to ``subparsers``."""
    parser = subparsers.add_parser(
        "demo",
        help="open napari with the labeling workspace on the bundled blood-cell sample",
        description="Open napari with the plugin's docks, the blood-cell sample, its features "
        "(computed once, then cached) and the live t-SNE running.",
    )
    parser.add_argument("--method", default="im", choices=DEMO_METHODS,
                        help="feature extraction method (default im: ImageNet features)")
    parser.set_defaults(func=run)


def display_available() -> bool:
    """Whether a GUI can open: always off Linux; on Linux only with an X11 or Wayland display."""
    if not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run(args: argparse.Namespace) -> int:
    """Open the demo viewer and run napari's event loop; one line and status 1 without a display."""
    if not display_available():
        print(NO_DISPLAY, file=sys.stderr)
        return 1
    import napari
    import torch._dynamo  # noqa: F401  (load triton before OpenGL: see prepare_torch_training)

    viewer = napari.Viewer(title="napari-tsne-label demo: blood cells")
    launch_demo(viewer, args.method)
    napari.run()
    return 0


def launch_demo(viewer: Any, method: str = "im") -> Any:
    """Dock the workspace in ``viewer``, then chain: open the sample, extract, start the t-SNE.

    Returns the Data & features widget, whose ``worker`` runs the current step.
    """
    from napari_tsne_label._napari import show_workspace
    from napari_tsne_label._widgets.workspace import Workspace

    data_widget = show_workspace(viewer)
    workspace = Workspace.of(viewer)
    data_widget.method.setCurrentText(method)

    def start_tsne() -> None:
        if workspace.project is not None and method in workspace.project.features:
            workspace.settings.method = method
            workspace.start_tsne()

    def extract() -> None:
        if workspace.project is not None:
            data_widget.extract()
            data_widget.worker.finished.connect(start_tsne)

    data_widget.open_sample()
    data_widget.worker.finished.connect(extract)
    return data_widget
