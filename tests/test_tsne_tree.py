"""Quadtree / octree invariants: counts, centres of mass, leaves, anchors, preorder skips."""

import numpy as np
import pytest

from napari_tsne_label.tsne.tree import build_tree


def _clustered(n, d, seed):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=10.0, size=(5, d))
    return centres[rng.integers(0, 5, n)] + rng.normal(size=(n, d))


@pytest.fixture(params=[2, 3], ids=["quadtree", "octree"])
def points(request):
    return _clustered(500, request.param, seed=request.param)


def test_root_holds_every_point_and_children_partition_counts(points):
    tree = build_tree(points)
    assert tree.counts[0] == len(points)
    assert tree.children.shape == (tree.n_nodes, 2 ** points.shape[1])
    for z in range(tree.n_nodes):
        kids = tree.children[z][tree.children[z] >= 0]
        if len(kids):
            assert tree.counts[kids].sum() == tree.counts[z]


def test_centres_of_mass_are_means_of_points_under_each_node(points):
    tree = build_tree(points)
    for z in range(tree.n_nodes):
        np.testing.assert_allclose(tree.centers[z], points[tree.points_of(z)].mean(axis=0), atol=1e-12)


def test_every_point_in_exactly_one_leaf(points):
    tree = build_tree(points)
    leaves = [z for z in range(tree.n_nodes) if tree.is_leaf(z)]
    members = np.concatenate([tree.points_of(z) for z in leaves])
    assert np.array_equal(np.sort(members), np.arange(len(points)))
    for z in leaves:
        assert np.all(tree.leaf_of[tree.points_of(z)] == z)
        assert tree.counts[z] == 1


def test_anchors_are_lowest_indices_and_cells_contain_their_points(points):
    tree = build_tree(points)
    for z in range(tree.n_nodes):
        inside = tree.points_of(z)
        assert tree.anchors[z] == inside.min()
    # Geometric check: every point of a cell lies within one width of its centre of mass.
    for z in range(tree.n_nodes):
        offsets = np.abs(points[tree.points_of(z)] - tree.centers[z])
        assert offsets.max() <= tree.widths[z] * (1 + 1e-9)


def test_children_cells_halve_width_and_preorder_skips_cover_subtrees(points):
    tree = build_tree(points)
    for z in range(tree.n_nodes):
        kids = tree.children[z][tree.children[z] >= 0]
        np.testing.assert_allclose(tree.widths[kids], tree.widths[z] / 2)
        if len(kids):
            assert kids.min() == z + 1
            assert tree.skips[z] == tree.skips[kids].max()
        else:
            assert tree.skips[z] == z + 1


def test_coincident_points_share_one_leaf():
    Y = np.zeros((7, 3))
    Y[5] = [1.0, 2.0, 3.0]
    tree = build_tree(Y)
    assert tree.leaf_of[0] == tree.leaf_of[4] != tree.leaf_of[5]
    assert tree.counts[tree.leaf_of[0]] == 6
    assert tree.anchors[tree.leaf_of[0]] == 0


def test_near_coincident_points_stop_at_depth_cap():
    Y = np.array([[0.0, 0.0], [1.0, 1.0], [1.0, 1.0 + 1e-300]])
    tree = build_tree(Y)
    assert tree.counts[0] == 3
    assert len(set(tree.leaf_of.tolist())) == 2


def test_rejects_wrong_dimensionality():
    with pytest.raises(ValueError, match=r"\(N, 2\) or \(N, 3\)"):
        build_tree(np.zeros((4, 5)))
