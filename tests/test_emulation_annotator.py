"""Algorithm 1 on small hand-built embeddings and trees with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from napari_tsne_label.emulation.annotator import (
    UNLABELED,
    EmulationProgress,
    GroupChoice,
    apply_group,
    choose_focus,
    choose_group,
    count_opportunities,
    emulate_annotation,
    sorted_neighbours,
)
from napari_tsne_label.progress import drain
from napari_tsne_label.tsne.tree import build_tree

# A hand-built quadtree over four points: two pairs far apart.
#   node 0 root (points 0-3) -> node 1 (points 0, 1) -> leaves 3 (point 0), 4 (point 1)
#                            -> node 2 (points 2, 3) -> leaves 5 (point 2), 6 (point 3)
PAIR_Y = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]])
PAIR_CENTERS = np.array(
    [[2.55, 2.5], [0.05, 0.0], [5.05, 5.0], [0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]]
)
PAIR_WIDTHS = np.array([6.0, 3.0, 3.0, 1.5, 1.5, 1.5, 1.5])
PAIR_CHILDREN = np.array(
    [[1, -1, -1, 2], [3, 4, -1, -1], [5, 6, -1, -1]] + [[-1, -1, -1, -1]] * 4, dtype=np.int64
)
PAIR_ANCHORS = np.array([0, 0, 2, 0, 1, 2, 3], dtype=np.int64)


def pair_counts(truth, labels, theta_k=0.8):
    return count_opportunities(
        PAIR_CENTERS,
        PAIR_WIDTHS,
        PAIR_CHILDREN,
        PAIR_ANCHORS,
        PAIR_Y,
        np.asarray(truth),
        np.asarray(labels),
        theta_k,
    )


def test_counts_on_hand_built_tree_one_class_unlabeled():
    # Point 0 enters the root (6/3.57), node 1 (3/0.05) and leaves 3 (distance 0) and 4 (1.5/0.1):
    # anchors 0, 0, 0, 1. Node 2 (3/7.1 = 0.42) is pruned. Point 2 enters the root (6/3.5),
    # node 2 and leaves 5, 6: anchors 0, 2, 2, 3.
    counts = pair_counts([0, 0, 0, 0], [-1, -1, -1, -1])
    np.testing.assert_array_equal(counts, [4, 4, 4, 4])
    assert counts.dtype == np.int64


def test_counts_skip_labeled_and_other_class_anchors():
    # Classes: pair (0, 1) is class 0, pair (2, 3) class 1; point 0 is labeled.
    counts = pair_counts([0, 0, 1, 1], [0, -1, -1, -1])
    # Point 0 and 1: only the anchor of leaf 4 (point 1) is unlabeled and of class 0.
    # Points 2 and 3: anchors 2, 2, 3 of class 1; the root's anchor (point 0) is class 0.
    np.testing.assert_array_equal(counts, [1, 1, 3, 3])


def test_counts_with_wider_angle_prune_more():
    # theta_k = 2.5: point 0 no longer enters the root (ratio 1.68) so counts nothing.
    np.testing.assert_array_equal(pair_counts([0, 0, 0, 0], [-1] * 4, theta_k=2.5), [0, 0, 0, 0])


def reference_counts(tree, Y, truth, labels, theta_k):
    """Algorithm 1's count loop written literally (breadth-first cell list M)."""
    counts = np.zeros(len(Y), dtype=np.int64)
    for i in range(len(Y)):
        cells, m = [0], 0
        while m < len(cells):
            z = cells[m]
            m += 1
            distance = np.linalg.norm(Y[i] - tree.centers[z])
            if distance == 0 or tree.widths[z] / distance > theta_k:
                anchor = tree.anchors[z]
                if labels[anchor] == UNLABELED and truth[anchor] == truth[i]:
                    counts[i] += 1
                cells.extend(int(c) for c in tree.children[z] if c >= 0)
    return counts


