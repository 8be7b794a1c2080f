"""``napari-tsne-label extract``: compute a feature matrix of a project (Table 1 methods)."""

from __future__ import annotations

import argparse

from napari_tsne_label.features.backbones import DEFAULT_BACKBONE
from napari_tsne_label.features.extraction import (
    DEFAULT_EPOCHS,
    METHODS,
    ExtractionSettings,
    extract,
    stored_features_match,
)
from napari_tsne_label.progress import drain_with_tqdm


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``extract`` sub-command to ``subparsers``."""
    parser = subparsers.add_parser(
        "extract",
        help="extract features (pix, pre, rn, im, tf, tr) of a project's thumbnails",
        description="Extract and store a project's features; equal settings reuse stored ones.",
    )
    parser.add_argument("--project", required=True, help="project directory (*.ntl.zarr)")
    parser.add_argument("--method", required=True, choices=METHODS,
                        help="pix: pixels; pre: normalised pixels; rn: random CNN + Exemplar layer; "
                        "im: ImageNet CNN; tf: Transfer-Frozen (Exemplar layer on the frozen CNN); "
                        "tr: Transfer (CNN trained too)")
    parser.add_argument("--backbone", default=DEFAULT_BACKBONE, help="timm model name")
    parser.add_argument("--weights", help="local checkpoint file for the backbone")
    parser.add_argument("--download", action="store_true",
                        help="allow timm to download pretrained weights for a non-default backbone")
    parser.add_argument("--input-size", type=int, help="CNN input size in pixels (default: the backbone's)")
    parser.add_argument("--pix-size", type=int, default=32, help="side of pix/pre features (default 32)")
    parser.add_argument("--epochs", type=int,
                        help="Exemplar training epochs (default: "
                        + ", ".join(f"{m} {e}" for m, e in DEFAULT_EPOCHS.items()) + ")")
    parser.add_argument("--batch-size", type=int, default=64, help="images per batch (default 64)")
    parser.add_argument("--angles", type=int, default=36, help="rotation angles in a full turn (default 36)")
    parser.add_argument("--scheduler", help="dask.distributed scheduler address to run batches on")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Extract the features named by ``args`` into the project and print their shape."""
    from napari_tsne_label.store import Project

    settings = ExtractionSettings(
        method=args.method,
        backbone=args.backbone,
        weights=args.weights,
        download=args.download,
        input_size=args.input_size,
        pix_size=args.pix_size,
        batch_size=args.batch_size,
        epochs=args.epochs,
        n_angles=args.angles,
        seed=args.seed,
    )
    with Project.open(args.project, writable=True) as project:
        reused = stored_features_match(project, settings)
        features = drain_with_tqdm(extract(project, settings, scheduler=args.scheduler))
        verb = "reused" if reused else "stored"
        print(f"{args.method} features {features.shape[0]} x {features.shape[1]} {verb} in "
              f"{project.path} (features/{args.method})")
    return 0
