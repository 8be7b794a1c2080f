"""How long the live t-SNE worker can keep napari's GUI thread from running, at N = 3,000.

The workspace steps the engine in a ``thread_worker``; the GUI thread can only draw while the
worker does not hold Python's GIL. This runs the engine in a thread exactly as the worker does
(``epochs_per_update`` epochs per step) while the main thread ticks every 5 ms, and prints the
longest and the 99th-percentile gap between ticks (target: no gap above about 100 ms) next to
the time of one step. Usage: ``python benchmarks/bench_gui_responsiveness.py [N] [steps]``.
"""

from __future__ import annotations

import sys
import threading
import time

import numpy as np

from napari_tsne_label.tsne.engine import SemiSupervisedTSNE

TICK_S = 0.005
TARGET_GAP_MS = 100.0


def clustered_features(n: int, dims: int = 50, n_classes: int = 4, seed: int = 0) -> tuple:
    """(n, dims) Gaussian clusters and their (n,) class labels."""
    rng = np.random.default_rng(seed)
    truth = np.arange(n) % n_classes
    centres = rng.normal(scale=4.0, size=(n_classes, dims))
    return centres[truth] + rng.normal(size=(n, dims)), truth


def main(n: int = 3000, steps: int = 40, epochs_per_update: int = 2) -> None:
    """Measure GUI-thread gaps while the engine runs ``steps`` worker steps in a thread."""
    X, truth = clustered_features(n)
    engine = SemiSupervisedTSNE(X, n_components=3)
    engine.step(epochs_per_update)  # compile outside the measurement
    labels = np.where(np.arange(n) % 10 == 0, truth, -1)
    step_times: list[float] = []

    def worker() -> None:
        for _ in range(steps):
            start = time.perf_counter()
            engine.set_labels(labels)
            engine.step(epochs_per_update)
            step_times.append(time.perf_counter() - start)

    thread = threading.Thread(target=worker)
    gaps = []
    thread.start()
    last = time.perf_counter()
    while thread.is_alive():
        time.sleep(TICK_S)
        now = time.perf_counter()
        gaps.append(now - last - TICK_S)
        last = now
    thread.join()
    gaps_ms = np.maximum(np.array(gaps), 0) * 1000
    print(f"N = {n}, {steps} steps of {epochs_per_update} epochs: "
          f"{1000 * np.mean(step_times):.0f} ms per step in the worker")
    print(f"GUI-thread gap: max {gaps_ms.max():.0f} ms, 99th percentile "
          f"{np.percentile(gaps_ms, 99):.0f} ms, median {np.median(gaps_ms):.1f} ms "
          f"(target: max below {TARGET_GAP_MS:.0f} ms -> "
          f"{'met' if gaps_ms.max() < TARGET_GAP_MS else 'NOT met'})")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
