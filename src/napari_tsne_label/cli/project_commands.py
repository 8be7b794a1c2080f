"""``napari-tsne-label import | info | export``: make a project, describe it, take its data out."""

from __future__ import annotations

import argparse
from collections import Counter

from napari_tsne_label.errors import UserInputError
from napari_tsne_label.progress import drain_with_tqdm

MAX_LISTED_SKIPS = 20


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``import``, ``info`` and ``export`` sub-commands to ``subparsers``."""
    from napari_tsne_label.importing import DEFAULT_MAX_SAMPLES, DEFAULT_SIZE
    from napari_tsne_label.sample_data import SAMPLES

    parser = subparsers.add_parser(
        "import",
        help="import a class-folder, flat or Pascal-VOC image set into a new project",
        description="Import images into a new project (*.ntl.zarr). Class sub-folders give ground "
        "truth; a Pascal-VOC set (JPEGImages + Annotations) gives one sample per object box.",
    )
    parser.add_argument(
        "source", nargs="?", help="image folder (class folders, flat or Pascal-VOC)"
    )
    parser.add_argument(
        "--sample", choices=SAMPLES, help="import a bundled sample instead of SOURCE"
    )
    parser.add_argument("--project", required=True, help="new project directory (*.ntl.zarr)")
    parser.add_argument(
        "--max-samples",
        type=int,
        default=DEFAULT_MAX_SAMPLES,
        help=f"class-stratified subsample to at most this many (0: all; default "
        f"{DEFAULT_MAX_SAMPLES})",
    )
    parser.add_argument("--seed", type=int, default=0, help="subsampling seed (default 0)")
    parser.add_argument(
        "--size",
        type=int,
        default=DEFAULT_SIZE,
        help=f"thumbnail side in pixels (default {DEFAULT_SIZE})",
    )
    parser.set_defaults(func=run_import)

    parser = subparsers.add_parser(
        "info",
        help="describe a project: samples, classes, labels, features",
        description="Print a project's samples, classes, labels, features and embeddings.",
    )
    parser.add_argument("project", help="project directory (*.ntl.zarr)")
    parser.set_defaults(func=run_info)

    parser = subparsers.add_parser(
        "export",
        help="write labels CSV and feature/embedding .npy files",
        description="Write labels.csv and features/<method>.npy, "
        "embeddings/<name>.npy (same row order) into a folder.",
    )
    parser.add_argument("project", help="project directory (*.ntl.zarr)")
    parser.add_argument("--out", required=True, help="output folder (created if missing)")
    parser.set_defaults(func=run_export)


def run_import(args: argparse.Namespace) -> int:
    """Import SOURCE (or the bundled sample) into a new project and print what was imported."""
    from napari_tsne_label.importing import import_folder
    from napari_tsne_label.sample_data import sample_folder

    if (args.source is None) == (args.sample is None):
        raise UserInputError("give either a SOURCE folder or --sample NAME, not both or neither")
    source = sample_folder(args.sample) if args.sample else args.source
    if args.max_samples < 0:
        raise UserInputError(f"--max-samples must be 0 (all) or positive, got {args.max_samples}")
    with drain_with_tqdm(
        import_folder(
            source, args.project, max_samples=args.max_samples, seed=args.seed, size=args.size
        )
    ) as project:
        print(f"imported {project.n_samples} samples into {project.path}")
        for line in import_report_lines(project.import_report):
            print(line)
        print()
        for line in info_lines(project):
            print(line)
    return 0


def run_info(args: argparse.Namespace) -> int:
    """Print the description of a project (opened read-only, so a running session is fine)."""
    from napari_tsne_label.store import Project

    with Project.open(args.project) as project:
        for line in info_lines(project):
            print(line)
    return 0


def run_export(args: argparse.Namespace) -> int:
    """Export labels and matrices of a project and list the files written."""
    from napari_tsne_label.export import export_project
    from napari_tsne_label.store import Project

    with Project.open(args.project) as project:
        for path in export_project(project, args.out):
            print(f"wrote {path}")
    return 0


def import_report_lines(report: dict) -> list[str]:
    """Human-readable lines for an import report: source kind, box faults, skipped files."""
    lines = [
        f"source: {report['kind']} at {report['root']} ({report['images']} images, "
        f"{report['samples_found']} samples found)"
    ]
    faults = {kind: count for kind, count in report.get("box_faults", {}).items() if count}
    if report["kind"] == "voc":
        listed = ", ".join(f"{kind} {count}" for kind, count in faults.items()) or "none"
        lines.append(f"box faults: {listed}")
    skipped = report.get("skipped", [])
    lines.append(f"skipped files: {len(skipped)}")
    lines.extend(f"  {item['path']}: {item['reason']}" for item in skipped[:MAX_LISTED_SKIPS])
    if len(skipped) > MAX_LISTED_SKIPS:
        lines.append(f"  ... and {len(skipped) - MAX_LISTED_SKIPS} more")
    return lines


def info_lines(project) -> list[str]:
    """Lines describing ``project``: samples, classes with truth/label counts, matrices."""
    labels = project.labels
    truth_counts = Counter(project.truth.tolist())
    label_counts = Counter(labels.tolist())
    size = project.thumbnail_size
    lines = [
        f"project: {project.path}",
        f"samples: {project.n_samples} (thumbnails {size}x{size})",
        f"labeled: {int((labels >= 0).sum())} of {project.n_samples}",
        f"classes: {len(project.class_names)}",
    ]
    width = max((len(name) for name in project.class_names), default=0)
    lines.extend(
        f"  {i}: {name:<{width}}  truth {truth_counts.get(i, 0):>6}  labeled "
        f"{label_counts.get(i, 0):>6}"
        for i, name in enumerate(project.class_names)
    )
    if truth_counts.get(-1):
        lines.append(f"  ground truth unknown for {truth_counts[-1]} samples")
    for kind, shapes in (("features", project.features), ("embeddings", project.embeddings)):
        listed = ", ".join(
            f"{name} {' x '.join(map(str, shape))}" for name, shape in shapes.items()
        )
        lines.append(f"{kind}: {listed or 'none'}")
    return lines
