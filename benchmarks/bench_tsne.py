"""Benchmark the semi-supervised Barnes-Hut t-SNE engine against openTSNE and scikit-learn.

Run: ``pip install -e '.[bench]'`` then ``python benchmarks/bench_tsne.py [--features X.npy]
[--quick]``. Three parts, all measured in this one run:

1. N = 3,000 (a seeded 10-cluster 64-D set, plus ``--features`` if given), 3D and 2D, 1,000
   iterations, perplexity 20, theta 0.5: optimisation wall time and final KL of ours vs openTSNE's
   BH (given our P, so both minimise the same objective) and scikit-learn's BH (its own P, full
   fit). KL is always recomputed exactly (theta = 0) on each result against our P.
2. Scaling: time per iteration in 3D at N = 1k ... 100k, 1,000 iterations each.
3. Live frame rate: ``step(1)`` calls per second at N = 3,000 in 3D after the early phase.
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Self

import numba
import numpy as np

from napari_tsne_label.tsne import SemiSupervisedTSNE
from napari_tsne_label.tsne.affinities import compute_affinities
from napari_tsne_label.tsne.gradients import kl_divergence

ITERATIONS = 1000
PERPLEXITY = 20.0
THETA = 0.5


def synthetic_clusters(n: int, dim: int = 64, n_clusters: int = 10, seed: int = 0) -> np.ndarray:
    """Seeded Gaussian clusters: (n, dim) float64, centres spread with standard deviation 4."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(n_clusters, dim))
    return centres[rng.integers(0, n_clusters, n)] + rng.normal(size=(n, dim))


def exact_kl(Y: np.ndarray, P) -> float:
    """KL(P || Q) with the exact normaliser (theta = 0)."""
    return kl_divergence(np.ascontiguousarray(Y, dtype=np.float64), P, theta=0.0)


class Timer:
    """Wall and process CPU seconds of a block (CPU time is robust to other load on the machine)."""

    def __enter__(self) -> Self:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc_info) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def run_ours(X, P, d, seed, threads=None):
    """(Timer of the optimisation, positions, engine) of our engine given P."""
    engine = SemiSupervisedTSNE(X, n_components=d, perplexity=PERPLEXITY, theta=THETA, seed=seed,
                                affinities=P, n_threads=threads)
    engine.step(1)  # compile (cached after the first run) outside the timing
    engine.reset()
    with Timer() as timer:
        engine.step(ITERATIONS)
    return timer, engine.positions.copy(), engine


def run_opentsne(P, init, d, seed, threads):
    """(Timer, positions) of openTSNE's BH given the same P and start."""
    import scipy.sparse as sp
    from openTSNE import TSNE
    from openTSNE.affinity import PrecomputedAffinities

    n = P.n_samples
    matrix = sp.csr_matrix((P.values, P.indices, P.indptr), shape=(n, n))
    tsne = TSNE(n_components=d, early_exaggeration_iter=250, n_iter=ITERATIONS - 250,
                negative_gradient_method="bh", theta=THETA, n_jobs=threads, random_state=seed)
    with Timer() as timer:
        Y = tsne.fit(affinities=PrecomputedAffinities(matrix), initialization=init.copy())
    return timer, np.asarray(Y)


def run_sklearn(X, d, seed, threads):
    """(Timer of the full fit, positions) of scikit-learn's BH (computes its own P)."""
    from sklearn.manifold import TSNE

    tsne = TSNE(n_components=d, perplexity=PERPLEXITY, max_iter=ITERATIONS, method="barnes_hut",
                angle=THETA, init="pca", random_state=seed, n_jobs=threads)
    with Timer() as timer:
        Y = tsne.fit_transform(X)
    return timer, Y


