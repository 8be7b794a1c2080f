"""Semi-supervised Barnes-Hut t-SNE in numba (pure numpy / numba, no Qt)."""

from napari_tsne_label.tsne.engine import SemiSupervisedTSNE

__all__ = ["SemiSupervisedTSNE"]
