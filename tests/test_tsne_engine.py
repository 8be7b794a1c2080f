"""SemiSupervisedTSNE: determinism, labels between steps, reset, warm start, run, save."""

import numpy as np
import pytest

from napari_tsne_label.errors import UserInputError
from napari_tsne_label.progress import Progress, drain
from napari_tsne_label.tsne import SemiSupervisedTSNE
from napari_tsne_label.tsne.quality import knn_accuracy

N = 240


@pytest.fixture(scope="module")
def features():
    rng = np.random.default_rng(5)
    centres = rng.normal(scale=3.0, size=(4, 16))
    return centres[np.arange(N) % 4] + rng.normal(size=(N, 16))


@pytest.fixture(scope="module")
def one_blob():
    """One Gaussian blob with three random classes: only labels can bring a class together."""
    rng = np.random.default_rng(5)
    return rng.normal(size=(N, 16)), np.random.default_rng(6).integers(0, 3, N)


def test_two_independent_runs_with_one_seed_are_identical(features):
    first = SemiSupervisedTSNE(features, seed=7).step(30)
    second = SemiSupervisedTSNE(features, seed=7).step(30)
    other_seed = SemiSupervisedTSNE(features, seed=8, init="random").step(30)
    assert first.shape == (N, 3) and first.dtype == np.float64
    np.testing.assert_array_equal(first, second)
    assert not np.allclose(first, other_seed)


def test_thread_count_does_not_change_the_result(features):
    one = SemiSupervisedTSNE(features, n_components=2, n_threads=1).step(20)
    two = SemiSupervisedTSNE(features, n_components=2, n_threads=2).step(20)
    np.testing.assert_array_equal(one, two)


def _intra_class_ratio(Y, labels):
    """Mean distance between labeled same-class points over mean distance of all labeled pairs."""
    index = np.flatnonzero(labels >= 0)
    D = np.linalg.norm(Y[index, None] - Y[None, index], axis=-1)
    same = labels[index, None] == labels[None, index]
    off_diagonal = ~np.eye(len(index), dtype=bool)
    return D[same & off_diagonal].mean() / D[off_diagonal].mean()


def test_labels_pull_same_class_points_together(one_blob):
    """Half the points labeled after 250 epochs; f = 1 makes the pull clear on 240 points."""
    X, classes = one_blob
    labels = np.where(np.arange(N) % 2 == 0, classes, -1)
    labeled = labels >= 0
    ratio, accuracy = {}, {}
    for f, r in [(0.0, 0.0), (1.0, 0.1)]:
        engine = SemiSupervisedTSNE(X, n_components=2, f=f, r=r, seed=0)
        engine.step(250)
        engine.set_labels(labels)
        Y = engine.step(250)
        ratio[f] = _intra_class_ratio(Y, labels)
        accuracy[f], _ = knn_accuracy(Y[labeled], labels[labeled], n_folds=1)
    assert ratio[0.0] > 0.95
    assert ratio[1.0] < 0.9 * ratio[0.0]
    assert accuracy[1.0] > accuracy[0.0] + 0.3


def test_new_labels_ramp_in_from_the_current_epoch(features):
    engine = SemiSupervisedTSNE(features, ramp_epochs=10)
    engine.step(5)
    labels = np.full(N, -1)
    labels[:3] = [0, 1, 1]
    engine.set_labels(labels)
    np.testing.assert_allclose(engine.point_learning_rates()[:4], [0, 0, 0, 0])
    engine.step(4)
    np.testing.assert_allclose(engine.point_learning_rates()[:4], [0.4, 0.4, 0.4, 0])
    labels[3], labels[0] = 0, 1
    engine.set_labels(labels)  # point 3 new, point 0 changed: both restart; 1 and 2 keep going
    engine.step(2)
    np.testing.assert_allclose(engine.point_learning_rates()[:4], [0.2, 0.6, 0.6, 0.2])
    assert engine.epoch == 11


def test_reset_and_warm_start(features):
    engine = SemiSupervisedTSNE(features, n_components=2)
    start = engine.positions.copy()
    moved = engine.step(10)
    engine.reset()
    assert engine.epoch == 0
    np.testing.assert_allclose(engine.positions, start - start.mean(0))
    np.testing.assert_allclose(engine.step(10), moved)
    engine.warm_start(moved * 2, epoch=300)
    assert engine.epoch == 300
    np.testing.assert_allclose(engine.positions, 2 * moved - 2 * moved.mean(0))
    labels = np.zeros(N, int)
    engine.set_labels(labels)
    engine.warm_start(moved, epoch=300)
    np.testing.assert_allclose(engine.point_learning_rates(), 1.0)


def test_run_yields_progress_and_returns_positions(features):
    engine = SemiSupervisedTSNE(features, n_components=2)
    reports = []
    Y = drain(engine.run(25, report_every=10), reports.append)
    assert [(p.done, p.total) for p in reports] == [(10, 25), (20, 25), (25, 25)]
    assert isinstance(reports[0], Progress) and reports[-1].message == "epoch 25"
    np.testing.assert_array_equal(Y, engine.positions)
    assert 0 < engine.kl_divergence() < 10


def test_bad_arguments_are_one_line_errors(features):
    engine = SemiSupervisedTSNE(features, n_components=2)
    with pytest.raises(UserInputError, match=rf"^labels must be {N} integers, got shape \(3,\) of int64$"):
        engine.set_labels(np.zeros(3, np.int64))
    with pytest.raises(UserInputError, match="class indices >= 0 or -1"):
        engine.set_labels(np.full(N, -2))
    with pytest.raises(UserInputError, match=r"shape \(240, 2\), got \(240, 3\)"):
        engine.warm_start(np.zeros((N, 3)))
    with pytest.raises(UserInputError, match="n_components must be 2 or 3, got 4"):
        SemiSupervisedTSNE(features, n_components=4)


def test_save_writes_embedding_and_settings(tmp_path, features):
    from conftest import make_project

    project = make_project(tmp_path / "p.ntl.zarr", n=N)
    engine = SemiSupervisedTSNE(features, n_components=2, f=0.05)
    engine.step(3)
    engine.save(project, "map")
    np.testing.assert_array_equal(project.read_embedding("map"), engine.positions)
    settings = project.embedding_settings("map")
    assert settings["epoch"] == 3 and settings["f"] == 0.05 and settings["perplexity"] == 20.0
    project.close()
