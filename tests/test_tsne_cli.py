"""``napari-tsne-label embed`` on .npy matrices and on a project's stored features."""

import numpy as np
import pytest

from conftest import make_project
from napari_tsne_label.cli import main
from napari_tsne_label.store import Project

N = 90


@pytest.fixture
def features():
    rng = np.random.default_rng(0)
    return np.arange(N)[:, None] % 3 * 6.0 + rng.normal(size=(N, 12))


def test_embed_npy_with_labels(tmp_path, features, capsys):
    labels = np.full(N, -1)
    labels[:9] = np.arange(9) % 3
    np.save(tmp_path / "X.npy", features)
    np.save(tmp_path / "L.npy", labels)
    status = main(["embed", "--features", str(tmp_path / "X.npy"), "--labels", str(tmp_path / "L.npy"),
                   "--out", str(tmp_path / "Y.npy"), "--dims", "2", "--epochs", "40",
                   "--perplexity", "10"])
    assert status == 0
    Y = np.load(tmp_path / "Y.npy")
    assert Y.shape == (N, 2) and np.isfinite(Y).all()
    out = capsys.readouterr().out
    assert out.startswith("KL divergence ") and f"wrote {N} x 2 positions" in out


def test_embed_project_uses_its_labels_and_stores_the_embedding(tmp_path, features, capsys):
    path = tmp_path / "p.ntl.zarr"
    with make_project(path, n=N) as project:
        project.write_features("im", features, {"method": "im"})
        project.apply_label([0, 3, 6], 0)
    assert main(["embed", "--project", str(path), "--epochs", "30", "--perplexity", "10"]) == 0
    with Project.open(path) as project:
        assert project.embeddings == {"tsne-im-3d": (N, 3)}
        settings = project.embedding_settings("tsne-im-3d")
    assert settings["epoch"] == 30 and settings["n_labeled"] == 3
    assert "saved as embedding 'tsne-im-3d'" in capsys.readouterr().out


def test_embed_errors_are_one_line(tmp_path, features, capsys):
    path = tmp_path / "p.ntl.zarr"
    make_project(path, n=N).close()
    assert main(["embed", "--project", str(path)]) == 2
    assert capsys.readouterr().err == (
        "napari-tsne-label embed: error: project has no 'im' features (has: none); "
        f"run: napari-tsne-label extract --project {path} --method im\n"
    )
    bad = features.copy()
    bad[7, 1] = np.nan
    np.save(tmp_path / "X.npy", bad)
    assert main(["embed", "--features", str(tmp_path / "X.npy"), "--out", str(tmp_path / "Y.npy")]) == 2
    assert capsys.readouterr().err == (
        "napari-tsne-label embed: error: features contain NaN or infinite values in rows 7\n"
    )
    assert main(["embed", "--features", str(tmp_path / "X.npy")]) == 2
    assert "give either --project P, or --features X.npy with --out Y.npy" in capsys.readouterr().err