def compare(name: str, X: np.ndarray, args) -> None:
    """Part 1 for one data set: rows for 3D and 2D, wall and CPU seconds."""
    threads = args.threads or numba.get_num_threads()
    with Timer() as affinity_time:
        P = compute_affinities(X, PERPLEXITY)
    print(f"\n## {name}: N = {len(X)}, D = {X.shape[1]}, {ITERATIONS} iterations, "
          f"{threads} threads (P in {affinity_time.wall:.1f} s)\n")
    print("| dims | ours s (CPU s) | ours KL | openTSNE s (CPU s) | openTSNE KL | speed-up wall (CPU) "
          "| KL ratio | sklearn s (CPU s), full fit | sklearn KL | speed-up wall (CPU) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for d in (3, 2):
        ours, ours_Y, engine = run_ours(X, P, d, args.seed, threads)
        ours_kl = exact_kl(ours_Y, P)
        other, open_Y = run_opentsne(P, engine.start_positions, d, args.seed, threads)
        open_kl = exact_kl(open_Y, P)
        row = (f"| {d}D | {_seconds(ours)} | {ours_kl:.4f} | {_seconds(other)} | {open_kl:.4f} "
               f"| {_ratio(other, ours)} | {ours_kl / open_kl:.3f} |")
        if args.skip_sklearn:
            row += " - | - | - |"
        else:
            sk, sk_Y = run_sklearn(X, d, args.seed, threads)
            ours.wall += affinity_time.wall
            ours.cpu += affinity_time.cpu
            row += f" {_seconds(sk)} | {exact_kl(sk_Y, P):.4f} | {_ratio(sk, ours)} |"
        print(row, flush=True)


def _seconds(timer: Timer) -> str:
    return f"{timer.wall:.1f} ({timer.cpu:.1f})"


def _ratio(slow: Timer, fast: Timer) -> str:
    return f"{slow.wall / fast.wall:.1f}x ({slow.cpu / fast.cpu:.1f}x)"


def scaling(sizes: list[int], args) -> None:
    """Part 2: seconds per iteration in 3D and the growth relative to N log N."""
    print(f"\n## Scaling, 3D, {ITERATIONS} iterations\n")
    print("| N | P s | optimisation s | ms / iteration | (ms / it) / (N log2 N) x 1e6 | final KL |")
    print("|---|---|---|---|---|---|")
    for n in sizes:
        X = synthetic_clusters(n, seed=args.seed)
        start = time.perf_counter()
        P = compute_affinities(X, PERPLEXITY)
        affinity_seconds = time.perf_counter() - start
        timer, _, engine = run_ours(X, P, 3, args.seed, args.threads)
        seconds = timer.wall
        per_iteration = seconds / ITERATIONS * 1e3
        normalised = per_iteration / (n * math.log2(n)) * 1e6
        print(f"| {n:,} | {affinity_seconds:.1f} | {seconds:.1f} | {per_iteration:.2f} "
              f"| {normalised:.2f} | {engine.kl_divergence():.4f} |", flush=True)


def frame_rate(args) -> None:
    """Part 3: step(1) calls per second at N = 3,000 in 3D, past the early phase."""
    X = synthetic_clusters(3000, seed=args.seed)
    engine = SemiSupervisedTSNE(X, n_components=3, seed=args.seed, n_threads=args.threads)
    engine.step(300)
    start = time.perf_counter()
    for _ in range(200):
        engine.step(1)
    rate = 200 / (time.perf_counter() - start)
    print(f"\n## Live frame rate: {rate:.0f} iterations/s at N = 3,000 in 3D "
          f"({engine.n_threads} threads)")


def main() -> None:
    """Parse the options and run the three parts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", help=".npy (N, D) features to compare on as well")
    parser.add_argument("--quick", action="store_true", help="scaling up to 10k only")
    parser.add_argument("--skip-sklearn", action="store_true", help="leave scikit-learn out")
    parser.add_argument("--skip-scaling", action="store_true", help="leave the scaling table out")
    parser.add_argument("--scaling-only", action="store_true", help="only the scaling table")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int,
                        help="threads for all three (default: numba's count; ours uses 1 below 2,000 points)")
    args = parser.parse_args()

    if not args.scaling_only:
        compare("Synthetic 10 clusters, 64-D", synthetic_clusters(3000, seed=args.seed), args)
        if args.features:
            X = np.load(args.features)
            compare(f"Features {args.features}", X[:3000], args)
        frame_rate(args)
    if not args.skip_scaling:
        sizes = [1000, 3000, 10000] if args.quick else [1000, 3000, 10000, 30000, 100000]
        scaling(sizes, args)


if __name__ == "__main__":
    main()
