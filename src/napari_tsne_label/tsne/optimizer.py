"""The paper's schedules (exaggeration, momentum), point learning rates and the gains update.

Exaggeration alpha stays 4 until epoch 100 and falls linearly to 1 at epoch 250; momentum rises
from 0.5 to 0.8 over the same span. The automatic learning rate is scikit-learn's
max(N / early_exaggeration / 4, 50) (our gradient carries equation (1)'s factor 4), which makes
learning rate times exaggeration equal N as recommended by Belkina et al. (2019).
"""

from __future__ import annotations

import numpy as np
from numba import njit

SCHEDULE_START = 100
SCHEDULE_STOP = 250
EARLY_EXAGGERATION = 4.0
EARLY_MOMENTUM = 0.5
LATE_MOMENTUM = 0.8
GAIN_INCREASE = 0.2
GAIN_DECREASE = 0.8
MIN_GAIN = 0.01


def _linear(epoch: float, early: float, late: float) -> float:
    """``early`` until SCHEDULE_START, linear to ``late`` at SCHEDULE_STOP, ``late`` after."""
    progress = (epoch - SCHEDULE_START) / (SCHEDULE_STOP - SCHEDULE_START)
    return early + (late - early) * min(1.0, max(0.0, progress))


def exaggeration_at(epoch: int) -> float:
    """Attraction exaggeration alpha at ``epoch``: 4 up to 100, linearly to 1 at 250."""
    return _linear(epoch, EARLY_EXAGGERATION, 1.0)


def momentum_at(epoch: int) -> float:
    """Momentum at ``epoch``: 0.5 up to 100, linearly to 0.8 at 250."""
    return _linear(epoch, EARLY_MOMENTUM, LATE_MOMENTUM)


def auto_learning_rate(n_samples: int) -> float:
    """max(N / early exaggeration / 4, 50): 187.5 for N = 3,000."""
    return max(n_samples / EARLY_EXAGGERATION / 4.0, 50.0)


def point_learning_rates(label_epochs: np.ndarray, epoch: int, ramp_epochs: int) -> np.ndarray:
    """u_i (N,) float64: 0 unlabeled (label_epochs -1), else (epoch - labeled at) / K in [0, 1].

    ``ramp_epochs`` K = 0 gives u_i = 1 as soon as the label arrives.
    """
    labeled = label_epochs >= 0
    if ramp_epochs <= 0:
        return labeled.astype(np.float64)
    ramp = np.clip((epoch - label_epochs) / ramp_epochs, 0.0, 1.0)
    return np.where(labeled, ramp, 0.0)


@njit(cache=True)
def gradient_step(Y, gradient, update, gains, learning_rate, momentum):
    """One momentum step with per-parameter gains, in place; then re-centre Y at the origin.

    Gains grow by 0.2 where the gradient's sign opposes the last update, shrink by x0.8 where it
    agrees, and never fall below 0.01. All arrays (N, d) float64.
    """
    n, d = Y.shape
    for i in range(n):
        for a in range(d):
            if (gradient[i, a] > 0) != (update[i, a] > 0):
                gains[i, a] += GAIN_INCREASE
            else:
                gains[i, a] *= GAIN_DECREASE
            gains[i, a] = max(gains[i, a], MIN_GAIN)
            update[i, a] = momentum * update[i, a] - learning_rate * gains[i, a] * gradient[i, a]
            Y[i, a] += update[i, a]
    mean = np.zeros(d)
    for i in range(n):
        for a in range(d):
            mean[a] += Y[i, a]
    for i in range(n):
        for a in range(d):
            Y[i, a] -= mean[a] / n
