"""The ``extract`` sub-command: stores features, reuses them, reports user errors in one line."""

from __future__ import annotations

import numpy as np

from napari_tsne_label.cli import main
from napari_tsne_label.store import Project


def test_extract_stores_then_reuses(project, capsys):
    path = project.path
    project.close()
    args = ["extract", "--project", str(path), "--method", "pix", "--pix-size", "4"]
    assert main(args) == 0
    assert capsys.readouterr().out == f"pix features 20 x 48 stored in {path} (features/pix)\n"
    assert main(args) == 0
    assert capsys.readouterr().out == f"pix features 20 x 48 reused in {path} (features/pix)\n"
    with Project.open(path) as reopened:
        assert reopened.feature_settings("pix") == {"method": "pix", "pix_size": 4}
        assert reopened.read_features("pix").dtype == np.float32


def test_extract_trains_tf_with_given_epochs(project, capsys):
    path = project.path
    project.close()
    args = ["extract", "--project", str(path), "--method", "tf", "--input-size", "32",
            "--epochs", "2", "--batch-size", "10", "--angles", "4", "--seed", "3"]
    assert main(args) == 0
    assert "tf features 20 x 1280 stored" in capsys.readouterr().out
    with Project.open(path) as reopened:
        stored = reopened.feature_settings("tf")
    assert (stored["epochs"], stored["batch_size"], stored["n_angles"], stored["seed"]) == (2, 10, 4, 3)


def test_missing_weights_file_exits_2_with_one_line(project, capsys, tmp_path):
    path = project.path
    project.close()
    missing = tmp_path / "missing.pth"
    status = main(["extract", "--project", str(path), "--method", "im", "--weights", str(missing)])
    assert status == 2
    assert capsys.readouterr().err == (
        f"napari-tsne-label extract: error: weights file not found: {missing}\n"
    )
