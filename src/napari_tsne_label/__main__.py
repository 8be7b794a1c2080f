"""``python -m napari_tsne_label`` runs the command-line interface."""

import sys

from napari_tsne_label.cli import main

sys.exit(main())