@pytest.mark.parametrize("dims", [2, 3])
def test_counts_match_literal_algorithm_on_random_octree(dims):
    rng = np.random.default_rng(dims)
    Y = rng.normal(size=(300, dims))
    truth = rng.integers(0, 3, 300)
    labels = np.where(rng.random(300) < 0.3, truth, UNLABELED)
    tree = build_tree(Y)
    counts = count_opportunities(
        tree.centers, tree.widths, tree.children, tree.anchors, Y, truth, labels
    )
    np.testing.assert_array_equal(counts, reference_counts(tree, Y, truth, labels, 0.8))
    assert counts.max() > 1


def test_focus_is_first_maximum():
    assert choose_focus(np.array([1, 3, 0, 3])) == 1
    assert choose_focus(np.array([2, 1, 2])) == 0


def line_embedding(n):
    """Points on a line at 0, 1, ..., n - 1 (3D), so neighbours of 0 come in index order."""
    return np.column_stack([np.arange(n, dtype=float), np.zeros(n), np.zeros(n)])


def test_neighbours_sorted_by_distance_without_focus():
    Y = np.array([[0.0, 0, 0], [3, 0, 0], [-1, 0, 0], [1, 0, 0], [2, 0, 0]])
    np.testing.assert_array_equal(sorted_neighbours(Y, 0), [2, 3, 4, 1])
    np.testing.assert_array_equal(sorted_neighbours(Y, 3), [0, 4, 1, 2])
    np.testing.assert_array_equal(sorted_neighbours(Y, 0, max_neighbours=2), [2, 3])


# Focus 0 of class 0 on a line; neighbours 1..6 in order:
#   1 unlabeled same      labels 2 actions 2  h 1.00
#   2 unlabeled other     labels 2 actions 3  h 0.67
#   3 labeled (as 2)      labels 2 actions 3  h 0.67   (costs nothing, never relabeled)
#   4 unlabeled same      labels 3 actions 3  h 1.00
#   5 unlabeled same      labels 4 actions 3  h 1.33   <- first maximum: k = 5
#   6 labeled other       labels 4 actions 3  h 1.33   (tie, larger group not chosen)
#   7 unlabeled other     labels 4 actions 4  h 1.00
SCAN_TRUTH = np.array([0, 0, 1, 0, 0, 0, 1, 1])
SCAN_LABELS = np.array([-1, -1, -1, 2, -1, -1, 1, -1])


def test_group_choice_counts_actions_and_picks_first_best_k():
    group = choose_group(sorted_neighbours(line_embedding(8), 0), SCAN_TRUTH, SCAN_LABELS, 0)
    assert (group.focus, group.k, group.actions, group.counted_labels) == (0, 5, 3, 4)
    assert group.efficiency == pytest.approx(4 / 3)
    np.testing.assert_array_equal(group.members, [1, 2, 3, 4, 5])


def test_apply_labels_unlabeled_same_class_and_focus_only():
    group = choose_group(sorted_neighbours(line_embedding(8), 0), SCAN_TRUTH, SCAN_LABELS, 0)
    gained = apply_group(SCAN_LABELS, SCAN_TRUTH, group)
    np.testing.assert_array_equal(gained, [0, 1, 4, 5])
    assert 3 not in gained  # labeled 2 against truth 0: kept, never overwritten
    assert 2 not in gained  # other class: deselected


def test_labeled_focus_still_counts_one_label_but_gains_none_itself():
    # Focus already labeled: Algorithm 1 still counts select + label, so k is chosen the same way.
    truth = np.array([0, 0, 1, 0])
    labels = np.array([0, -1, -1, -1])
    group = choose_group(sorted_neighbours(line_embedding(4), 0), truth, labels, 0)
    # k=1: 2/2, k=2: 2/3, k=3: 3/3 -> first maximum k = 1
    assert (group.k, group.actions, group.counted_labels) == (1, 2, 2)
    np.testing.assert_array_equal(apply_group(labels, truth, group), [1])


