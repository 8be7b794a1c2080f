"""Schedules of the paper, automatic learning rate, u_i ramp and the gains update."""

import numpy as np
import pytest

from napari_tsne_label.tsne.optimizer import (
    auto_learning_rate,
    exaggeration_at,
    gradient_step,
    momentum_at,
    point_learning_rates,
)


@pytest.mark.parametrize(
    ("epoch", "alpha", "momentum"),
    [(0, 4.0, 0.5), (99, 4.0, 0.5), (100, 4.0, 0.5), (175, 2.5, 0.65), (250, 1.0, 0.8),
     (1000, 1.0, 0.8)],
)
def test_exaggeration_and_momentum_schedules(epoch, alpha, momentum):
    assert exaggeration_at(epoch) == pytest.approx(alpha)
    assert momentum_at(epoch) == pytest.approx(momentum)


def test_auto_learning_rate_is_n_over_16_with_floor():
    assert auto_learning_rate(3000) == 187.5
    assert auto_learning_rate(100) == 50.0


def test_point_learning_rates_ramp_linearly_over_k_epochs():
    label_epochs = np.array([-1, 10, 10, 14])
    np.testing.assert_allclose(point_learning_rates(label_epochs, 10, 10), [0, 0, 0, 0])
    np.testing.assert_allclose(point_learning_rates(label_epochs, 15, 10), [0, 0.5, 0.5, 0.1])
    np.testing.assert_allclose(point_learning_rates(label_epochs, 20, 10), [0, 1, 1, 0.6])
    np.testing.assert_allclose(point_learning_rates(label_epochs, 500, 10), [0, 1, 1, 1])
    np.testing.assert_allclose(point_learning_rates(label_epochs, 10, 0), [0, 1, 1, 1])


def test_gradient_step_gains_momentum_and_recentring():
    Y = np.array([[1.0, 2.0], [3.0, 4.0]])
    gradient = np.array([[1.0, -1.0], [-2.0, 0.5]])
    update = np.array([[0.5, 0.5], [0.5, 0.5]])
    gains = np.array([[1.0, 1.0], [0.011, 0.011]])
    gradient_step(Y, gradient, update, gains, 10.0, 0.5)
    # gradient with the last update's sign (overshoot) -> x0.8, clipped at 0.01; opposite -> +0.2
    np.testing.assert_allclose(gains, [[0.8, 1.2], [0.211, 0.01]])
    np.testing.assert_allclose(update, [[0.25 - 8.0, 0.25 + 12.0], [0.25 + 4.22, 0.25 - 0.05]])
    moved = np.array([[1.0, 2.0], [3.0, 4.0]]) + update
    np.testing.assert_allclose(Y, moved - moved.mean(axis=0))
