"""napari-tsne-label: label specialised image sets in tens of actions with semi-supervised t-SNE.

Importing the package loads no Qt and no napari: the core (store, import, features, t-SNE,
emulation) is usable headless; the napari widgets live in :mod:`napari_tsne_label._widgets`.
"""

__version__ = "0.1.0"
