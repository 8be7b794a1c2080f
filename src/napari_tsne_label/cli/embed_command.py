"""``napari-tsne-label embed``: semi-supervised t-SNE of a project's features or of a .npy matrix.

``embed --project P [--features im]`` embeds stored features with the project's labels and saves
the result as embedding ``tsne-<features>-<dims>d``; ``embed --features X.npy [--labels L.npy]
--out Y.npy`` works on any matrix. Both print the final KL divergence.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from napari_tsne_label.errors import UserInputError
from napari_tsne_label.progress import drain_with_tqdm


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``embed`` sub-command to ``subparsers``."""
    parser = subparsers.add_parser(
        "embed",
        help="semi-supervised Barnes-Hut t-SNE of a project's features or of a .npy matrix",
        description="Embed features in 2D or 3D with the paper's semi-supervised t-SNE; labels "
        "(the project's, or --labels) attract same-class and repel other-class points.",
    )
    parser.add_argument("--project", help="project directory (*.ntl.zarr); uses its labels")
    parser.add_argument("--features", default=None,
                        help="with --project: stored feature method (default im); "
                        "without: a .npy (N, D) feature matrix")
    parser.add_argument("--labels", help="without --project: .npy (N,) int labels, -1 unlabeled")
    parser.add_argument("--out", help="without --project: .npy file for the (N, dims) result")
    parser.add_argument("--name", help="with --project: embedding name (default tsne-<features>-<dims>d)")
    parser.add_argument("--dims", type=int, default=3, choices=(2, 3), help="output dimensions (default 3)")
    parser.add_argument("--epochs", type=int, default=1000, help="gradient-descent epochs (default 1000)")
    parser.add_argument("--perplexity", type=float, default=20.0, help="perplexity (default 20)")
    parser.add_argument("--f", type=float, default=0.1, help="labeling importance f (default 0.1)")
    parser.add_argument("--r", type=float, default=0.1, help="repulsion emphasis r (default 0.1)")
    parser.add_argument("--ramp", type=int, default=10,
                        help="epochs over which a new label's weight ramps to 1 (default 10)")
    parser.add_argument("--theta", type=float, default=0.5, help="Barnes-Hut accuracy (default 0.5)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Embed as ``args`` say, save the result, print the final KL divergence."""
    if args.epochs < 0:
        raise UserInputError(f"--epochs must not be negative, got {args.epochs}")
    if args.project:
        return _embed_project(args)
    if not args.features or not args.out:
        raise UserInputError("give either --project P, or --features X.npy with --out Y.npy")
    return _embed_matrix(args)


def _engine(X: np.ndarray, labels: np.ndarray | None, args: argparse.Namespace):
    from napari_tsne_label.tsne import SemiSupervisedTSNE

    engine = SemiSupervisedTSNE(X, n_components=args.dims, perplexity=args.perplexity, f=args.f,
                                r=args.r, ramp_epochs=args.ramp, theta=args.theta, seed=args.seed)
    if labels is not None:
        engine.set_labels(labels)
    drain_with_tqdm(engine.run(args.epochs))
    return engine


def _embed_project(args: argparse.Namespace) -> int:
    from napari_tsne_label.store import Project

    if args.labels or args.out:
        raise UserInputError("--labels and --out are for .npy input; --project uses its own labels")
    method = args.features or "im"
    name = args.name or f"tsne-{method}-{args.dims}d"
    with Project.open(args.project, writable=True) as project:
        if method not in project.features:
            raise UserInputError(
                f"project has no {method!r} features (has: {', '.join(project.features) or 'none'}); "
                f"run: napari-tsne-label extract --project {args.project} --method {method}"
            )
        labels = project.labels
        engine = _engine(project.read_features(method), labels, args)
        engine.save(project, name)
        print(f"KL divergence {engine.kl_divergence():.4f} after {engine.epoch} epochs "
              f"({int((labels >= 0).sum())} labeled); saved as embedding {name!r} in {project.path}")
    return 0


def _embed_matrix(args: argparse.Namespace) -> int:
    X = _load_npy(args.features, "features")
    labels = _load_npy(args.labels, "labels") if args.labels else None
    if labels is not None and labels.shape != (len(X),):
        raise UserInputError(f"--labels has shape {labels.shape}, expected ({len(X)},)")
    engine = _engine(X, labels, args)
    out = Path(args.out)
    np.save(out, engine.positions)
    print(f"KL divergence {engine.kl_divergence():.4f} after {engine.epoch} epochs; "
          f"wrote {len(X)} x {args.dims} positions to {out}")
    return 0


def _load_npy(path: str, what: str) -> np.ndarray:
    """Load a .npy file, turning missing or unreadable files into one-line errors."""
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise UserInputError(f"{what} file {path} does not exist") from None
    except (OSError, ValueError) as err:
        raise UserInputError(f"cannot read {what} file {path} as .npy: {err}") from None
