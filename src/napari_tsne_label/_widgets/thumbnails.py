"""Linked thumbnails: the selection as a grid of tiles (click toggles) and a hover preview."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from qtpy.QtCore import QSize, Qt
from qtpy.QtGui import QColor, QIcon, QImage, QPixmap
from qtpy.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

TILE_PX = 64
PREVIEW_PX = 160
INDEX_ROLE = Qt.UserRole


def read_thumbnails(thumbnails: Any, indices: Sequence[int]) -> np.ndarray:
    """Rows ``indices`` of an (N, h, w, 3) uint8 zarr array, in the given order, read lazily.

    Only the chunks holding those rows are read (one orthogonal selection on sorted indices).
    """
    indices = np.asarray(indices, dtype=np.int64)
    if indices.size == 0:
        return np.empty((0, *thumbnails.shape[1:]), dtype=np.uint8)
    unique, inverse = np.unique(indices, return_inverse=True)
    rows = thumbnails.get_orthogonal_selection((unique, slice(None), slice(None), slice(None)))
    return np.asarray(rows)[inverse]


def to_pixmap(image: np.ndarray, size: int) -> QPixmap:
    """An (h, w, 3) uint8 RGB image as a QPixmap scaled to ``size`` pixels (aspect kept)."""
    image = np.ascontiguousarray(image, dtype=np.uint8)
    h, w = image.shape[:2]
    qimage = QImage(image.data, w, h, 3 * w, QImage.Format_RGB888).copy()
    return QPixmap.fromImage(qimage).scaled(size, size, Qt.KeepAspectRatio, Qt.SmoothTransformation)


class ThumbnailGrid(QListWidget):
    """The current group as tiles, focus first; deselected tiles are dimmed and struck out.

    ``on_toggle(index)`` is called when a tile is clicked.
    """

    def __init__(self, on_toggle: Callable[[int], None], parent: QWidget | None = None):
        super().__init__(parent)
        self.setViewMode(QListWidget.IconMode)
        self.setIconSize(QSize(TILE_PX, TILE_PX))
        self.setResizeMode(QListWidget.Adjust)
        self.setMovement(QListWidget.Static)
        self.setSpacing(2)
        self.setMinimumHeight(3 * (TILE_PX + 24))
        self._on_toggle = on_toggle
        self.itemClicked.connect(lambda item: self._on_toggle(int(item.data(INDEX_ROLE))))

    def show_group(self, thumbnails: Any, group: np.ndarray, deselected: np.ndarray) -> None:
        """Show the (m,) ``group`` sample indices; those in ``deselected`` dimmed."""
        self.clear()
        images = read_thumbnails(thumbnails, group)
        dropped = set(np.asarray(deselected).tolist())
        for index, image in zip(group.tolist(), images):
            is_dropped = index in dropped
            item = QListWidgetItem(f"{index} ✗" if is_dropped else str(index))
            item.setIcon(QIcon(to_pixmap(image // 3 if is_dropped else image, TILE_PX)))
            item.setData(INDEX_ROLE, index)
            item.setToolTip(f"sample {index}: click to {'reselect' if is_dropped else 'deselect'}")
            if is_dropped:
                item.setForeground(QColor("red"))
            self.addItem(item)

    def indices(self) -> list[int]:
        """Sample index of every tile, in tile order."""
        return [int(self.item(row).data(INDEX_ROLE)) for row in range(self.count())]


class SamplePreview(QWidget):
    """A larger image of one sample with its index, label and ground truth."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.image = QLabel()
        self.image.setFixedSize(PREVIEW_PX, PREVIEW_PX)
        self.image.setAlignment(Qt.AlignCenter)
        self.caption = QLabel("hover over a point")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.image)
        layout.addWidget(self.caption)
        self.shown = -1

    def show_sample(self, index: int, image: np.ndarray, caption: str) -> None:
        """Show the (h, w, 3) ``image`` of sample ``index`` with ``caption``."""
        self.shown = index
        self.image.setPixmap(to_pixmap(image, PREVIEW_PX))
        self.caption.setText(caption)
