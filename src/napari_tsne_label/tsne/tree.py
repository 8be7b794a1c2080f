"""Space-partitioning tree (quadtree in 2D, octree in 3D) as flat numba-friendly arrays.

The Barnes-Hut repulsion and the emulation's focus kernel both traverse it. Nodes are numbered
in depth-first preorder, so the subtree of node ``z`` is the node range ``[z, skips[z])``: a
traversal that summarises ``z`` jumps to ``skips[z]``, one that enters it goes to ``z + 1``.
Every cell's points are the contiguous slice ``order[starts[z]:starts[z] + counts[z]]``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

MAX_DEPTH = 64
"""Cells stop splitting at this depth, so near-coincident points share a leaf."""


class Tree(NamedTuple):
    """A quadtree / octree over ``N`` points in ``d`` = 2 or 3 dimensions with ``M`` nodes; root = 0.

    Attributes
    ----------
    centers : ndarray of shape (M, d), float64 -- centre of mass of each cell's points.
    widths : ndarray of shape (M,), float64 -- side length of each (cubic) cell.
    children : ndarray of shape (M, 2**d), int64 -- child node per orthant, -1 where empty.
    counts : ndarray of shape (M,), int64 -- number of points in each cell.
    anchors : ndarray of shape (M,), int64 -- first point inserted into the cell (lowest index).
    skips : ndarray of shape (M,), int64 -- first node after the cell's subtree (leaf: z + 1).
    starts : ndarray of shape (M,), int64 -- offset of the cell's points in ``order``.
    order : ndarray of shape (N,), int64 -- point indices, grouped cell by cell.
    leaf_of : ndarray of shape (N,), int64 -- the leaf node holding each point.
    """

    centers: np.ndarray
    widths: np.ndarray
    children: np.ndarray
    counts: np.ndarray
    anchors: np.ndarray
    skips: np.ndarray
    starts: np.ndarray
    order: np.ndarray
    leaf_of: np.ndarray

    @property
    def n_nodes(self) -> int:
        """Number of cells ``M``."""
        return len(self.counts)

    def is_leaf(self, node: int) -> bool:
        """Whether ``node`` has no children."""
        return bool(self.skips[node] == node + 1)

    def points_of(self, node: int) -> np.ndarray:
        """Indices of the points inside ``node``, ascending, int64 array of shape (counts[node],)."""
        start = self.starts[node]
        return np.sort(self.order[start : start + self.counts[node]])


def build_tree(Y: np.ndarray) -> Tree:
    """Build the quadtree (d = 2) or octree (d = 3) of the points ``Y``, shape (N, d), in O(N log N).

    Cells split until they hold one point; identical points (or points closer than 2**-64 of the
    bounding box) share one leaf.
    """
    Y = np.ascontiguousarray(Y, dtype=np.float64)
    if Y.ndim != 2 or Y.shape[1] not in (2, 3) or len(Y) == 0:
        raise ValueError(f"build_tree needs a non-empty (N, 2) or (N, 3) array, got {Y.shape}")
    return Tree(*_build(Y, MAX_DEPTH))


@njit(cache=True)
def _grow_rows(a, new_len):
    out = np.empty((new_len, a.shape[1]), a.dtype)
    out[: a.shape[0]] = a
    return out


@njit(cache=True)
def _grow(a, new_len):
    out = np.empty(new_len, a.dtype)
    out[: a.shape[0]] = a
    return out


@njit(cache=True)
def _bounding_cube(Y):
    """Centre and side length of the smallest axis-aligned cube holding all points."""
    n, d = Y.shape
    lo = Y[0].copy()
    hi = Y[0].copy()
    for i in range(1, n):
        for a in range(d):
            lo[a] = min(lo[a], Y[i, a])
            hi[a] = max(hi[a], Y[i, a])
    width = 0.0
    for a in range(d):
        width = max(width, hi[a] - lo[a])
    return 0.5 * (lo + hi), width * (1.0 + 1e-9)


@njit(cache=True)
def _scan_cell(Y, order, start, count, box_center, codes, child_counts, out_mean):
    """One pass over a cell's points: orthant codes and counts, mean into ``out_mean``.

    Returns whether all the points coincide.
    """
    d = Y.shape[1]
    first = order[start]
    identical = True
    out_mean[:] = 0.0
    child_counts[:] = 0
    for k in range(start, start + count):
        p = order[k]
        code = 0
        for a in range(d):
            value = Y[p, a]
            out_mean[a] += value
            if value != Y[first, a]:
                identical = False
            if value >= box_center[a]:
                code |= 1 << a
        codes[k] = code
        child_counts[code] += 1
    out_mean /= count
    return identical


@njit(cache=True)
def _scatter(order, scratch, codes, start, count, child_counts):
    """Stably regroup the cell's slice of ``order`` by orthant code."""
    offsets = np.empty(len(child_counts), np.int64)
    running = start
    for c in range(len(child_counts)):
        offsets[c] = running
        running += child_counts[c]
    for k in range(start, start + count):
        scratch[offsets[codes[k]]] = order[k]
        offsets[codes[k]] += 1
    order[start : start + count] = scratch[start : start + count]


