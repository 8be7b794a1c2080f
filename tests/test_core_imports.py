"""The core must stay importable without Qt or napari (widgets are a thin layer on top)."""

import subprocess
import sys

CORE_MODULES = [
    "napari_tsne_label",
    "napari_tsne_label.cli",
    "napari_tsne_label.progress",
    "napari_tsne_label.errors",
    "napari_tsne_label.features.backbones",
    "napari_tsne_label.features.exemplar",
    "napari_tsne_label.features.extraction",
    "napari_tsne_label.cli.extract_command",
    "napari_tsne_label.store",
    "napari_tsne_label.imaging",
    "napari_tsne_label.voc",
    "napari_tsne_label.importing",
    "napari_tsne_label.export",
    "napari_tsne_label.sample_data",
    "napari_tsne_label.cli.project_commands",
    "napari_tsne_label.labeling",
    "napari_tsne_label.emulation.annotator",
    "napari_tsne_label.emulation.classifier",
    "napari_tsne_label.emulation.protocol",
    "napari_tsne_label.emulation.report",
    "napari_tsne_label.tsne",
    "napari_tsne_label.tsne.tree",
    "napari_tsne_label.tsne.affinities",
    "napari_tsne_label.tsne.gradients",
    "napari_tsne_label.tsne.optimizer",
    "napari_tsne_label.tsne.engine",
    "napari_tsne_label.tsne.quality",
    "napari_tsne_label.cli.embed_command",
]


def test_core_modules_load_no_qt_or_napari():
    code = (
        "import importlib, sys\n"
        f"for name in {CORE_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "loaded = sorted(m for m in ('qtpy', 'napari', 'PyQt5', 'PySide6') if m in sys.modules)\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
