"""Export round trip: labels.csv and the .npy matrices hold exactly what the store holds."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from napari_tsne_label.errors import UserInputError
from napari_tsne_label.export import CSV_COLUMNS, export_project


def test_export_round_trips_labels_features_and_embeddings(project, tmp_path):
    project.apply_label([0, 1, 2], 1)
    project.apply_label([2, 3], 2, source="suggestion")
    project.add_class("debris")
    project.apply_label([19], 3, source="emulation")
    X = np.random.default_rng(0).normal(size=(20, 5)).astype(np.float32)
    project.write_features("im", X, {"backbone": "lite0"})
    project.write_embedding("im-3d", X[:, :3].astype(np.float64), {"perplexity": 20})
    out = tmp_path / "out"
    written = export_project(project, out)
    assert sorted(p.relative_to(out).as_posix() for p in written) == [
        "embeddings/im-3d.npy",
        "features/im.npy",
        "labels.csv",
    ]

    with open(out / "labels.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == CSV_COLUMNS
    rows = rows[1:]
    names = project.class_names
    assert [int(r[0]) for r in rows] == list(range(20))
    assert [r[1] for r in rows] == project.sources
    np.testing.assert_array_equal([[int(v) for v in r[2:6]] for r in rows], project.boxes)
    np.testing.assert_array_equal([names.index(r[6]) if r[6] else -1 for r in rows], project.labels)
    np.testing.assert_array_equal([names.index(r[7]) for r in rows], project.truth)
    assert [r[8] for r in rows][:5] == ["user", "user", "suggestion", "suggestion", ""]
    assert rows[19][6:] == ["debris", "b", "emulation"]

    features = np.load(out / "features" / "im.npy")
    assert features.dtype == np.float32
    np.testing.assert_array_equal(features, project.read_features("im"))
    np.testing.assert_array_equal(
        np.load(out / "embeddings" / "im-3d.npy"), project.read_embedding("im-3d")
    )


def test_export_without_matrices_writes_only_the_csv(project, tmp_path):
    written = export_project(project, tmp_path / "o")
    assert written == [tmp_path / "o" / "labels.csv"]
    lines = (tmp_path / "o" / "labels.csv").read_text().splitlines()
    assert len(lines) == 21
    assert lines[1] == "0,/data/img_000.png,0,0,8,8,,a,"


def test_export_refuses_a_file_as_folder(project, tmp_path):
    (tmp_path / "taken").write_text("")
    with pytest.raises(UserInputError, match="taken exists and is not a folder"):
        export_project(project, tmp_path / "taken")
