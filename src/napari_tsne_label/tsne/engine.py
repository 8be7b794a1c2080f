"""``SemiSupervisedTSNE``: the step API the napari widgets, the emulation and the CLI drive.

The engine only advances when asked: a driver pauses by not calling :meth:`step`, resumes by
calling it again, and may change labels (:meth:`set_labels`) between any two steps without a
restart. Everything is deterministic for a given seed and numba thread count.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numba
import numpy as np

from napari_tsne_label.errors import UserInputError
from napari_tsne_label.progress import Progress, ProgressGenerator
from napari_tsne_label.tsne.affinities import (
    Affinities,
    compute_affinities,
    pca,
    validate_features,
)
from napari_tsne_label.tsne.gradients import (
    GradientBuffers,
    LabelWeights,
    bh_gradient,
    kl_divergence,
    label_weights,
)
from napari_tsne_label.tsne.optimizer import (
    auto_learning_rate,
    exaggeration_at,
    gradient_step,
    momentum_at,
    point_learning_rates,
)

INIT_SCALE = 1e-4
"""Standard deviation of the first initial coordinate (PCA or random), as openTSNE does."""

PCA_COMPONENTS = 50
"""Features with more dimensions are reduced by PCA before the neighbour search."""

PARALLEL_MIN_SAMPLES = 2000
"""Smaller problems run on one thread: thread start-up and waiting would cost more than they save."""


@contextmanager
def numba_threads(n_threads: int) -> Iterator[None]:
    """Run the block with ``n_threads`` numba threads (in the calling thread only), then restore."""
    previous = numba.get_num_threads()
    numba.set_num_threads(n_threads)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def initial_positions(X: np.ndarray, n_components: int, init: str, seed: int) -> np.ndarray:
    """Seeded start positions (N, n_components): leading principal components or Gaussian noise.

    Both are scaled so the first coordinate has standard deviation 1e-4; missing PCA columns
    (fewer feature dimensions than ``n_components``) and degenerate data fall back to noise.
    """
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=(len(X), n_components))
    if init == "random":
        return noise * (INIT_SCALE / noise[:, 0].std())
    if init != "pca":
        raise UserInputError(f"init must be 'pca' or 'random', got {init!r}")
    components = pca(X, n_components)
    scale = components[:, 0].std()
    if scale == 0:
        return noise * (INIT_SCALE / noise[:, 0].std())
    positions = noise * INIT_SCALE
    positions[:, : components.shape[1]] = components * (INIT_SCALE / scale)
    return positions


class SemiSupervisedTSNE:
    """Live semi-supervised Barnes-Hut t-SNE of features ``X`` (N, D) into 2 or 3 dimensions.

    Parameters follow the paper: perplexity 20, labeling importance ``f`` = 0.1, repulsion
    emphasis ``r`` = 0.1, point learning rates ramped over ``ramp_epochs`` = 10 epochs,
    Barnes-Hut ``theta`` = 0.5. ``learning_rate`` "auto" is max(N / 16, 50). ``affinities``
    may be passed to reuse a P computed before for the same features. ``n_threads`` None uses
    numba's thread count from PARALLEL_MIN_SAMPLES points on and one thread below; results do
    not depend on it.
    """

    def __init__(
        self,
        X: np.ndarray,
        n_components: int = 3,
        perplexity: float = 20.0,
        f: float = 0.1,
        r: float = 0.1,
        ramp_epochs: int = 10,
        theta: float = 0.5,
        learning_rate: float | str = "auto",
        init: str = "pca",
        seed: int = 0,
        affinities: Affinities | None = None,
        n_threads: int | None = None,
    ):
        if n_components not in (2, 3):
            raise UserInputError(f"n_components must be 2 or 3, got {n_components}")
        if f < 0 or r < 0 or theta < 0 or ramp_epochs < 0:
            raise UserInputError("f, r, theta and ramp_epochs must not be negative")
        X = validate_features(X)
        if X.shape[1] > PCA_COMPONENTS:
            X = pca(X, PCA_COMPONENTS)
        if affinities is None:
            affinities = compute_affinities(X, perplexity, pca_components=None)
        elif affinities.n_samples != len(X):
            raise UserInputError(f"affinities are for {affinities.n_samples} samples, not {len(X)}")
        self.affinities = affinities
        self.n_samples = len(X)
        self.n_components = n_components
        self.f, self.r, self.ramp_epochs, self.theta = float(f), float(r), int(ramp_epochs), theta
        self.learning_rate = (
            auto_learning_rate(len(X)) if learning_rate == "auto" else float(learning_rate)
        )
        self.init, self.seed = init, seed
        available = numba.config.NUMBA_NUM_THREADS
        parallel = len(X) >= PARALLEL_MIN_SAMPLES
        self.n_threads = min(n_threads or (available if parallel else 1), available)
        self._initial = initial_positions(X, n_components, init, seed)
        self._labels = np.full(self.n_samples, -1, np.int64)
        self._weights: LabelWeights | None = None
        self._label_epochs = np.full(self.n_samples, -1, np.int64)
        self._gradient = np.empty_like(self._initial)
        self._buffers = GradientBuffers.empty(self.n_samples, n_components)
        self.warm_start(self._initial, epoch=0)

    @property
    def positions(self) -> np.ndarray:
        """Current positions, (N, n_components) float64 (a read-only view; copy to keep)."""
        view = self._positions.view()
        view.flags.writeable = False
        return view

    @property
    def start_positions(self) -> np.ndarray:
        """The seeded initial positions (N, n_components) that :meth:`reset` returns to, a copy."""
        return self._initial.copy()

    @property
    def labels(self) -> np.ndarray:
        """Labels in use, (N,) int64 copy, -1 = unlabeled."""
        return self._labels.copy()

    def set_labels(self, labels: np.ndarray) -> None:
        """Use ``labels`` (N,) int (-1 unlabeled) from the next step on; no restart needed.

        Points whose label is new or changed start their u_i ramp at the current epoch.
        """
        labels = np.asarray(labels)
        if labels.shape != (self.n_samples,) or not np.issubdtype(labels.dtype, np.integer):
            raise UserInputError(
                f"labels must be {self.n_samples} integers, got shape {labels.shape} "
                f"of {labels.dtype}"
            )
        if labels.min(initial=-1) < -1:
            raise UserInputError("labels must be class indices >= 0 or -1 for unlabeled")
        labels = labels.astype(np.int64)
        changed = labels != self._labels
        self._label_epochs[changed & (labels >= 0)] = self.epoch
        self._label_epochs[labels < 0] = -1
        self._weights = None
        self._labels = labels

    def point_learning_rates(self) -> np.ndarray:
        """u_i at the current epoch, (N,) float64 in [0, 1]."""
        return point_learning_rates(self._label_epochs, self.epoch, self.ramp_epochs)

    def step(self, n_epochs: int = 1) -> np.ndarray:
        """Advance ``n_epochs`` gradient-descent epochs; return a copy of the (N, d) positions."""
        with numba_threads(self.n_threads):
            for _ in range(n_epochs):
                self._one_epoch()
        return self._positions.copy()

    def _label_weights(self) -> LabelWeights:
        """Equation (1)'s label terms for this epoch, recomputed only while some u_i still ramps."""
        ramp_ends = self._label_epochs.max(initial=-1) + self.ramp_epochs
        if self._weights is None or self.epoch <= ramp_ends:
            self._weights = label_weights(self._labels, self.point_learning_rates(), self.f,
                                          self.r)
        return self._weights

    def _one_epoch(self) -> None:
        weights = self._label_weights()
        bh_gradient(self._positions, self.affinities, weights, exaggeration_at(self.epoch),
                    self.theta, out=self._gradient, buffers=self._buffers)
        gradient_step(self._positions, self._gradient, self._update, self._gains,
                      self.learning_rate, momentum_at(self.epoch))
        self.epoch += 1

    def kl_divergence(self) -> float:
        """KL(P || Q) of the current positions (plain t-SNE objective, Barnes-Hut normaliser)."""
        with numba_threads(self.n_threads):
            return kl_divergence(self._positions, self.affinities, self.theta)

    def run(self, n_epochs: int, report_every: int = 10) -> ProgressGenerator[np.ndarray]:
        """Advance ``n_epochs`` epochs as a progress generator; returns the final positions copy."""
        done = 0
        while done < n_epochs:
            chunk = min(report_every, n_epochs - done)
            self.step(chunk)
            done += chunk
            yield Progress(done, n_epochs, "t-SNE", f"epoch {self.epoch}")
        return self._positions.copy()

    def reset(self) -> None:
        """Back to the seeded initial positions at epoch 0; current labels ramp in from there."""
        self.warm_start(self._initial, epoch=0)
        self._label_epochs[self._labels >= 0] = 0
        self._weights = None

    def warm_start(self, Y: np.ndarray, epoch: int = 0) -> None:
        """Continue from stored positions ``Y`` (N, d) as if at ``epoch``; optimiser state reset.

        Labels already set count as fully ramped in (u_i = 1).
        """
        Y = np.asarray(Y, dtype=np.float64)
        if Y.shape != self._initial.shape or not np.isfinite(Y).all():
            raise UserInputError(
                f"warm start positions must be finite and of shape {self._initial.shape}, "
                f"got {Y.shape}"
            )
        self._positions = Y - Y.mean(axis=0)
        self._update = np.zeros_like(self._positions)
        self._gains = np.ones_like(self._positions)
        self.epoch = int(epoch)
        self._label_epochs[self._labels >= 0] = self.epoch - self.ramp_epochs
        self._weights = None

    def settings(self) -> dict[str, Any]:
        """The parameters and state that produced the current positions (JSON-compatible)."""
        return {
            "method": "semi-supervised Barnes-Hut t-SNE",
            "n_components": self.n_components,
            "perplexity": self.affinities.perplexity,
            "f": self.f,
            "r": self.r,
            "ramp_epochs": self.ramp_epochs,
            "theta": self.theta,
            "learning_rate": self.learning_rate,
            "init": self.init,
            "seed": self.seed,
            "epoch": self.epoch,
            "n_labeled": int((self._labels >= 0).sum()),
            "kl_divergence": self.kl_divergence(),
        }

    def save(self, project: Any, name: str) -> None:
        """Write the current positions and :meth:`settings` to ``project`` as embedding ``name``."""
        project.write_embedding(name, self._positions.copy(), self.settings())
