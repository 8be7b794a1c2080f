"""Sparse P: exact neighbours, perplexity calibration, symmetry, normalisation, bad inputs."""

import numpy as np
import pytest

from napari_tsne_label.errors import UserInputError
from napari_tsne_label.tsne.affinities import (
    EXACT_PCA_MAX_DIM,
    _conditional_probabilities,
    compute_affinities,
    nearest_neighbours,
    pca,
)


def _blobs(n=120, dim=8, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=5.0, size=(3, dim))
    return centres[np.arange(n) % 3] + rng.normal(size=(n, dim))


def test_nearest_neighbours_match_sorted_distance_matrix():
    X = _blobs()
    indices, sq = nearest_neighbours(X, 7)
    D = ((X[:, None] - X[None]) ** 2).sum(-1)
    np.fill_diagonal(D, np.inf)
    expected = np.argsort(D, axis=1, kind="stable")[:, :7]
    assert indices.shape == (120, 7) and indices.dtype == np.int64
    np.testing.assert_array_equal(indices, expected)
    np.testing.assert_allclose(sq, np.take_along_axis(D, expected, axis=1), rtol=1e-9, atol=1e-9)


def test_conditional_rows_reach_the_perplexity():
    _, sq = nearest_neighbours(_blobs(), 30)
    conditional = _conditional_probabilities(sq, np.log(10.0))
    entropy = -(conditional * np.log(np.maximum(conditional, 1e-300))).sum(axis=1)
    np.testing.assert_allclose(conditional.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.exp(entropy), 10.0, rtol=1e-4)


def test_affinities_are_symmetric_normalised_and_local():
    X = _blobs()
    A = compute_affinities(X, perplexity=5)
    P = A.dense()
    assert A.perplexity == 5.0
    np.testing.assert_allclose(P, P.T)
    assert P.sum() == pytest.approx(1.0)
    assert np.all(np.diag(P) == 0) and np.all(P >= 0)
    # every stored pair is among each other's 15 nearest neighbours in at least one direction
    knn, _ = nearest_neighbours(X, 15)
    rows = np.repeat(np.arange(len(X)), np.diff(A.indptr))
    in_row = (knn[rows] == A.indices[:, None]).any(1) | (knn[A.indices] == rows[:, None]).any(1)
    assert in_row.all()
    assert 15 * len(X) <= len(A.values) <= 30 * len(X)


def test_pca_matches_svd_projection_up_to_sign():
    X = _blobs(dim=12)
    projected = pca(X, 3)
    centred = X - X.mean(0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    np.testing.assert_allclose(np.abs(projected), np.abs(u[:, :3] * s[:3]), atol=1e-8)


def test_nan_and_inf_rows_are_named():
    X = _blobs()
    X[[4, 17], 2] = np.nan
    X[30, 0] = np.inf
    with pytest.raises(UserInputError, match=r"^features contain NaN or infinite values in rows 4, 17, 30$"):
        compute_affinities(X)


def test_too_few_samples_and_bad_shape_are_refused():
    with pytest.raises(UserInputError, match=r"^t-SNE needs at least 4 samples, got 3$"):
        compute_affinities(np.zeros((3, 5)))
    with pytest.raises(UserInputError, match=r"2-D \(samples, features\) matrix, got shape \(10,\)"):
        compute_affinities(np.zeros(10))


def test_small_n_lowers_the_perplexity_with_a_warning():
    with pytest.warns(UserWarning, match="perplexity 20 needs at least 61 samples; using 6.33 for 20"):
        A = compute_affinities(_blobs(n=20), perplexity=20)
    assert A.perplexity == pytest.approx(19 / 3)
    assert A.dense().sum() == pytest.approx(1.0)


def test_duplicates_and_constant_features_work():
    X = _blobs(n=60)
    X[:, 3] = 7.0
    X[10:20] = X[10]
    P = compute_affinities(X, perplexity=5).dense()
    assert np.isfinite(P).all() and P.sum() == pytest.approx(1.0)
    # the ten copies of one point share their probability mass evenly
    np.testing.assert_allclose(P[10, 11:20], P[10, 11])
    identical = compute_affinities(np.ones((30, 4)), perplexity=5).dense()
    assert np.isfinite(identical).all() and identical.sum() == pytest.approx(1.0)


def test_randomized_pca_of_wide_features_matches_svd_projection_up_to_sign():
    rng = np.random.default_rng(3)
    n, d = 200, EXACT_PCA_MAX_DIM + 100
    latent = rng.normal(size=(n, 5)) * np.array([50.0, 40.0, 30.0, 20.0, 10.0])
    X = latent @ rng.normal(size=(5, d)) + rng.normal(scale=0.1, size=(n, d))
    projected = pca(X, 3)
    centred = X - X.mean(0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    np.testing.assert_allclose(np.abs(projected), np.abs(u[:, :3] * s[:3]), rtol=1e-6, atol=1e-6)
