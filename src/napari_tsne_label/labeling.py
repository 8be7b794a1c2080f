"""A labeling session as the user drives it, without any GUI: the model behind the napari workspace.

The interaction is the one Algorithm 1 of the paper emulates: pick a *focus* sample in the map,
widen a size slider that selects its ``k`` nearest neighbours in the embedding (closest first),
deselect the ones that differ, then apply one label to the group. Every step is logged in the
project's action log (kinds ``focus``, ``slider``, ``deselect``, ``reselect`` and the store's own
``label``/``undo``/``redo``), so a real session's effort can be compared with the emulation's.
Labels are saved by the store before :meth:`LabelingSession.apply` returns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from napari_tsne_label.emulation.annotator import THETA_K, count_opportunities, sorted_neighbours
from napari_tsne_label.errors import UserInputError
from napari_tsne_label.store import Project
from napari_tsne_label.tsne.tree import build_tree

FEATURE_CLUSTERS = 10
KMEANS_ITERATIONS = 30
USER_ACTION_KINDS = frozenset({"focus", "slider", "deselect", "reselect", "label", "undo", "redo"})


@dataclass(frozen=True)
class Conflict:
    """Selected samples that already carry a label other than the one about to be applied.

    ``indices`` (m,) int64 samples, ``labels`` (m,) int32 their current labels.
    """

    indices: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.indices)


class LabelingSession:
    """Focus, k-NN group selection, deselection and group labeling on one writable project.

    Parameters
    ----------
    project : Project
        The project open for writing; labels, classes and the action log live there.
    positions : ndarray of shape (N, d), optional
        Current embedding positions; group selection needs them (see :meth:`set_positions`).
    source : str, default "user"
        Who acts: written into every logged action.
    """

    def __init__(self, project: Project, positions: np.ndarray | None = None, source: str = "user"):
        self.project = project
        self.source = source
        self.positions: np.ndarray | None = None
        self.focus: int | None = None
        self.k = 0
        self._neighbours = np.empty(0, dtype=np.int64)
        self._deselected: set[int] = set()
        if positions is not None:
            self.set_positions(positions)

    # ------------------------------------------------------------------ map and selection

    def set_positions(self, positions: np.ndarray) -> None:
        """Take the current (N, d) embedding positions; the present group keeps its members."""
        positions = np.asarray(positions, dtype=np.float64)
        if positions.ndim != 2 or positions.shape[0] != self.project.n_samples:
            raise ValueError(
                f"positions must have shape ({self.project.n_samples}, d), got {positions.shape}"
            )
        self.positions = positions

    def select_focus(self, index: int) -> None:
        """Make sample ``index`` the focus (logged); the group restarts at k = 0 with nothing deselected."""
        index = self._checked_index(index)
        self._neighbours = self._sorted_neighbours(index)
        self.focus = index
        self.k = 0
        self._deselected.clear()
        self.project.log_action("focus", indices=(index,), source=self.source)

    def set_k(self, k: int, log: bool = True) -> None:
        """Select the focus and its ``k`` nearest neighbours in the embedding, nearest first.

        ``log=False`` previews a slider that is still being dragged; the final value is logged.
        The neighbour order is recomputed from the current positions.
        """
        if self.focus is None:
            raise UserInputError("pick a focus sample first")
        k = int(np.clip(k, 0, self.project.n_samples - 1))
        changed = k != self.k
        self._neighbours = self._sorted_neighbours(self.focus)
        self.k = k
        self._deselected &= set(self.group.tolist())
        if log and changed:
            self.project.log_action("slider", indices=(self.focus,), value=k, source=self.source)

    def toggle(self, index: int) -> bool:
        """Deselect a selected group member or reselect a deselected one (logged); return selected."""
        index = self._checked_index(index)
        if index not in set(self.group.tolist()):
            raise UserInputError(f"sample {index} is not in the current group")
        if index in self._deselected:
            self._deselected.remove(index)
            self.project.log_action("reselect", indices=(index,), source=self.source)
            return True
        self._deselected.add(index)
        self.project.log_action("deselect", indices=(index,), source=self.source)
        return False

    def clear(self) -> None:
        """Drop the focus and the group (not an action: nothing is logged)."""
        self.focus = None
        self.k = 0
        self._neighbours = np.empty(0, dtype=np.int64)
        self._deselected.clear()

    @property
    def group(self) -> np.ndarray:
        """The focus followed by its ``k`` nearest neighbours, (k + 1,) int64; empty without a focus."""
        if self.focus is None:
            return np.empty(0, dtype=np.int64)
        return np.concatenate(([self.focus], self._neighbours[: self.k])).astype(np.int64)

    @property
    def deselected(self) -> np.ndarray:
        """Group members the user deselected, sorted (m,) int64."""
        return np.array(sorted(self._deselected), dtype=np.int64)

    @property
    def selection(self) -> np.ndarray:
        """The group without the deselected samples, in group order, (m,) int64."""
        group = self.group
        return group[~np.isin(group, self.deselected)]

    # ------------------------------------------------------------------ labeling

    def conflicts(self, label: int) -> Conflict:
        """Selected samples already labeled with a class other than ``label``."""
        selection = self.selection
        current = self.project.labels[selection]
        clash = (current >= 0) & (current != label)
        return Conflict(selection[clash], current[clash])

    def apply(self, label: int, overwrite: bool = False) -> np.ndarray:
        """Label the selection with class ``label`` (saved and logged); return the relabeled samples.

        Samples that already carry a label keep it unless ``overwrite`` is true; samples that
        already carry ``label`` are left alone. The focus and group are cleared afterwards.
        """
        if not 0 <= label < len(self.project.class_names):
            raise UserInputError(
                f"no class {label}: the project has {len(self.project.class_names)} classes"
            )
        selection = self.selection
        if selection.size == 0:
            raise UserInputError("nothing is selected: pick a focus sample first")
        current = self.project.labels[selection]
        targets = selection[(current == -1) | (overwrite & (current != label))]
        if targets.size == 0:
            raise UserInputError(
                "every selected sample is labeled already; choose overwrite to relabel them"
            )
        self.project.apply_label(targets, label, source=self.source)
        self.clear()
        return np.sort(targets)

    def undo(self) -> np.ndarray | None:
        """Undo the last label application (logged, survives restarts); return the samples touched."""
        return self.project.undo()

    def redo(self) -> np.ndarray | None:
        """Redo the last undone label application (logged); return the samples touched."""
        return self.project.redo()

    def add_class(self, name: str) -> int:
        """Add a class (logged); return its index."""
        return self.project.add_class(name)

    def rename_class(self, index: int, name: str) -> None:
        """Rename class ``index`` (logged)."""
        self.project.rename_class(index, name)

    @property
    def action_count(self) -> int:
        """Number of labeling actions this session's source has logged in the project, all sessions."""
        return sum(
            1 for a in self.project.actions() if a.source == self.source and a.kind in USER_ACTION_KINDS
        )

    def suggest_focus(self, features: np.ndarray, n_clusters: int = FEATURE_CLUSTERS,
                      theta_k: float = THETA_K) -> int:
        """The unlabeled sample whose map neighbourhood holds the most similar unlabeled samples.

        The emulation's Barnes-Hut focus kernel (Algorithm 1) counts, for every point, the
        entered octree cells whose anchor is unlabeled and of the point's class; a real user has
        no ground truth, so the classes are the ``n_clusters`` k-means clusters of the (N, D)
        ``features`` (similarity in feature space). Not an action: nothing is logged.
        """
        if self.positions is None:
            raise UserInputError("the map has no positions yet: extract features and start t-SNE")
        labels = self.project.labels
        if np.all(labels >= 0):
            raise UserInputError("every sample is labeled: nothing left to suggest")
        tree = build_tree(self.positions)
        similar = feature_clusters(features, n_clusters)
        counts = count_opportunities(tree.centers, tree.widths, tree.children, tree.anchors,
                                     self.positions, similar, labels, theta_k)
        counts[labels >= 0] = -1
        return int(np.argmax(counts))

    # ------------------------------------------------------------------ internals

    def _checked_index(self, index: int) -> int:
        index = int(index)
        if not 0 <= index < self.project.n_samples:
            raise UserInputError(f"sample {index} does not exist (0..{self.project.n_samples - 1})")
        return index

    def _sorted_neighbours(self, index: int) -> np.ndarray:
        """Every other sample sorted by embedding distance from ``index`` (ties by index)."""
        if self.positions is None:
            raise UserInputError("the map has no positions yet: extract features and start t-SNE")
        return sorted_neighbours(self.positions, index).astype(np.int64)


