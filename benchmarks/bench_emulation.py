"""Speed of the annotation emulation and the active-learning protocol.

Measures, in one run: the Barnes-Hut focus-kernel count (numba, parallel) against Algorithm 1's
loop written literally in Python (the peer), the time of one emulated labeling epoch (t-SNE
step + tree + count + group choice), and the time of every strategy on one cross-validation
fold, from which the whole five-fold run is extrapolated (or timed with ``--whole-run``).

    python benchmarks/bench_emulation.py --project blood.ntl.zarr --method im
    python benchmarks/bench_emulation.py            # synthetic 2,400 x 1,280 features, 3 classes
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from napari_tsne_label.emulation.annotator import UNLABELED, count_opportunities, emulation_step
from napari_tsne_label.emulation.classifier import MLPClassifier
from napari_tsne_label.emulation.protocol import (
    ProtocolSettings,
    active_learning_curve,
    default_engine,
    fold_data,
    full_labeling_accuracy,
    run_protocol,
    stratified_folds,
    tsne_curve,
)
from napari_tsne_label.progress import drain
from napari_tsne_label.tsne.tree import build_tree


def load(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray]:
    """Features (N, D) and truth (N,): from the project, or synthetic Gaussian classes."""
    if args.project:
        from napari_tsne_label.store import Project

        with Project.open(args.project) as project:
            return project.read_features(args.method), np.asarray(project.truth)
    rng = np.random.default_rng(0)
    truth = rng.choice(3, size=args.n, p=[0.15, 0.7, 0.15])
    X = rng.normal(size=(args.n, 1280)) + 1.5 * rng.normal(size=(3, 1280))[truth]
    return X.astype(np.float32), truth


def literal_counts(tree, Y, truth, labels, points, theta_k=0.8) -> np.ndarray:
    """Algorithm 1's count loop in plain Python (breadth-first cell list) for ``points``."""
    counts = np.zeros(len(points), dtype=np.int64)
    for row, i in enumerate(points):
        cells, m = [0], 0
        while m < len(cells):
            z = cells[m]
            m += 1
            distance = float(np.sqrt(np.sum((Y[i] - tree.centers[z]) ** 2)))
            if tree.widths[z] > theta_k * distance:
                anchor = tree.anchors[z]
                if labels[anchor] == UNLABELED and truth[anchor] == truth[i]:
                    counts[row] += 1
                cells.extend(int(c) for c in tree.children[z] if c >= 0)
    return counts


def timed(function, repeat: int = 1) -> tuple[float, object]:
    """Mean wall time over ``repeat`` calls, and the last result."""
    start = time.perf_counter()
    for _ in range(repeat):
        result = function()
    return (time.perf_counter() - start) / repeat, result


