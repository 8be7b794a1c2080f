"""Equation (1): exact reference vs Barnes-Hut, plain t-SNE limit, numeric gradient, label terms."""

import numpy as np
import pytest

from napari_tsne_label.tsne.affinities import compute_affinities
from napari_tsne_label.tsne.gradients import (
    bh_gradient,
    exact_gradient,
    exact_kl_divergence,
    kl_divergence,
    label_weights,
    unlabeled_weights,
)

N = 200


@pytest.fixture(scope="module")
def affinities():
    rng = np.random.default_rng(1)
    centres = rng.normal(scale=4.0, size=(4, 10))
    return compute_affinities(centres[np.arange(N) % 4] + rng.normal(size=(N, 10)), perplexity=8)


def _positions(d, seed=2):
    return np.random.default_rng(seed).normal(scale=3.0, size=(N, d))


def _labeled_weights(f=0.1, r=0.3, seed=3):
    rng = np.random.default_rng(seed)
    labels = np.full(N, -1)
    labels[:80] = rng.integers(0, 3, 80)
    return label_weights(labels, rng.uniform(0.2, 1.0, N), f, r)


def _relative_error(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


@pytest.mark.parametrize("d", [2, 3])
def test_barnes_hut_converges_to_exact_as_theta_shrinks(affinities, d):
    Y, weights, P = _positions(d), _labeled_weights(), affinities.dense()
    exact = exact_gradient(Y, P, weights, exaggeration=2.0)
    errors = [_relative_error(bh_gradient(Y, affinities, weights, 2.0, theta), exact)
              for theta in (0.8, 0.5, 0.2, 0.0)]
    assert errors[0] > errors[1] > errors[2] > errors[3]
    assert errors[1] < 0.01
    assert errors[3] < 1e-12


def test_plain_limit_equals_textbook_tsne_gradient(affinities):
    Y, P = _positions(3), affinities.dense()
    weights = label_weights(np.arange(N) % 3, np.ones(N), f=0.0, r=0.0)
    diff = Y[:, None] - Y[None]
    t = 1.0 / (1.0 + (diff**2).sum(-1))
    np.fill_diagonal(t, 0.0)
    textbook = 4.0 * np.einsum("ij,ijk->ik", (P - t / t.sum()) * t, diff)
    np.testing.assert_allclose(exact_gradient(Y, P, weights), textbook, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(bh_gradient(Y, affinities, weights, theta=0.0), textbook,
                               rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(exact_gradient(Y, P, unlabeled_weights(N)), textbook, rtol=1e-9,
                               atol=1e-15)


def test_analytic_gradient_matches_numeric_kl_gradient():
    rng = np.random.default_rng(4)
    A = compute_affinities(rng.normal(size=(12, 5)), perplexity=3)
    P, Y = A.dense(), rng.normal(size=(12, 2))
    numeric = np.zeros_like(Y)
    for index in np.ndindex(*Y.shape):
        step = np.zeros_like(Y)
        step[index] = 1e-6
        numeric[index] = (exact_kl_divergence(Y + step, P) - exact_kl_divergence(Y - step, P)) / 2e-6
    np.testing.assert_allclose(exact_gradient(Y, P, unlabeled_weights(12)), numeric, rtol=1e-5,
                               atol=1e-8)


def test_kl_divergence_matches_exact_at_theta_zero(affinities):
    Y = _positions(3)
    exact = exact_kl_divergence(Y, affinities.dense())
    assert kl_divergence(Y, affinities, theta=0.0) == pytest.approx(exact, rel=1e-12)
    assert kl_divergence(Y, affinities, theta=0.5) == pytest.approx(exact, rel=1e-2)


def test_label_weights_count_same_and_other_labeled_points():
    labels = np.array([0, 0, 0, 1, -1, 1, 2])
    weights = label_weights(labels, np.full(7, 0.5), f=0.1, r=0.2)
    # N_s: 2, 2, 2 (class 0), 1 (class 1), N_o: 3 (class 0), 4 (class 1), 5 (class 2)
    np.testing.assert_allclose(weights.same, [0.05, 0.05, 0.05, 0.1, 0.0, 0.1, 0.0])
    np.testing.assert_allclose(weights.other, [0.1 / 3] * 3 + [0.025, 0.0, 0.025, 0.02])
    np.testing.assert_allclose(weights.u, [0.5, 0.5, 0.5, 0.5, 0.0, 0.5, 0.5])


def test_hand_computed_two_labeled_pairs():
    """Four points on a line, 0,1 share label 0, 2 has label 1, 3 unlabeled; full u, f, r."""
    Y = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [6.0, 0.0]])
    P = np.full((4, 4), 1 / 12)
    np.fill_diagonal(P, 0)
    f, r = 0.4, 0.5
    weights = label_weights(np.array([0, 0, 1, -1]), np.ones(4), f, r)
    a = np.full((4, 4), 0.25)
    a[0, 1] = a[1, 0] = 0.25 + f / 1  # N_s = 1
    a[[0, 1], 2] = 0.25 - f / 1  # N_o of points 0 and 1 = 1
    a[2, [0, 1]] = 0.25 - f / 2  # N_o of point 2 = 2
    b = np.ones((4, 4))
    b[[0, 1], 2] = b[2, [0, 1]] = 1 + r
    np.fill_diagonal(a, 0)
    np.fill_diagonal(b, 0)
    x = Y[:, 0]
    dx = x[:, None] - x[None]
    t = 1 / (1 + dx**2)
    expected = 4 * (((a * P * t) * dx).sum(1) / (a * P).sum()
                    - ((b * t * t) * dx).sum(1) / (b * t).sum())
    np.testing.assert_allclose(exact_gradient(Y, P, weights)[:, 0], expected, rtol=1e-12)
    np.testing.assert_allclose(exact_gradient(Y, P, weights)[:, 1], 0.0)


def test_coincident_points_give_finite_equal_gradients(affinities):
    Y = _positions(3)
    Y[5:15] = Y[5]
    exact = exact_gradient(Y, affinities.dense(), _labeled_weights())
    bh = bh_gradient(Y, affinities, _labeled_weights(), theta=0.0)
    assert np.isfinite(bh).all()
    np.testing.assert_allclose(bh, exact, rtol=1e-9, atol=1e-12)