def test_apply_group_never_overwrites_existing_labels():
    truth = np.zeros(6, dtype=np.int64)
    labels = np.array([-1, 3, 3, -1, 3, -1])
    group = GroupChoice(focus=0, k=5, actions=2, counted_labels=3, members=np.arange(1, 6))
    np.testing.assert_array_equal(apply_group(labels, truth, group), [0, 3, 5])


class FrozenEngine:
    """A stand-in t-SNE engine whose map never moves (step API of SemiSupervisedTSNE)."""

    def __init__(self, Y):
        self.positions = np.asarray(Y, dtype=float)
        self.epoch = 0
        self.label_history = []

    def set_labels(self, labels):
        self.label_history.append(np.array(labels))

    def step(self, n_epochs=1):
        self.epoch += n_epochs
        return self.positions.copy()


def two_cluster_embedding():
    rng = np.random.default_rng(0)
    Y = np.concatenate([rng.normal(0, 0.3, (20, 3)), rng.normal(10, 0.3, (20, 3))])
    truth = np.repeat([0, 1], 20)
    return Y, truth


def test_emulation_labels_two_clean_clusters_in_two_steps():
    Y, truth = two_cluster_embedding()
    engine = FrozenEngine(Y)
    reports = []
    result = drain(
        emulate_annotation(engine, truth, build_tree, start_epoch=5, max_epochs=50),
        reports.append,
    )
    # Each cluster is one group: select + slider, 20 labels, no deselection.
    assert [(s.k, s.actions, s.n_gained) for s in result.steps] == [(19, 2, 20), (19, 2, 20)]
    assert [s.cumulative_actions for s in result.steps] == [2, 4]
    assert [s.epoch for s in result.steps] == [6, 7]
    np.testing.assert_array_equal(result.labels, truth)
    assert result.stop_reason == "all labeled"
    assert result.focus_already_labeled == 0
    np.testing.assert_array_equal(
        result.labels_after(1), np.where(truth == result.steps[0].label, truth, -1)
    )
    # the engine saw the labels before every labeling epoch
    assert [int(np.sum(lab >= 0)) for lab in engine.label_history] == [0, 0, 20]
    assert sum(isinstance(r, EmulationProgress) and r.step is not None for r in reports) == 2
    assert sum(r.step is None for r in reports) == 5


def test_emulation_mixed_clusters_never_overwrites_and_is_correct():
    rng = np.random.default_rng(1)
    Y = rng.normal(size=(80, 3))
    truth = rng.integers(0, 3, 80)
    result = drain(
        emulate_annotation(FrozenEngine(Y), truth, build_tree, start_epoch=0, max_epochs=400)
    )
    seen = np.full(80, -1)
    for step in result.steps:
        assert np.all(seen[step.gained] == -1)  # a sample is labeled at most once
        seen[step.gained] = step.label
        assert np.all(truth[step.gained] == step.label)
    np.testing.assert_array_equal(seen, result.labels)
    assert result.stop_reason == "all labeled"
    np.testing.assert_array_equal(np.diff(result.cumulative_actions) > 0, True)


def test_emulation_stops_at_action_cap_and_max_epochs():
    rng = np.random.default_rng(2)
    Y = rng.normal(size=(60, 3))
    truth = rng.integers(0, 4, 60)
    capped = drain(
        emulate_annotation(FrozenEngine(Y), truth, build_tree, start_epoch=0, max_actions=10)
    )
    assert capped.stop_reason == "max actions"
    assert capped.steps[-1].cumulative_actions >= 10 > capped.steps[-2].cumulative_actions
    short = drain(
        emulate_annotation(FrozenEngine(Y), truth, build_tree, start_epoch=2, max_epochs=5)
    )
    assert short.stop_reason == "max epochs"
    assert len(short.steps) == 3
