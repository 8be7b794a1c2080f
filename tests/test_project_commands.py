"""The ``import``, ``info`` and ``export`` commands, and the bundled blood-cell sample."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from napari_tsne_label import sample_data
from napari_tsne_label.cli import main
from napari_tsne_label.errors import UserInputError
from napari_tsne_label.progress import drain
from napari_tsne_label.store import Project
from test_importing import write_class_folders


def test_import_info_export_commands(tmp_path, capsys):
    src = write_class_folders(tmp_path / "cells")
    project = tmp_path / "p.ntl.zarr"
    assert main(["import", str(src), "--project", str(project), "--size", "16"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:3] == [
        f"imported 4 samples into {project}",
        f"source: class-folders at {src} (6 images, 6 samples found)",
        "skipped files: 3",
    ]
    assert sorted(line.split(": ")[0].strip() for line in out[3:6]) == [
        f"{src}/b/corrupt.png",
        f"{src}/b/empty.png",
        f"{src}/loose.png",
    ]

    with Project.open(project, writable=True) as proj:
        proj.apply_label([0, 1], 1)
        proj.write_features("pix", np.ones((4, 6)), {})
        proj.write_embedding("pix-2d", np.zeros((4, 2)), {})
    assert main(["info", str(project)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"project: {project}",
        "samples: 4 (thumbnails 16x16)",
        "labeled: 2 of 4",
        "classes: 2",
        "  0: a  truth      3  labeled      0",
        "  1: b  truth      1  labeled      2",
        "features: pix 4 x 6",
        "embeddings: pix-2d 4 x 2",
    ]
    assert main(["export", str(project), "--out", str(tmp_path / "out")]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"wrote {tmp_path}/out/labels.csv",
        f"wrote {tmp_path}/out/features/pix.npy",
        f"wrote {tmp_path}/out/embeddings/pix-2d.npy",
    ]


def test_info_reads_while_another_process_holds_the_project(project, capsys):
    assert main(["info", str(project.path)]) == 0
    assert "samples: 20 (thumbnails 8x8)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["import", "{p}/nowhere", "--project", "{p}/x.ntl.zarr"],
            "import: error: {p}/nowhere does not exist",
        ),
        (
            ["import", "--project", "{p}/x.ntl.zarr"],
            "import: error: give either a SOURCE folder or --sample NAME, not both or neither",
        ),
        (
            ["import", "{p}", "--sample", "blood-cells", "--project", "{p}/x.ntl.zarr"],
            "import: error: give either a SOURCE folder or --sample NAME, not both or neither",
        ),
        (
            ["import", "{p}", "--project", "{p}/x.ntl.zarr", "--max-samples", "-1"],
            "import: error: --max-samples must be 0 (all) or positive, got -1",
        ),
        (
            ["import", "{p}", "--project", "{p}/x.zarr"],
            "import: error: a project path must end in .ntl.zarr, got x.zarr",
        ),
        (["info", "{p}/none.ntl.zarr"], "info: error: no project at {p}/none.ntl.zarr"),
        (
            ["export", "{p}", "--out", "{p}/o"],
            "export: error: {p} is not a napari-tsne-label project",
        ),
    ],
)
def test_command_errors_are_one_line_with_exit_status_2(tmp_path, capsys, argv, message):
    assert main([a.format(p=tmp_path) for a in argv]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"napari-tsne-label {message.format(p=tmp_path)}\n"


def test_import_sample_subsampled(tmp_path, capsys):
    project = tmp_path / "s.ntl.zarr"
    assert (
        main(
            [
                "import",
                "--sample",
                "blood-cells",
                "--project",
                str(project),
                "--max-samples",
                "60",
                "--size",
                "16",
                "--seed",
                "2",
            ]
        )
        == 0
    )
    with Project.open(project) as proj:
        assert proj.class_names == ["Platelets", "RBC", "WBC"]
        assert np.bincount(proj.truth).tolist() == [9, 42, 9]
        assert proj.import_report["samples_found"] == 2400
    assert "  1: RBC        truth     42  labeled      0" in capsys.readouterr().out


def test_bundled_sample_folder_contents():
    folder = sample_data.sample_folder()
    counts = Counter(p.parent.name for p in folder.rglob("*.jpg"))
    assert counts == {"RBC": 1667, "WBC": 372, "Platelets": 361}
    assert sum(p.stat().st_size for p in folder.rglob("*")) < 15e6
    assert "MIT License" in (folder.parent / "LICENSE").read_text()
    with pytest.raises(UserInputError, match="unknown sample 'frogs'; choose one of: blood-cells"):
        sample_data.sample_folder("frogs")


def test_sample_project_is_imported_once_then_reused(tmp_path, monkeypatch):
    src = write_class_folders(tmp_path / "cells")
    monkeypatch.setattr(sample_data, "sample_folder", lambda name: src)
    monkeypatch.setenv(sample_data.CACHE_ENV, str(tmp_path / "cache"))
    reports = []
    path = drain(sample_data.blood_cell_project(size=16), reports.append)
    assert path == tmp_path / "cache" / "blood-cells-16px.ntl.zarr"
    assert reports
    with Project.open(path, writable=True) as proj:
        assert proj.n_samples == 4
        proj.apply_label([0], 0)
    again = []
    assert drain(sample_data.blood_cell_project(size=16), again.append) == path
    assert again == []
    with Project.open(path) as proj:
        assert proj.labels[0] == 0
