"""The ``napari-tsne-label`` command: headless and scripted use of every part of the plugin.

Each command group lives in its own module exposing ``register(subparsers)``; this module only
wires them together and turns :class:`~napari_tsne_label.errors.UserInputError` into one line.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Sequence
from typing import NoReturn

from napari_tsne_label.errors import UserInputError

COMMAND_MODULES = {
    "import": "napari_tsne_label.cli.project_commands",
    "info": "napari_tsne_label.cli.project_commands",
    "export": "napari_tsne_label.cli.project_commands",
    "extract": "napari_tsne_label.cli.extract_command",
    "embed": "napari_tsne_label.cli.embed_command",
    "emulate": "napari_tsne_label.cli.emulate_command",
    "demo": "napari_tsne_label.cli.demo_command",
}
"""Which module registers each sub-command; only the one asked for is imported (torch is slow)."""


class OneLineErrorParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (with a pointer to --help), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _one_line_warning(message: Warning | str, category: type[Warning], *args: object, **kwargs: object) -> str:
    """Warnings as ``napari-tsne-label: warning: MESSAGE`` lines, without source paths."""
    return f"napari-tsne-label: warning: {message}\n"


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser with ``command``'s module registered, or every module's if None."""
    parser = OneLineErrorParser(
        prog="napari-tsne-label",
        description="Label microscopy image sets in tens of actions with semi-supervised t-SNE.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    wanted = [COMMAND_MODULES[command]] if command in COMMAND_MODULES else COMMAND_MODULES.values()
    for name in dict.fromkeys(wanted):
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse ``argv``, run the command, return the exit status."""
    warnings.formatwarning = _one_line_warning
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv[0] if argv else None).parse_args(argv)
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
