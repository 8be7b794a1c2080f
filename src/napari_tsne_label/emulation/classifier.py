"""The classifier of section 4 and the uncertainty-sampling query strategies.

The network is the paper's: input ``D`` -> 25% dropout -> dense ``D // 4`` + ReLU -> 25% dropout
-> dense ``C`` -> softmax, trained with Adam on the cross-entropy and always continued from its
current state. Its weights, dropout masks and batch order come from its own seeded
``torch.Generator``, so a run is reproducible on the CPU whatever else uses torch's global RNG.
"""

from __future__ import annotations

import math

import numpy as np
import torch

DROPOUT = 0.25
LEARNING_RATE = 1e-3
BATCH_SIZE = 32
STRATEGIES = ("random", "least-confidence", "margin", "entropy")


def set_torch_threads(n_threads: int = 1) -> int:
    """Set torch's intra-op thread count (default 1) and return it.

    One thread is the fast choice here: the MLP's batches are small, and extra OpenMP threads
    spin while waiting, fighting the t-SNE's numba threads and other processes for the cores
    (two threads measured 10 to 40 times slower than one on the shared 2-core machine). numba's
    OpenMP layer resets the shared thread count, so the classifier calls this before each use.
    """
    torch.set_num_threads(max(1, int(n_threads)))
    return torch.get_num_threads()


class MLPClassifier:
    """Dropout MLP of section 4 on fixed features, trained incrementally.

    Parameters
    ----------
    n_features : int
        Input dimension ``D``; the hidden layer has ``max(1, D // 4)`` units.
    n_classes : int
        Number of classes ``C``.
    seed : int, default 0
        Seeds the initial weights, dropout masks and batch shuffling.
    batch_size : int, default 32
        Mini-batch size of one training epoch (Keras' default).
    n_threads : int, default 1
        torch threads used while training and predicting (see :func:`set_torch_threads`).
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        seed: int = 0,
        batch_size: int = BATCH_SIZE,
        n_threads: int = 1,
    ) -> None:
        self.n_threads = int(n_threads)
        self.generator = torch.Generator().manual_seed(int(seed))
        self.batch_size = int(batch_size)
        hidden = max(1, n_features // 4)
        self.w1, self.b1 = self._dense(n_features, hidden)
        self.w2, self.b2 = self._dense(hidden, n_classes)
        self.optimizer = torch.optim.Adam([self.w1, self.b1, self.w2, self.b2], lr=LEARNING_RATE)

    def _dense(self, n_in: int, n_out: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Weights and bias uniform in ``±1/sqrt(n_in)`` (torch's default range), seeded."""
        bound = 1.0 / math.sqrt(n_in)
        weight = (torch.rand(n_in, n_out, generator=self.generator) * 2 - 1) * bound
        bias = (torch.rand(n_out, generator=self.generator) * 2 - 1) * bound
        return weight.requires_grad_(), bias.requires_grad_()

    def _dropout(self, x: torch.Tensor) -> torch.Tensor:
        keep = torch.rand(x.shape, generator=self.generator) >= DROPOUT
        return x * keep / (1.0 - DROPOUT)

    def _logits(self, x: torch.Tensor, train: bool) -> torch.Tensor:
        if train:
            x = self._dropout(x)
        hidden = torch.relu(x @ self.w1 + self.b1)
        if train:
            hidden = self._dropout(hidden)
        return hidden @ self.w2 + self.b2

    def fit(self, X: np.ndarray, y: np.ndarray, epochs: int = 50) -> MLPClassifier:
        """Train ``epochs`` more epochs on ``X`` (n, D) with labels ``y`` (n,), from the current
        state (mini-batches of ``batch_size`` in a seeded random order). Returns self."""
        set_torch_threads(self.n_threads)
        features = torch.as_tensor(np.asarray(X, dtype=np.float32))
        targets = torch.as_tensor(np.asarray(y, dtype=np.int64))
        for _ in range(int(epochs)):
            order = torch.randperm(len(targets), generator=self.generator)
            for batch in order.split(self.batch_size):
                loss = torch.nn.functional.cross_entropy(
                    self._logits(features[batch], train=True), targets[batch]
                )
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Softmax class probabilities of shape (n, C), float64, without dropout."""
        set_torch_threads(self.n_threads)
        with torch.no_grad():
            logits = self._logits(torch.as_tensor(np.asarray(X, dtype=np.float32)), train=False)
            return torch.softmax(logits, dim=1).double().numpy()

    def accuracy(self, X: np.ndarray, y: np.ndarray) -> float:
        """Fraction of ``X`` (n, D) whose most probable class equals ``y`` (n,)."""
        return float(np.mean(np.argmax(self.predict_proba(X), axis=1) == np.asarray(y)))


def least_confidence(proba: np.ndarray) -> np.ndarray:
    """Uncertainty ``1 - max_l p_l`` of each row of ``proba`` (n, C); higher = query first."""
    return 1.0 - np.max(proba, axis=1)


def smallest_margin(proba: np.ndarray) -> np.ndarray:
    """Negated margin ``-(p_1 - p_2)`` between the two most probable classes, shape (n,).

    Negated so that, like the other scores, the highest score (smallest margin) is queried first.
    """
    top_two = np.sort(proba, axis=1)[:, -2:]
    return top_two[:, 0] - top_two[:, 1]


def entropy(proba: np.ndarray) -> np.ndarray:
    """Shannon entropy ``-sum_l p_l log p_l`` (nats) of each row of ``proba`` (n, C)."""
    logs = np.log(np.where(proba > 0, proba, 1.0))
    return -np.sum(proba * logs, axis=1)


UNCERTAINTY_SCORES = {
    "least-confidence": least_confidence,
    "margin": smallest_margin,
    "entropy": entropy,
}


def select_queries(
    strategy: str,
    proba: np.ndarray | None,
    candidates: np.ndarray,
    n_queries: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """The ``n_queries`` samples of ``candidates`` (pool indices) to label next.

    ``random`` draws them with ``rng``; the uncertainty strategies take the highest scores of
    ``proba`` (rows aligned with ``candidates``), ties to the earlier candidate.
    """
    n_queries = min(int(n_queries), len(candidates))
    if strategy == "random":
        return np.sort(rng.choice(candidates, size=n_queries, replace=False))
    scores = UNCERTAINTY_SCORES[strategy](proba)
    return candidates[np.argsort(-scores, kind="stable")[:n_queries]]
