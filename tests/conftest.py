"""Shared fixtures: small synthetic projects and the path of the BCCD data set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from napari_tsne_label.store import Project

BCCD_ROOT = Path(__file__).parents[1].parent / "shared/datasets/bccd"


def make_project(path: Path, n: int = 20, size: int = 8, class_names=("a", "b", "c")) -> Project:
    """A writable project of ``n`` random thumbnails with truth ``i % len(class_names)``."""
    rng = np.random.default_rng(n)
    return Project.create(
        path,
        thumbnails=rng.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8),
        sources=[f"/data/img_{i:03d}.png" for i in range(n)],
        boxes=np.tile(np.array([0, 0, size, size], dtype=np.int32), (n, 1)) + np.arange(n)[:, None],
        truth=np.arange(n) % len(class_names),
        class_names=list(class_names),
        import_report={"kind": "synthetic"},
    )


@pytest.fixture
def project(tmp_path):
    """A writable 20-sample project, closed after the test."""
    with make_project(tmp_path / "p.ntl.zarr") as proj:
        yield proj


@pytest.fixture
def bccd_root() -> Path:
    """The BCCD Pascal-VOC set beside the repository; skips the test when it is absent."""
    if not (BCCD_ROOT / "BCCD" / "Annotations").is_dir():
        pytest.skip(f"BCCD data set not found at {BCCD_ROOT}")
    return BCCD_ROOT
