"""Semi-supervised Barnes-Hut t-SNE in numba (pure numpy / numba, no Qt)."""
