"""Algorithm 1 of the paper: an emulated annotator labeling through the live t-SNE map.

Each labeling epoch the annotator (1) counts, for every point, the labeling opportunities seen
through its Barnes-Hut focus kernel: the cells of the octree of the current positions that the
traversal enters (``width / ||y_i - centre|| > theta_K``) whose anchor sample is unlabeled and
of the same true class as ``i``; (2) focuses on the point with the most opportunities; (3) scans
the exact nearest neighbours of the focus in order of distance, as the k-NN size slider would,
and applies the true class to the unlabeled same-class samples of the most efficient group.

Conventions where the paper leaves a choice (all tested):

* Ties in the focus choice go to the lowest sample index, ties in the efficiency to the smallest
  group (fewest neighbours), i.e. the first maximum in both cases.
* The focus ``v`` is excluded from its own neighbour list; the group of size ``k`` is ``v`` plus
  its ``k`` nearest neighbours, and ``k >= 1`` always (the slider is always set, as in Alg. 1).
* Every step counts one action to select ``v`` and, as written in Algorithm 1, one label for it,
  also when ``v`` is already labeled: the annotator still selects ``v`` and confirms its class,
  so the efficiency ``labels / actions`` of every ``k`` carries the same constant and the chosen
  ``k`` is the one the algorithm would choose. The recorded ``gained`` count, in contrast, is
  the number of samples that really went from unlabeled to labeled.
* A cell is entered when ``width > theta_K * distance``, which equals the ratio test for a
  non-zero distance and also enters a cell whose centre of mass coincides with the point.
* Labeled neighbours are left unchanged and cost nothing; a labeled sample is never relabeled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba import njit, prange

from napari_tsne_label.progress import Progress, ProgressGenerator

UNLABELED = -1
THETA_K = 0.8


@njit(parallel=True, cache=True)
def _count_kernel(centers, widths, children, anchors, Y, truth, labels, theta_k):
    n_points, n_dims = Y.shape
    n_nodes, n_children = children.shape
    opportunities = np.zeros(n_points, dtype=np.int64)
    for i in prange(n_points):
        stack = np.empty(n_nodes, dtype=np.int64)
        stack[0] = 0
        top = 1
        found = 0
        while top > 0:
            top -= 1
            z = stack[top]
            dist2 = 0.0
            for c in range(n_dims):
                diff = Y[i, c] - centers[z, c]
                dist2 += diff * diff
            if widths[z] <= theta_k * np.sqrt(dist2):
                continue
            anchor = anchors[z]
            if anchor >= 0 and labels[anchor] == UNLABELED and truth[anchor] == truth[i]:
                found += 1
            for c in range(n_children):
                child = children[z, c]
                if child >= 0:
                    stack[top] = child
                    top += 1
        opportunities[i] = found
    return opportunities


def count_opportunities(
    centers: np.ndarray,
    widths: np.ndarray,
    children: np.ndarray,
    anchors: np.ndarray,
    Y: np.ndarray,
    truth: np.ndarray,
    labels: np.ndarray,
    theta_k: float = THETA_K,
) -> np.ndarray:
    """Labeling opportunities of every point through its Barnes-Hut focus kernel (Alg. 1).

    Parameters
    ----------
    centers, widths, children, anchors : ndarray of shape (M, d), (M,), (M, 2**d), (M,)
        The octree of ``Y`` (``tsne.tree.build_tree``): centre of mass, cell side, child node
        indices (-1 for none) and the first sample inserted in each cell; node 0 is the root.
    Y : ndarray of shape (N, d)
        Current embedding positions.
    truth, labels : ndarray of shape (N,)
        True classes and current labels (-1 unlabeled).
    theta_k : float, default 0.8
        Focus-kernel angle: a cell is entered when ``width / distance > theta_k``.

    Returns
    -------
    ndarray of shape (N,), int64
        For every point, the entered cells whose anchor is unlabeled and of its true class.
    """
    return _count_kernel(
        np.ascontiguousarray(centers, dtype=np.float64),
        np.ascontiguousarray(widths, dtype=np.float64),
        np.ascontiguousarray(children, dtype=np.int64),
        np.ascontiguousarray(anchors, dtype=np.int64),
        np.ascontiguousarray(Y, dtype=np.float64),
        np.ascontiguousarray(truth, dtype=np.int64),
        np.ascontiguousarray(labels, dtype=np.int64),
        float(theta_k),
    )


def choose_focus(opportunities: np.ndarray) -> int:
    """Index of the point with the most opportunities; ties go to the lowest index."""
    return int(np.argmax(opportunities))


def sorted_neighbours(Y: np.ndarray, focus: int, max_neighbours: int | None = None) -> np.ndarray:
    """Exact nearest neighbours of ``focus`` in ``Y``, nearest first, the focus excluded.

    Equal distances keep index order. ``max_neighbours`` caps the list (None: all N - 1 others).
    """
    distances = np.sum((Y - Y[focus]) ** 2, axis=1)
    distances[focus] = np.inf
    order = np.argsort(distances, kind="stable")[: len(Y) - 1]
    return order if max_neighbours is None else order[:max_neighbours]


@dataclass(frozen=True)
class GroupChoice:
    """The most efficient k-NN group of a focus and its cost in actions.

    ``members`` holds the k chosen neighbours (nearest first, focus excluded); ``counted_labels``
    and ``actions`` are Algorithm 1's counts for that k, so ``efficiency = counted_labels/actions``.
    """

    focus: int
    k: int
    actions: int
    counted_labels: int
    members: np.ndarray

    @property
    def efficiency(self) -> float:
        """Labels per action of the chosen group."""
        return self.counted_labels / self.actions


def choose_group(
    neighbours: np.ndarray, truth: np.ndarray, labels: np.ndarray, focus: int
) -> GroupChoice:
    """Scan the sorted ``neighbours`` of ``focus`` like the slider does and pick the best k.

    Selecting the focus costs 1 action and counts 1 label, setting the slider 1 action; each
    unlabeled neighbour of the focus' class adds a label, each unlabeled one of another class
    costs a deselection. ``h_k = labels_k / actions_k``; the first maximum wins.
    """
    unlabeled = labels[neighbours] == UNLABELED
    same_class = truth[neighbours] == truth[focus]
    counted_labels = 1 + np.cumsum(unlabeled & same_class)
    actions = 2 + np.cumsum(unlabeled & ~same_class)
    best = int(np.argmax(counted_labels / actions))
    return GroupChoice(
        focus=focus,
        k=best + 1,
        actions=int(actions[best]),
        counted_labels=int(counted_labels[best]),
        members=neighbours[: best + 1].copy(),
    )


def apply_group(labels: np.ndarray, truth: np.ndarray, group: GroupChoice) -> np.ndarray:
    """Indices (ascending) that the group labels: its unlabeled members of the focus' class and
    the focus itself if unlabeled. Existing labels are never part of it, so never overwritten.
    """
    candidates = np.append(group.members, group.focus)
    target = truth[group.focus]
    gained = candidates[(labels[candidates] == UNLABELED) & (truth[candidates] == target)]
    return np.unique(gained)


@dataclass(frozen=True)
class EmulationStep:
    """One emulated labeling step: where, how many actions, which samples became labeled."""

    epoch: int
    focus: int
    k: int
    actions: int
    cumulative_actions: int
    gained: np.ndarray
    label: int

    @property
    def n_gained(self) -> int:
        """Number of samples labeled by this step."""
        return int(self.gained.size)


@dataclass
class EmulationResult:
    """All steps of an emulated labeling session and its final state.

    ``focus_already_labeled`` counts the steps whose focus was labeled before the step;
    ``stop_reason`` is "all labeled", "max actions" or "max epochs". ``labels_after(n)``
    rebuilds the label vector after the first ``n`` steps.
    """

    steps: list[EmulationStep]
    labels: np.ndarray
    positions: np.ndarray
    focus_already_labeled: int = 0
    stop_reason: str = ""

    def labels_after(self, n_steps: int) -> np.ndarray:
        """Label vector of shape (N,) after the first ``n_steps`` steps (-1 unlabeled)."""
        labels = np.full(self.labels.shape, UNLABELED, dtype=np.int64)
        for step in self.steps[:n_steps]:
            labels[step.gained] = step.label
        return labels

    @property
    def cumulative_actions(self) -> np.ndarray:
        """Cumulative action count after every step, shape (n_steps,)."""
        return np.array([s.cumulative_actions for s in self.steps], dtype=np.int64)


@dataclass(frozen=True)
class EmulationProgress(Progress):
    """A progress report that also carries the live state, for a GUI to animate the session.

    ``positions`` (N, d) and ``labels`` (N,) are copies of the state after ``step`` (None
    during the unlabeled start phase, when ``labels`` are all -1).
    """

    positions: np.ndarray | None = None
    labels: np.ndarray | None = None
    step: EmulationStep | None = field(default=None)


def emulation_step(
    tree: Any,
    Y: np.ndarray,
    truth: np.ndarray,
    labels: np.ndarray,
    theta_k: float = THETA_K,
    max_neighbours: int | None = None,
) -> GroupChoice:
    """Algorithm 1's decision for one epoch: focus by opportunity count, then best k-NN group."""
    opportunities = count_opportunities(
        tree.centers, tree.widths, tree.children, tree.anchors, Y, truth, labels, theta_k
    )
    focus = choose_focus(opportunities)
    return choose_group(sorted_neighbours(Y, focus, max_neighbours), truth, labels, focus)


