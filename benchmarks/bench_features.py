"""Feature extraction benchmark on the bundled blood-cell sample (paper Table 1, blood column).

Prints, in one run:
1. images/s of the ``im`` pipeline (lazy Zarr reads through dask, preprocessing, forward) against
   a bare torch forward of the same backbone and batch size on ready tensors; target ratio >= 0.90;
2. TF training time with the frozen-backbone feature cache against without it (same draws);
3. 4-NN accuracy (mean +- std over 5 folds) in a 3D t-SNE of each method's features.

    python benchmarks/bench_features.py [--samples 0] [--input-size 128] [--epochs-tf 10] ...
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from napari_tsne_label.features.backbones import create_backbone
from napari_tsne_label.features.exemplar import ExemplarConfig, train_exemplar
from napari_tsne_label.features.extraction import (
    METHODS,
    BatchExtractor,
    ExtractionSettings,
    extract,
    extract_batches,
)
from napari_tsne_label.importing import import_folder
from napari_tsne_label.progress import drain
from napari_tsne_label.sample_data import sample_folder
from napari_tsne_label.store import Project
from napari_tsne_label.tsne import SemiSupervisedTSNE
from napari_tsne_label.tsne.quality import knn_accuracy


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=0, help="stratified subsample (0 = all 2400)")
    parser.add_argument("--input-size", type=int, default=128, help="CNN input size (default 128)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--throughput-images", type=int, default=640, help="images timed per repeat")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved timing repeats")
    parser.add_argument("--cache-samples", type=int, default=240, help="samples in the cache timing")
    parser.add_argument("--epochs-rn", type=int, default=10)
    parser.add_argument("--epochs-tf", type=int, default=10)
    parser.add_argument("--epochs-tr", type=int, default=3)
    parser.add_argument("--tsne-epochs", type=int, default=750)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--parts", nargs="+", default=list(PARTS), choices=PARTS)
    return parser.parse_args()


def import_sample(folder: Path, samples: int) -> Path:
    """Import the blood-cell crops (128-px thumbnails) into a new project under ``folder``."""
    project = drain(import_folder(sample_folder("blood-cells"), folder / "blood.ntl.zarr",
                                  max_samples=samples, size=128))
    path = project.path
    project.close()
    return path


def seconds(fn) -> float:
    """Wall-clock seconds of calling ``fn()``."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def throughput(project, args) -> None:
    """Pipeline images/s vs a bare forward pass on ready tensors, same model and batch size."""
    model, preprocessing = create_backbone()
    n = min(args.throughput_images, project.n_samples)
    thumbnails = project.thumbnails_dask()[:n]
    extractor = BatchExtractor(preprocessing, args.input_size, model)
    starts = range(0, n, args.batch_size)
    # the very tensors the pipeline feeds the model (NHWC-strided, as converted from the store)
    ready = [preprocessing.to_tensor(project.thumbnails[i:i + args.batch_size], args.input_size)
             for i in starts]
    contiguous = [x.contiguous() for x in ready]

    def bare(batches) -> None:
        with torch.inference_mode():
            for x in batches:
                model(x)

    def pipeline() -> None:
        drain(extract_batches(thumbnails, extractor, args.batch_size))

    bare(ready)  # warm-up
    rates: dict[str, list[float]] = {"pipeline": [], "bare": [], "bare NCHW-contiguous": []}
    for _ in range(args.repeats):
        rates["pipeline"].append(n / seconds(pipeline))
        rates["bare"].append(n / seconds(lambda: bare(ready)))
        rates["bare NCHW-contiguous"].append(n / seconds(lambda: bare(contiguous)))
    rate = {name: statistics.median(values) for name, values in rates.items()}
    print(f"im throughput, {n} images, batch {args.batch_size}, {args.input_size} px, "
          f"{torch.get_num_threads()} torch threads (medians of {args.repeats} interleaved repeats):")
    print("  " + ", ".join(f"{name} {value:.1f} img/s" for name, value in rate.items()))
    print(f"  pipeline / bare forward = {rate['pipeline'] / rate['bare']:.3f} (target >= 0.90); "
          f"pipeline / bare NCHW-contiguous = {rate['pipeline'] / rate['bare NCHW-contiguous']:.3f}")


def cache_speedup(project, args) -> None:
    """TF head training time with and without the frozen-backbone cache (same rotation draws)."""
    n = min(args.cache_samples, project.n_samples)
    rows = np.random.default_rng(0).choice(project.n_samples, n, replace=False)
    thumbnails = project.thumbnails[:][np.sort(rows)]
    config = ExemplarConfig(epochs=args.epochs_tf, batch_size=args.batch_size)
    times, losses = {}, {}
    for use_cache in (True, False):
        model, preprocessing = create_backbone()
        start = time.perf_counter()
        result = drain(train_exemplar(model, thumbnails, preprocessing, train_backbone=False,
                                      use_cache=use_cache, config=config, input_size=args.input_size))
        times[use_cache] = time.perf_counter() - start
        losses[use_cache] = result.losses
    gap = np.max(np.abs(np.array(losses[True]) - np.array(losses[False])))
    print(f"TF training, {n} samples, {args.epochs_tf} epochs, {config.n_angles} angles: "
          f"cached {times[True]:.1f} s, uncached {times[False]:.1f} s, "
          f"speed-up {times[False] / times[True]:.2f}x (max loss difference {gap:.1e})")
    print(f"  loss per epoch: {' '.join(f'{v:.3f}' for v in losses[True])}")


def table(project, args) -> None:
    """4-NN accuracy in a 3D t-SNE of every method's features, with extraction times."""
    truth = project.truth
    epochs = {"rn": args.epochs_rn, "tf": args.epochs_tf, "tr": args.epochs_tr}
    print(f"4-NN accuracy in 3D t-SNE ({args.tsne_epochs} epochs), {project.n_samples} samples:")
    for method in args.methods:
        settings = ExtractionSettings(method, input_size=args.input_size, batch_size=args.batch_size,
                                      epochs=epochs.get(method))
        start = time.perf_counter()
        features = drain(extract(project, settings))
        took = time.perf_counter() - start
        embedding = drain(SemiSupervisedTSNE(features, n_components=3, seed=0).run(args.tsne_epochs))
        mean, std = knn_accuracy(embedding, truth, k=4, n_folds=5)
        print(f"  {method:>3}: {100 * mean:5.1f} +- {100 * std:4.1f} %   features {features.shape}, "
              f"extracted in {took:.0f} s", flush=True)


PARTS = {"throughput": throughput, "cache": cache_speedup, "table": table}


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = import_sample(Path(folder), args.samples)
        with Project.open(path, writable=True) as project:
            for part in args.parts:
                PARTS[part](project, args)


if __name__ == "__main__":
    main()