def bench_kernel(data, settings: ProtocolSettings) -> None:
    """Count kernel and one emulated epoch on the embedding at the labeling start epoch."""
    engine = default_engine(data.raw_train, settings.tsne, settings.seed)
    engine_time, Y = timed(lambda: engine.step(settings.tsne.start_epoch))
    labels = np.full(len(Y), UNLABELED)
    tree_time, tree = timed(lambda: build_tree(Y), 20)
    args = (tree.centers, tree.widths, tree.children, tree.anchors, Y, data.y_train, labels)
    count_opportunities(*args)
    count_time, counts = timed(lambda: count_opportunities(*args), 20)
    subset = np.arange(0, len(Y), max(1, len(Y) // 200))
    literal_time, literal = timed(lambda: literal_counts(tree, Y, data.y_train, labels, subset))
    assert np.array_equal(literal, counts[subset])
    literal_full = literal_time * len(Y) / len(subset)
    step_time, _ = timed(
        lambda: emulation_step(build_tree(Y), Y, data.y_train, labels, settings.tsne.theta_k), 20
    )
    epoch_time, _ = timed(lambda: engine.step(1), 20)
    print(f"N = {len(Y)} training points, {data.raw_train.shape[1]} features, {tree.n_nodes} cells")
    print(f"t-SNE unlabeled phase: {settings.tsne.start_epoch} epochs in {engine_time:.1f} s")
    print(
        f"tree build: {1e3 * tree_time:.2f} ms; focus-kernel count (numba, parallel): "
        f"{1e3 * count_time:.2f} ms; literal Python Algorithm 1: {literal_full:.2f} s "
        f"(extrapolated from {len(subset)} points) -> {literal_full / count_time:.0f}x faster"
    )
    print(
        f"emulated labeling epoch: t-SNE step {1e3 * epoch_time:.1f} ms + annotator "
        f"{1e3 * step_time:.1f} ms = {1e3 * (epoch_time + step_time):.1f} ms"
    )


def bench_fold(data, settings: ProtocolSettings) -> float:
    """Time of the full-labels classifier and every strategy on one fold; returns the total."""
    total, _ = timed(lambda: full_labeling_accuracy(data, settings))
    print(f"fold 1: full-labels classifier {total:.1f} s")
    for strategy in settings.strategies:
        if strategy == "tsne":
            elapsed, (curve, emulation) = timed(
                lambda: drain(tsne_curve(data, settings, default_engine, build_tree))
            )
            detail = (
                f"{len(emulation.steps)} labeling epochs, {len(curve)} retrainings, "
                f"stopped: {emulation.stop_reason}"
            )
        else:
            elapsed, curve = timed(
                lambda s=strategy: drain(active_learning_curve(data, s, settings))
            )
            detail = f"{len(curve)} rounds"
        total += elapsed
        print(f"fold 1: {strategy:<16} {elapsed:6.1f} s  ({detail})")
    return total


def bench_classifier_threads(data, settings: ProtocolSettings) -> None:
    """One training epoch on every training sample with 1 and with 2 torch threads."""
    for n_threads in (2, 1):
        clf = MLPClassifier(
            data.x_train.shape[1], data.n_classes, 0, settings.batch_size, n_threads
        )
        clf.fit(data.x_train, data.y_train, 1)
        elapsed, _ = timed(lambda c=clf: c.fit(data.x_train, data.y_train, 1), 3)
        print(
            f"classifier epoch on {len(data.y_train)} samples, {n_threads} torch thread(s): "
            f"{elapsed:.2f} s"
        )


def main() -> None:
    """Parse arguments, run the measurements and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", help="project with stored features (default: synthetic)")
    parser.add_argument("--method", default="im", help="feature method in the project (im)")
    parser.add_argument("--n", type=int, default=2400, help="synthetic sample count (2400)")
    parser.add_argument(
        "--max-actions",
        type=int,
        default=ProtocolSettings().max_actions,
        help="evaluation horizon in actions (default 300)",
    )
    parser.add_argument("--kernel-only", action="store_true", help="skip the per-fold timing")
    parser.add_argument("--whole-run", action="store_true", help="also time the five-fold run")
    args = parser.parse_args()
    X, truth = load(args)
    settings = ProtocolSettings(max_actions=args.max_actions)
    folds = stratified_folds(truth, settings.n_folds, settings.seed)
    data = fold_data(args.method, np.asarray(X, dtype=np.float64), truth, folds, 0)
    bench_classifier_threads(data, settings)
    bench_kernel(data, settings)
    if args.kernel_only:
        return
    per_fold = bench_fold(data, settings)
    print(
        f"one fold, all strategies: {per_fold:.0f} s; five folds (extrapolated): "
        f"{settings.n_folds * per_fold / 60:.1f} min per feature method"
    )
    if args.whole_run:
        elapsed, _ = timed(lambda: drain(run_protocol({args.method: X}, truth, settings)))
        print(f"whole five-fold run, all strategies: {elapsed / 60:.1f} min")


if __name__ == "__main__":
    main()
