"""The ``napari-tsne-label`` command: headless and scripted use of every part of the plugin.

Each command group lives in its own module exposing ``register(subparsers)``; this module only
wires them together and turns :class:`~napari_tsne_label.errors.UserInputError` into one line.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from napari_tsne_label.errors import UserInputError

COMMAND_MODULES = (
    "napari_tsne_label.cli.project_commands",
    "napari_tsne_label.cli.extract_command",
    "napari_tsne_label.cli.embed_command",
    "napari_tsne_label.cli.emulate_command",
    "napari_tsne_label.cli.demo_command",
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered sub-command."""
    parser = argparse.ArgumentParser(
        prog="napari-tsne-label",
        description="Label microscopy image sets in tens of actions with semi-supervised t-SNE.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name != name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse ``argv``, run the command, return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        status = args.func(args)
    except UserInputError as err:
        print(f"napari-tsne-label {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"napari-tsne-label {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(status or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
