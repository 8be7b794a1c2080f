"""Annotation emulation (Algorithm 1) and the active-learning evaluation of section 4.

``annotator`` emulates a user labeling through the live t-SNE map, ``classifier`` holds the
section-4 MLP and uncertainty scores, ``protocol`` the five-fold comparison and ``report`` its
CSV, table and plots. All of it is pure numpy / numba / torch, without Qt or napari.
"""
