"""``napari-tsne-label emulate``: the paper's Table 2 on a project (emulated t-SNE labeling
against uncertainty sampling, five-fold)."""

from __future__ import annotations

import argparse
from pathlib import Path

from napari_tsne_label.emulation.protocol import ALL_STRATEGIES, ProtocolSettings, TSNESettings
from napari_tsne_label.errors import UserInputError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``emulate`` sub-command to ``subparsers``."""
    defaults, tsne = ProtocolSettings(), TSNESettings()
    parser = subparsers.add_parser(
        "emulate",
        help="compare emulated t-SNE labeling with uncertainty sampling (Table 2)",
        description="Emulate an annotator labeling through semi-supervised t-SNE (Algorithm 1) "
        "and compare it with active learning by uncertainty sampling, by cross-validation. "
        "Writes curves.csv, steps.csv, summary.csv, full_accuracy.csv, summary.txt, curves.png.",
    )
    parser.add_argument("--project", required=True, help="project directory (*.ntl.zarr)")
    parser.add_argument("--out", required=True, help="output directory (created if needed)")
    parser.add_argument(
        "--methods", default="im", help="feature methods, comma-separated (default im)"
    )
    parser.add_argument(
        "--strategies",
        default=",".join(ALL_STRATEGIES),
        help=f"comma-separated, from {','.join(ALL_STRATEGIES)} (default all)",
    )
    parser.add_argument(
        "--f", type=float, default=tsne.f, help=f"labeling importance (default {tsne.f})"
    )
    parser.add_argument(
        "--r", type=float, default=tsne.r, help=f"repulsion emphasis (default {tsne.r})"
    )
    parser.add_argument(
        "--K",
        type=int,
        default=tsne.ramp_epochs,
        help=f"point learning-rate ramp in epochs (default {tsne.ramp_epochs})",
    )
    parser.add_argument(
        "--start",
        type=int,
        default=tsne.start_epoch,
        help=f"labeling start epoch s (default {tsne.start_epoch})",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=tsne.max_epochs,
        help=f"last t-SNE epoch e_max (default {tsne.max_epochs})",
    )
    parser.add_argument(
        "--folds",
        type=int,
        default=defaults.n_folds,
        help=f"cross-validation folds (default {defaults.n_folds})",
    )
    parser.add_argument(
        "--max-actions",
        type=int,
        default=defaults.max_actions,
        help=f"evaluation horizon in actions (default {defaults.max_actions})",
    )
    parser.add_argument(
        "--retrain-epochs",
        type=int,
        default=defaults.retrain_epochs,
        help=f"classifier epochs per round (default {defaults.retrain_epochs})",
    )
    parser.add_argument(
        "--full-epochs",
        type=int,
        default=defaults.full_epochs,
        help=f"epochs of the all-labels classifier (default {defaults.full_epochs})",
    )
    parser.add_argument(
        "--target",
        type=float,
        default=defaults.target_fraction,
        help="summary target as a share of full-labeling accuracy (default 0.8)",
    )
    parser.add_argument("--seed", type=int, default=defaults.seed, help="random seed (default 0)")
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=1,
        help="torch threads for the classifier (default 1: fastest on shared cores)",
    )
    parser.set_defaults(func=run)


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def settings_from_args(args: argparse.Namespace) -> ProtocolSettings:
    """The protocol settings given on the command line."""
    counts = ("K", "start", "epochs", "folds", "max_actions", "retrain_epochs", "full_epochs")
    for name in counts:
        if getattr(args, name) < 0:
            raise UserInputError(f"--{name.replace('_', '-')} must not be negative")
    if not 0 < args.target <= 1:
        raise UserInputError(f"--target must be in (0, 1], got {args.target}")
    tsne = TSNESettings(
        f=args.f, r=args.r, ramp_epochs=args.K, start_epoch=args.start, max_epochs=args.epochs
    )
    return ProtocolSettings(
        strategies=tuple(_names(args.strategies)),
        n_folds=args.folds,
        seed=args.seed,
        max_actions=args.max_actions,
        retrain_epochs=args.retrain_epochs,
        full_epochs=args.full_epochs,
        torch_threads=args.torch_threads,
        target_fraction=args.target,
        tsne=tsne,
    )


def read_inputs(project_path: str, methods: list[str]):
    """Feature matrices ({method: (N, D)}), truth (N,) of a project; a missing method is a
    one-line error naming the ``extract`` command."""
    from napari_tsne_label.store import Project

    with Project.open(project_path) as project:
        for method in methods:
            if method not in project.features:
                raise UserInputError(
                    f"project has no {method!r} features: run `napari-tsne-label extract "
                    f"--project {project_path} --method {method}` first"
                )
        return {m: project.read_features(m) for m in methods}, project.truth


def run(args: argparse.Namespace) -> int:
    """Run the protocol on the project, write the report and print the summary table."""
    from napari_tsne_label.emulation.protocol import run_protocol
    from napari_tsne_label.emulation.report import format_table, write_report
    from napari_tsne_label.progress import drain_with_tqdm

    settings = settings_from_args(args)
    methods = _names(args.methods)
    if not methods:
        raise UserInputError("--methods names no feature method")
    features, truth = read_inputs(args.project, methods)
    result = drain_with_tqdm(run_protocol(features, truth, settings))
    paths = write_report(Path(args.out), result)
    print(format_table(result))
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    return 0
