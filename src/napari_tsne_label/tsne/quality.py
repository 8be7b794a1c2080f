"""Embedding quality as in the paper's Table 1: k-NN accuracy, leave-one-out within folds.

A point's score is the fraction of its k nearest neighbours (among the other points of its fold)
that share its true class; the mean and standard deviation are taken over all scored points of
all folds, which is the spread the paper's "96 +- 15" style figures report.
"""

from __future__ import annotations

import numpy as np

from napari_tsne_label.errors import UserInputError
from napari_tsne_label.tsne.affinities import nearest_neighbours


def knn_accuracy(
    Y: np.ndarray, truth: np.ndarray, k: int = 4, n_folds: int = 5, seed: int = 0
) -> tuple[float, float]:
    """Mean and standard deviation of the k-NN agreement of embedding ``Y`` (N, d) with ``truth``.

    ``truth`` (N,) int, -1 = unknown (ignored). Points are split into ``n_folds`` seeded random
    folds; within each, every point's ``k`` nearest other points vote. Returns (mean, std) in [0, 1].
    """
    Y = np.asarray(Y, dtype=np.float64)
    truth = np.asarray(truth)
    known = np.flatnonzero(truth >= 0)
    if len(truth) != len(Y):
        raise UserInputError(f"{len(truth)} true labels for {len(Y)} points")
    if len(known) < n_folds * (k + 1):
        raise UserInputError(
            f"k-NN accuracy with k={k} and {n_folds} folds needs at least {n_folds * (k + 1)} "
            f"labeled points, got {len(known)}"
        )
    folds = np.array_split(np.random.default_rng(seed).permutation(known), n_folds)
    scores = np.concatenate([_fold_scores(Y[fold], truth[fold], k) for fold in folds])
    return float(scores.mean()), float(scores.std())


def _fold_scores(Y: np.ndarray, truth: np.ndarray, k: int) -> np.ndarray:
    """Per point (n,): the fraction of its k nearest other points with the same class."""
    neighbours, _ = nearest_neighbours(np.ascontiguousarray(Y), k)
    return (truth[neighbours] == truth[:, None]).mean(axis=1)
