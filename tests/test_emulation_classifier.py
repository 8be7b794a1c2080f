"""The section-4 MLP and the uncertainty-sampling scores on known probability vectors."""

from __future__ import annotations

import numpy as np
import pytest

from napari_tsne_label.emulation.classifier import (
    MLPClassifier,
    entropy,
    least_confidence,
    select_queries,
    smallest_margin,
)

PROBA = np.array(
    [
        [1.0, 0.0, 0.0],  # certain
        [0.5, 0.5, 0.0],  # tie between two classes
        [1 / 3, 1 / 3, 1 / 3],  # uniform
        [0.6, 0.3, 0.1],
    ]
)


def test_least_confidence_is_one_minus_max():
    np.testing.assert_allclose(least_confidence(PROBA), [0.0, 0.5, 2 / 3, 0.4])


def test_smallest_margin_score_is_negated_top_two_gap():
    np.testing.assert_allclose(smallest_margin(PROBA), [-1.0, 0.0, 0.0, -0.3], atol=1e-12)


def test_entropy_in_nats_with_zero_probabilities():
    expected = [
        0.0,
        np.log(2),
        np.log(3),
        -(0.6 * np.log(0.6) + 0.3 * np.log(0.3) + 0.1 * np.log(0.1)),
    ]
    np.testing.assert_allclose(entropy(PROBA), expected)


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [("least-confidence", [12, 11]), ("margin", [11, 12]), ("entropy", [12, 13])],
)
def test_queries_take_highest_scores_ties_to_earlier_candidate(strategy, expected):
    # entropy of (0.6, 0.3, 0.1) is 0.90 nats, above the two-way tie's log 2 = 0.69
    candidates = np.array([10, 11, 12, 13])
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(select_queries(strategy, PROBA, candidates, 2, rng), expected)


def test_random_queries_are_seeded_distinct_candidates():
    candidates = np.arange(100, 150)
    first = select_queries("random", None, candidates, 10, np.random.default_rng(3))
    again = select_queries("random", None, candidates, 10, np.random.default_rng(3))
    np.testing.assert_array_equal(first, again)
    assert len(set(first.tolist())) == 10 and set(first.tolist()) <= set(candidates.tolist())
    assert len(select_queries("random", None, candidates[:4], 10, np.random.default_rng(3))) == 4


def blobs(n_per_class=30, n_features=16, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, (3, n_features))
    X = np.concatenate([c + rng.normal(size=(n_per_class, n_features)) for c in centers])
    return X.astype(np.float32), np.repeat(np.arange(3), n_per_class)


def test_network_shape_and_probabilities():
    clf = MLPClassifier(16, 3, seed=0)
    assert tuple(clf.w1.shape) == (16, 4) and tuple(clf.w2.shape) == (4, 3)
    proba = clf.predict_proba(np.zeros((5, 16), dtype=np.float32))
    assert proba.shape == (5, 3) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_fit_learns_separable_blobs():
    X, y = blobs()
    clf = MLPClassifier(16, 3, seed=0, batch_size=32)
    before = clf.accuracy(X, y)
    assert clf.fit(X, y, epochs=60).accuracy(X, y) == 1.0
    assert before < 0.9


def test_training_is_seeded_and_continues_from_current_state():
    X, y = blobs()
    a = MLPClassifier(16, 3, seed=5).fit(X, y, 5)
    b = MLPClassifier(16, 3, seed=5).fit(X, y, 5)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    other_seed = MLPClassifier(16, 3, seed=6).fit(X, y, 5)
    assert not np.array_equal(a.predict_proba(X), other_seed.predict_proba(X))
    w1 = a.w1.detach().clone()
    a.fit(X, y, 1)
    assert not np.array_equal(w1.numpy(), a.w1.detach().numpy())  # moved on from its state


def test_classifier_sets_its_thread_count_before_training_and_predicting():
    import torch

    X, y = blobs(n_per_class=4)
    clf = MLPClassifier(16, 3, seed=0, n_threads=1)
    torch.set_num_threads(2)  # as numba's OpenMP layer does after a parallel t-SNE step
    clf.fit(X, y, 1)
    assert torch.get_num_threads() == 1
    torch.set_num_threads(2)
    clf.predict_proba(X)
    assert torch.get_num_threads() == 1