@njit(cache=True)
def _build(Y, max_depth):
    n, d = Y.shape
    n_child = 1 << d
    cap = 2 * n + 16
    centers = np.empty((cap, d))
    widths = np.empty(cap)
    children = np.full((cap, n_child), -1, np.int64)
    counts = np.empty(cap, np.int64)
    anchors = np.empty(cap, np.int64)
    starts = np.empty(cap, np.int64)
    order = np.arange(n)
    scratch = np.empty(n, np.int64)
    codes = np.empty(n, np.int64)
    leaf_of = np.empty(n, np.int64)
    child_counts = np.empty(n_child, np.int64)

    # Depth-first stack of cells still to be numbered: (start, count, depth, parent, orthant).
    stack_size = (max_depth + 2) * n_child
    st_int = np.empty((stack_size, 5), np.int64)
    st_box = np.empty((stack_size, d))
    st_width = np.empty(stack_size)
    root_center, root_width = _bounding_cube(Y)
    _set_row(st_int, 0, 0, n, 0, -1, 0)
    st_box[0] = root_center
    st_width[0] = root_width
    top = 1
    m = 0
    while top > 0:
        top -= 1
        start, count, depth = st_int[top, 0], st_int[top, 1], st_int[top, 2]
        parent, orthant = st_int[top, 3], st_int[top, 4]
        box_center = st_box[top].copy()
        width = st_width[top]
        if m == cap:
            cap *= 2
            centers = _grow_rows(centers, cap)
            children = _grow_rows(children, cap)
            children[m:] = -1
            widths = _grow(widths, cap)
            counts = _grow(counts, cap)
            anchors = _grow(anchors, cap)
            starts = _grow(starts, cap)
        node = m
        m += 1
        if parent >= 0:
            children[parent, orthant] = node
        starts[node] = start
        counts[node] = count
        anchors[node] = order[start]
        widths[node] = width
        if count == 1:
            centers[node] = Y[order[start]]
            leaf_of[order[start]] = node
            continue
        identical = _scan_cell(Y, order, start, count, box_center, codes, child_counts,
                               centers[node])
        if identical or depth >= max_depth:
            for k in range(start, start + count):
                leaf_of[order[k]] = node
            continue
        _scatter(order, scratch, codes, start, count, child_counts)
        offset = start + count
        for c in range(n_child - 1, -1, -1):  # pushed in reverse: orthant 0 is numbered first
            offset -= child_counts[c]
            if child_counts[c] == 0:
                continue
            _set_row(st_int, top, offset, child_counts[c], depth + 1, node, c)
            for a in range(d):
                sign = 1.0 if (c >> a) & 1 else -1.0
                st_box[top, a] = box_center[a] + sign * 0.25 * width
            st_width[top] = 0.5 * width
            top += 1

    children = children[:m].copy()
    return (
        centers[:m].copy(),
        widths[:m].copy(),
        children,
        counts[:m].copy(),
        anchors[:m].copy(),
        _subtree_ends(children),
        starts[:m].copy(),
        order,
        leaf_of,
    )


@njit(cache=True, inline="always")
def _set_row(table, row, start, count, depth, parent, orthant):
    table[row, 0] = start
    table[row, 1] = count
    table[row, 2] = depth
    table[row, 3] = parent
    table[row, 4] = orthant


@njit(cache=True)
def _subtree_ends(children):
    """``skips[z]`` = z + size of z's subtree, valid because children are numbered after parents."""
    m, n_child = children.shape
    skips = np.empty(m, np.int64)
    for z in range(m - 1, -1, -1):
        end = z + 1
        for c in range(n_child):
            child = children[z, c]
            if child >= 0:
                end = max(end, skips[child])
        skips[z] = end
    return skips
