"""The semi-supervised t-SNE gradient of equation (1): exact O(N^2) reference and Barnes-Hut.

dC/dy_i = 4 * (alpha * sum_j a_ij p_ij t_ij (y_i - y_j) / sum_kl a_kl p_kl
               - sum_j b_ij t_ij^2 (y_i - y_j) / sum_kl b_kl t_kl),  t_ij = 1 / (1 + |y_i - y_j|^2).

Both points labeled: same label a_ij = 1/N + u_i u_j f / N_s, different labels
a_ij = 1/N - u_i u_j f / N_o and b_ij = 1 + u_i u_j r; otherwise a_ij = 1/N, b_ij = 1. N_s is the
number of other labeled points sharing i's label, N_o the number of labeled points with another.
Barnes-Hut splits the repulsion into the plain sum over all points plus r times the mismatched
labeled pairs, which is (all labeled) - (same label): two weighted trees, no O(L^2) pair loop.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from napari_tsne_label.tsne.affinities import Affinities
from napari_tsne_label.tsne.tree import build_tree


class LabelWeights(NamedTuple):
    """Per-point label terms of equation (1), all shape (N,).

    Attributes
    ----------
    labels : int64, -1 = unlabeled.
    u : float64 point learning rates in [0, 1] (0 for unlabeled points).
    same : float64 f / N_s for labeled points (0 if none share the label).
    other : float64 f / N_o for labeled points (0 if no other label exists).
    r : float -- repulsion emphasis.
    active : int64 (L,) -- labeled points with u_i > 0, the only ones with extra repulsion.
    classes : int64 (C,) -- sorted distinct labels of the active points.
    """

    labels: np.ndarray
    u: np.ndarray
    same: np.ndarray
    other: np.ndarray
    r: float
    active: np.ndarray
    classes: np.ndarray


def label_weights(labels: np.ndarray, u: np.ndarray, f: float, r: float) -> LabelWeights:
    """Precompute f / N_s and f / N_o per point from labels (N,) int (-1 unlabeled) and u (N,)."""
    labels = np.asarray(labels, dtype=np.int64)
    labeled = labels >= 0
    classes, class_sizes = np.unique(labels[labeled], return_counts=True)
    size_of_own = np.zeros(len(labels))
    size_of_own[labeled] = class_sizes[np.searchsorted(classes, labels[labeled])]
    n_same = np.where(labeled, size_of_own - 1, 0)
    n_other = np.where(labeled, labeled.sum() - size_of_own, 0)
    with np.errstate(divide="ignore"):
        same = np.where(n_same > 0, f / np.maximum(n_same, 1), 0.0)
        other = np.where(n_other > 0, f / np.maximum(n_other, 1), 0.0)
    u = np.where(labeled, np.asarray(u, dtype=np.float64), 0.0)
    active = np.flatnonzero(u > 0)
    return LabelWeights(labels, u, same, other, float(r), active, np.unique(labels[active]))


def unlabeled_weights(n: int) -> LabelWeights:
    """Label terms for plain t-SNE: nobody labeled."""
    zeros = np.zeros(n)
    none = np.zeros(0, np.int64)
    return LabelWeights(np.full(n, -1, np.int64), zeros, zeros, zeros, 0.0, none, none)


# --------------------------------------------------------------------------- exact reference


def exact_gradient(
    Y: np.ndarray, P: np.ndarray, weights: LabelWeights, exaggeration: float = 1.0
) -> np.ndarray:
    """Equation (1) evaluated over all pairs, O(N^2) memory and time: the tests' oracle.

    Y (N, d) positions, P (N, N) dense symmetric affinities; returns the (N, d) gradient.
    """
    n = len(Y)
    diff = Y[:, None, :] - Y[None, :, :]
    t = 1.0 / (1.0 + (diff**2).sum(axis=2))
    np.fill_diagonal(t, 0.0)
    labels = weights.labels
    both = (labels[:, None] >= 0) & (labels[None, :] >= 0)
    same = both & (labels[:, None] == labels[None, :])
    mismatched = both & ~same
    uu = weights.u[:, None] * weights.u[None, :]
    a = 1.0 / n + same * uu * weights.same[:, None] - mismatched * uu * weights.other[:, None]
    b = 1.0 + mismatched * uu * weights.r
    np.fill_diagonal(a, 0.0)
    np.fill_diagonal(b, 0.0)
    attraction = np.einsum("ij,ijk->ik", a * P * t, diff) / (a * P).sum()
    repulsion = np.einsum("ij,ijk->ik", b * t * t, diff) / (b * t).sum()
    return 4.0 * (exaggeration * attraction - repulsion)


def exact_kl_divergence(Y: np.ndarray, P: np.ndarray) -> float:
    """KL(P || Q) of plain t-SNE over all pairs, O(N^2): the oracle for :func:`kl_divergence`."""
    diff = Y[:, None, :] - Y[None, :, :]
    t = 1.0 / (1.0 + (diff**2).sum(axis=2))
    np.fill_diagonal(t, 0.0)
    q = t / t.sum()
    mask = P > 0
    return float((P[mask] * np.log(P[mask] / q[mask])).sum())


# --------------------------------------------------------------------------- Barnes-Hut


class GradientBuffers(NamedTuple):
    """Scratch arrays reused every iteration so the hot loop allocates nothing per point."""

    attraction: np.ndarray  # (N, d)
    attraction_norm: np.ndarray  # (N,)
    repulsion: np.ndarray  # (N, d)
    repulsion_norm: np.ndarray  # (N,)

    @classmethod
    def empty(cls, n: int, d: int) -> GradientBuffers:
        """Buffers for N points in d dimensions."""
        return cls(np.empty((n, d)), np.empty(n), np.empty((n, d)), np.empty(n))


def bh_gradient(
    Y: np.ndarray,
    P: Affinities,
    weights: LabelWeights,
    exaggeration: float = 1.0,
    theta: float = 0.5,
    out: np.ndarray | None = None,
    buffers: GradientBuffers | None = None,
) -> np.ndarray:
    """Equation (1) with Barnes-Hut repulsion (theta = 0: exact) and sparse attraction.

    Y (N, d) float64 positions, d = 2 or 3; returns the (N, d) gradient (written into ``out``).
    """
    n, d = Y.shape
    out = np.empty((n, d)) if out is None else out
    buffers = GradientBuffers.empty(n, d) if buffers is None else buffers
    tree = build_tree(Y)
    nodes = _pack_nodes(tree.centers, tree.widths, tree.counts)
    _forces(Y, tree.order, tree.leaf_of, nodes, tree.skips, theta * theta, P.indptr, P.indices,
            P.values, *weights[:4], 1.0 / n, *buffers)
    repulsion_total = buffers.repulsion_norm.sum()
    if weights.r > 0 and len(weights.classes) > 1:
        repulsion_total += _add_mismatch_repulsion(Y, weights, theta, buffers.repulsion)
    attraction_total = buffers.attraction_norm.sum()
    _combine(buffers.attraction, buffers.repulsion, 4.0 * exaggeration / attraction_total,
             4.0 / repulsion_total, out)
    return out


def kl_divergence(Y: np.ndarray, P: Affinities, theta: float = 0.5) -> float:
    """KL(P || Q) of plain t-SNE, the normaliser sum t_kl from Barnes-Hut (theta = 0: exact)."""
    tree = build_tree(Y)
    n, d = Y.shape
    force, z = np.empty((n, d)), np.empty(n)
    nodes = _pack_nodes(tree.centers, tree.widths, tree.counts)
    _bh_sums(Y, tree.leaf_of, nodes, tree.skips, theta * theta, force, z)
    return float(_kl_terms(Y, P.indptr, P.indices, P.values).sum() + np.log(z.sum()))


def _add_mismatch_repulsion(Y, weights: LabelWeights, theta: float, repulsion) -> float:
    """Add r u_i sum_{j: other label} u_j t_ij^2 (y_i - y_j) to ``repulsion``; return r sum u u t.

    The sum over other labels is the sum over all labeled points minus the sum over i's class:
    one u-weighted tree of all labeled points and one per class, queried in one parallel pass.
    """
    active, classes = weights.active, weights.classes
    groups = [active] + [active[weights.labels[active] == label] for label in classes]
    forest = _Forest.build(Y, weights.u, groups)
    own_tree = 1 + np.searchsorted(classes, weights.labels)
    extra = np.empty(len(active))
    _mismatch_pass(Y, active, own_tree, weights.u, weights.r, theta * theta, *forest,
                   repulsion, extra)
    return float(extra.sum())


class _Forest(NamedTuple):
    """Several u-weighted trees in one node array; tree t spans nodes roots[t]:ends[t].

    ``nodes`` are :func:`_pack_nodes` records with u-weighted centres and masses;
    ``leaves[t, i]`` is the leaf holding point i (a row of Y) in tree t, -1 if i is not in it.
    """

    nodes: np.ndarray
    skips: np.ndarray
    roots: np.ndarray
    ends: np.ndarray
    leaves: np.ndarray

    @classmethod
    def build(cls, Y: np.ndarray, u: np.ndarray, groups: list[np.ndarray]) -> _Forest:
        """One tree per group of point indices, weighted by u."""
        nodes, skips = [], []
        leaves = np.full((len(groups), len(Y)), -1, np.int64)
        offset = 0
        for t, members in enumerate(groups):
            tree = build_tree(Y[members])
            nodes.append(_weighted_nodes(Y[members], u[members], tree))
            skips.append(tree.skips + offset)
            leaves[t, members] = tree.leaf_of + offset
            offset += tree.n_nodes
        ends = np.cumsum([len(part) for part in skips])
        roots = np.concatenate([[0], ends[:-1]])
        return cls(np.concatenate(nodes), np.concatenate(skips), roots, ends, leaves)


@njit(parallel=True, cache=True)
def _mismatch_pass(Y, active, own_tree, u, r, theta2, nodes, skips, roots, ends, leaves,
                   repulsion, extra_norm):
    """For each active labeled point: all-labeled tree (0) minus own-class tree sums, times r u_i."""
    d = Y.shape[1]
    for q in prange(len(active)):
        i = active[q]
        own = own_tree[i]
        force_all = np.empty(d)
        force_own = np.empty(d)
        norm_all = _bh_point(Y, i, leaves[0, i], u[i], nodes, skips, theta2, force_all, roots[0],
                             ends[0])
        norm_own = _bh_point(Y, i, leaves[own, i], u[i], nodes, skips, theta2, force_own,
                             roots[own], ends[own])
        scale = r * u[i]
        for a in range(d):
            repulsion[i, a] += scale * (force_all[a] - force_own[a])
        extra_norm[q] = scale * (norm_all - norm_own)


def _weighted_nodes(Y: np.ndarray, w: np.ndarray, tree) -> np.ndarray:
    """Node records of ``tree`` over ``Y`` with weights ``w``: weighted centres and masses."""
    masses, centers = _weighted_moments(Y, w, tree.order, tree.starts, tree.counts, tree.centers)
    return _pack_nodes(centers, tree.widths, masses)


@njit(cache=True)
def _weighted_moments(Y, w, order, starts, counts, fallback_centers):
    """Total weight and weighted centre of every cell (the plain centre where the weight is 0)."""
    m, d = fallback_centers.shape
    masses = np.zeros(m)
    centers = np.zeros((m, d))
    for z in range(m):
        for k in range(starts[z], starts[z] + counts[z]):
            p = order[k]
            masses[z] += w[p]
            for a in range(d):
                centers[z, a] += w[p] * Y[p, a]
        for a in range(d):
            centers[z, a] = centers[z, a] / masses[z] if masses[z] > 0 else fallback_centers[z, a]
    return masses, centers


@njit(cache=True)
def _pack_nodes(centers, widths, masses):
    """Node records (M, 5) for cache-friendly traversal: centre x, y, z (0 in 2D), width^2, mass."""
    m, d = centers.shape
    nodes = np.zeros((m, 5))
    for z in range(m):
        for a in range(d):
            nodes[z, a] = centers[z, a]
        nodes[z, 3] = widths[z] * widths[z]
        nodes[z, 4] = masses[z]
    return nodes


@njit(parallel=True, cache=True)
def _bh_sums(Y, self_leaf, nodes, skips, theta2, out_force, out_norm):
    """Plain Barnes-Hut sums of every point against one tree of all points, in parallel."""
    for i in prange(len(Y)):
        out_norm[i] = _bh_point(Y, i, self_leaf[i], 1.0, nodes, skips, theta2, out_force[i], 0,
                                len(skips))


@njit(parallel=True, cache=True)
def _forces(Y, order, leaf_of, nodes, skips, theta2, indptr, indices, values, labels, u, same,
            other, base, attraction, attraction_norm, repulsion, repulsion_norm):
    """Plain Barnes-Hut repulsion and label-weighted attraction of every point, one parallel pass.

    Points are visited in tree order (neighbours in space run together, which keeps caches warm).
    """
    for q in prange(len(order)):
        i = order[q]
        repulsion_norm[i] = _bh_point(Y, i, leaf_of[i], 1.0, nodes, skips, theta2, repulsion[i],
                                      0, len(skips))
        attraction_norm[i] = _attraction_point(Y, i, indptr, indices, values, labels, u, same,
                                               other, base, attraction[i])


@njit(cache=True, fastmath=True)
def _bh_point(Y, i, own_leaf, own_mass, nodes, skips, theta2, out_force, root, end):
    """Write sum_j m_j t_ij^2 (y_i - y_j) into out_force (d,); return sum_j m_j t_ij.

    Sums run over the other points of the tree in nodes root:end (records of
    :func:`_pack_nodes`); a cell is summarised at its centre of mass when
    width^2 <= theta^2 * distance^2, so theta = 0 is exact.
    """
    three = Y.shape[1] == 3
    y0, y1, y2 = Y[i, 0], Y[i, 1], Y[i, 2] if three else 0.0
    norm = f0 = f1 = f2 = 0.0
    z = root
    while z < end:  # branch-free body: a descended cell just adds zero mass
        d0 = y0 - nodes[z, 0]
        d1 = y1 - nodes[z, 1]
        d2 = y2 - nodes[z, 2]
        dist2 = d0 * d0 + d1 * d1 + d2 * d2
        next_z = skips[z]
        summarise = next_z == z + 1 or nodes[z, 3] <= theta2 * dist2
        mass = nodes[z, 4] - own_mass if z == own_leaf else nodes[z, 4]
        t = 1.0 / (1.0 + dist2)
        mass_t = (mass if summarise else 0.0) * t
        norm += mass_t
        mass_t2 = mass_t * t
        f0 += mass_t2 * d0
        f1 += mass_t2 * d1
        f2 += mass_t2 * d2
        z = next_z if summarise else z + 1
    out_force[0] = f0
    out_force[1] = f1
    if three:
        out_force[2] = f2
    return norm


@njit(cache=True)
def _attraction_point(Y, i, indptr, indices, values, labels, u, same, other, base, out_force):
    """Write sum_j a_ij p_ij t_ij (y_i - y_j) over P's row i into out_force; return sum_j a_ij p_ij."""
    three = Y.shape[1] == 3
    y0, y1, y2 = Y[i, 0], Y[i, 1], Y[i, 2] if three else 0.0
    own_label = labels[i]
    f0 = f1 = f2 = norm = 0.0
    for e in range(indptr[i], indptr[i + 1]):
        j = indices[e]
        pair = base
        if own_label >= 0 and labels[j] >= 0:
            if own_label == labels[j]:
                pair += u[i] * u[j] * same[i]
            else:
                pair -= u[i] * u[j] * other[i]
        weight = pair * values[e]
        d0 = y0 - Y[j, 0]
        d1 = y1 - Y[j, 1]
        d2 = y2 - Y[j, 2] if three else 0.0
        wt = weight / (1.0 + d0 * d0 + d1 * d1 + d2 * d2)
        f0 += wt * d0
        f1 += wt * d1
        f2 += wt * d2
        norm += weight
    out_force[0] = f0
    out_force[1] = f1
    if three:
        out_force[2] = f2
    return norm


@njit(cache=True)
def _combine(attraction, repulsion, attraction_scale, repulsion_scale, out):
    n, d = out.shape
    for i in range(n):
        for a in range(d):
            out[i, a] = attraction_scale * attraction[i, a] - repulsion_scale * repulsion[i, a]


@njit(parallel=True, cache=True)
def _kl_terms(Y, indptr, indices, values):
    """Per point: sum_j p_ij (log p_ij - log t_ij); adding log sum t gives KL(P || Q)."""
    n, d = Y.shape
    out = np.zeros(n)
    for i in prange(n):
        for e in range(indptr[i], indptr[i + 1]):
            j = indices[e]
            dist2 = 0.0
            for a in range(d):
                diff = Y[i, a] - Y[j, a]
                dist2 += diff * diff
            out[i] += values[e] * (np.log(values[e]) + np.log1p(dist2))
    return out
