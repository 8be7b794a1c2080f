"""k-NN accuracy (Table 1 measure) on cases with known answers."""

import numpy as np
import pytest

from napari_tsne_label.errors import UserInputError
from napari_tsne_label.tsne.quality import knn_accuracy


def test_alternating_classes_on_a_line():
    Y = np.c_[np.arange(10.0) ** 1.01, np.zeros(10)]
    truth = np.arange(10) % 2
    # interior points: both 2-NN (left, right) differ; the ends see one same-class point of two
    mean, std = knn_accuracy(Y, truth, k=2, n_folds=1)
    assert mean == pytest.approx(0.1)
    assert std == pytest.approx(0.2)


def test_separated_clusters_score_one_and_unknown_truth_is_ignored():
    rng = np.random.default_rng(0)
    truth = np.arange(200) % 4
    Y = truth[:, None] * 100.0 + rng.normal(size=(200, 3))
    truth[::7] = -1
    assert knn_accuracy(Y, truth) == (1.0, 0.0)


def test_folds_match_a_brute_force_oracle():
    rng = np.random.default_rng(1)
    Y, truth = rng.normal(size=(60, 2)), rng.integers(0, 3, 60)
    folds = np.array_split(np.random.default_rng(4).permutation(60), 5)
    scores = []
    for fold in folds:
        D = np.linalg.norm(Y[fold, None] - Y[None, fold], axis=-1)
        np.fill_diagonal(D, np.inf)
        nearest = np.argsort(D, axis=1)[:, :4]
        scores.extend((truth[fold][nearest] == truth[fold][:, None]).mean(1))
    assert knn_accuracy(Y, truth, seed=4) == pytest.approx((np.mean(scores), np.std(scores)))


def test_too_few_labeled_points():
    with pytest.raises(UserInputError, match="needs at least 25 labeled points, got 10"):
        knn_accuracy(np.zeros((10, 2)), np.zeros(10, int))
