"""Export a project for other tools: ``labels.csv`` plus a ``.npy`` per feature matrix/embedding.

Rows of every file follow the project's sample order, so ``features/<method>.npy[i]`` and
``embeddings/<name>.npy[i]`` belong to CSV row ``index == i``.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from napari_tsne_label.errors import UserInputError
from napari_tsne_label.store import Project

LABELS_FILE = "labels.csv"
CSV_COLUMNS = ("index", "source", "x0", "y0", "x1", "y1", "label", "truth", "labeled_by")


def export_project(project: Project, out_dir: str | os.PathLike) -> list[Path]:
    """Write labels CSV and ``.npy`` matrices of ``project`` into ``out_dir``; return the files.

    CSV columns: :data:`CSV_COLUMNS`; ``label``/``truth`` are class names ('' when unlabeled or
    unknown) and ``labeled_by`` is the source of the action that set the current label.
    """
    out = Path(out_dir).expanduser()
    if out.exists() and not out.is_dir():
        raise UserInputError(f"{out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    written = [_write_labels_csv(project, out / LABELS_FILE)]
    for kind, names, read in (
        ("features", project.features, project.read_features),
        ("embeddings", project.embeddings, project.read_embedding),
    ):
        for name in names:
            (out / kind).mkdir(exist_ok=True)
            written.append(out / kind / f"{name}.npy")
            np.save(written[-1], read(name))
    return written


def _write_labels_csv(project: Project, path: Path) -> Path:
    names = project.class_names

    def name_of(index: int) -> str:
        return names[index] if index >= 0 else ""

    rows = zip(
        range(project.n_samples),
        project.sources,
        project.boxes.tolist(),
        project.labels.tolist(),
        project.truth.tolist(),
        project.label_sources,
    )
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for index, source, box, label, truth, labeled_by in rows:
            writer.writerow([index, source, *box, name_of(label), name_of(truth), labeled_by])
    return path