def emulate_annotation(
    engine: Any,
    truth: np.ndarray,
    build_tree: Callable[[np.ndarray], Any],
    *,
    start_epoch: int = 200,
    max_epochs: int = 1000,
    max_actions: int | None = None,
    theta_k: float = THETA_K,
    max_neighbours: int | None = None,
) -> ProgressGenerator[EmulationResult]:
    """Run Algorithm 1 on a t-SNE ``engine`` (step API), yielding :class:`EmulationProgress`.

    The engine runs unlabeled up to ``start_epoch``; then every epoch it is stepped with the
    labels so far, the tree of its positions is built and one group is labeled. Stops when every
    sample is labeled, at ``max_epochs`` or once ``max_actions`` (None: no cap) are spent.
    """
    truth = np.asarray(truth, dtype=np.int64)
    labels = np.full(truth.shape, UNLABELED, dtype=np.int64)
    engine.set_labels(labels)
    total = max(max_epochs, start_epoch)
    while engine.epoch < start_epoch:
        Y = engine.step(1)
        yield EmulationProgress(engine.epoch, total, "t-SNE before labeling", positions=Y)
    steps: list[EmulationStep] = []
    cumulative = 0
    focus_labeled = 0
    Y = np.asarray(engine.positions)
    while (
        engine.epoch < max_epochs
        and np.any(labels == UNLABELED)
        and (max_actions is None or cumulative < max_actions)
    ):
        engine.set_labels(labels)
        Y = engine.step(1)
        group = emulation_step(build_tree(Y), Y, truth, labels, theta_k, max_neighbours)
        focus_labeled += int(labels[group.focus] != UNLABELED)
        gained = apply_group(labels, truth, group)
        labels[gained] = truth[group.focus]
        cumulative += group.actions
        step = EmulationStep(
            epoch=int(engine.epoch),
            focus=group.focus,
            k=group.k,
            actions=group.actions,
            cumulative_actions=cumulative,
            gained=gained,
            label=int(truth[group.focus]),
        )
        steps.append(step)
        message = f"{int(np.sum(labels != UNLABELED))}/{labels.size} labeled, {cumulative} actions"
        yield EmulationProgress(
            engine.epoch, total, "emulated labeling", message, Y, labels.copy(), step
        )
    stop_reason = _stop_reason(labels, cumulative, max_actions)
    return EmulationResult(steps, labels, Y, focus_labeled, stop_reason)


def _stop_reason(labels: np.ndarray, cumulative: int, max_actions: int | None) -> str:
    """Why the emulation loop ended."""
    if not np.any(labels == UNLABELED):
        return "all labeled"
    if max_actions is not None and cumulative >= max_actions:
        return "max actions"
    return "max epochs"