def feature_clusters(features: np.ndarray, n_clusters: int = FEATURE_CLUSTERS,
                     seed: int = 0) -> np.ndarray:
    """Seeded k-means (k-means++ start, Lloyd steps) of L2-normalised (N, D) features; (N,) int64.

    Samples in one cluster count as alike when the suggestion judges neighbourhood homogeneity.
    """
    X = np.asarray(features, dtype=np.float64)
    X = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    n_clusters = int(min(n_clusters, len(X)))
    centres = _kmeans_plus_plus(X, n_clusters, np.random.default_rng(seed))
    assignment = np.zeros(len(X), dtype=np.int64)
    for _ in range(KMEANS_ITERATIONS):
        assignment = _nearest_centre(X, centres)
        for c in range(n_clusters):
            members = X[assignment == c]
            if len(members):
                centres[c] = members.mean(axis=0)
    return assignment


def _nearest_centre(X: np.ndarray, centres: np.ndarray) -> np.ndarray:
    distances = (X**2).sum(1)[:, None] - 2 * X @ centres.T + (centres**2).sum(1)[None, :]
    return np.argmin(distances, axis=1).astype(np.int64)


def _kmeans_plus_plus(X: np.ndarray, n_clusters: int, rng: np.random.Generator) -> np.ndarray:
    centres = np.empty((n_clusters, X.shape[1]))
    centres[0] = X[rng.integers(len(X))]
    closest = ((X - centres[0]) ** 2).sum(axis=1)
    for c in range(1, n_clusters):
        total = closest.sum()
        pick = rng.choice(len(X), p=closest / total) if total > 0 else rng.integers(len(X))
        centres[c] = X[pick]
        closest = np.minimum(closest, ((X - centres[c]) ** 2).sum(axis=1))
    return centres
