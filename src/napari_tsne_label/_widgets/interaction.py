"""Mouse and keyboard on the map layer: hover shows a sample, a click focuses it, 1-9 label."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import numpy as np

from napari_tsne_label._widgets.qt_helpers import reports_user_errors

if TYPE_CHECKING:
    from napari_tsne_label._widgets.workspace import Workspace

CLICK_TOLERANCE_PX = 4.0
LABEL_KEYS = tuple(str(n) for n in range(1, 10))


def point_under_mouse(layer: Any, event: Any) -> int | None:
    """Index of the map point under the mouse (2D or 3D view), None if there is none."""
    value = layer.get_value(
        event.position,
        view_direction=event.view_direction,
        dims_displayed=event.dims_displayed,
        world=True,
    )
    return None if value is None else int(value)


def connect_map_interaction(workspace: Workspace, layer: Any) -> None:
    """Hook hover, click-to-focus and the label keys 1-9 onto the map ``layer``."""

    def on_move(layer: Any, event: Any) -> None:
        index = point_under_mouse(layer, event)
        workspace.hovered.emit(-1 if index is None else index)

    def on_press(layer: Any, event: Any):
        if event.button != 1:
            return
        pressed_at = np.asarray(event.pos, dtype=float)
        yield
        moved = 0.0
        while event.type == "mouse_move":
            moved = max(moved, float(np.linalg.norm(np.asarray(event.pos) - pressed_at)))
            yield
        index = point_under_mouse(layer, event)
        if moved <= CLICK_TOLERANCE_PX and index is not None:
            reports_user_errors(workspace.focus)(index)

    layer.mouse_move_callbacks.append(on_move)
    layer.mouse_drag_callbacks.append(on_press)
    for key in LABEL_KEYS:
        apply = reports_user_errors(functools.partial(_apply_key, workspace, int(key) - 1))
        layer.bind_key(key, apply, overwrite=True)
        workspace.viewer.bind_key(key, apply, overwrite=True)


def _apply_key(workspace: Workspace, label: int, _target: Any) -> None:
    """Key ``label + 1`` pressed: apply class ``label`` to the selection."""
    workspace.apply(label)
