"""The dispatcher imports only the asked-for command's module, so light commands start fast."""

import subprocess
import sys

import pytest

from napari_tsne_label.cli import COMMAND_MODULES, build_parser


def test_light_commands_do_not_import_torch(tmp_path):
    code = (
        "import sys\n"
        "from napari_tsne_label.cli import main\n"
        f"status = main(['info', {str(tmp_path / 'missing.ntl.zarr')!r}])\n"
        "print(status, 'torch' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["2", "False"]


def test_full_parser_lists_every_command(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    listed = capsys.readouterr().out
    for command in COMMAND_MODULES:
        assert f"    {command} " in listed
