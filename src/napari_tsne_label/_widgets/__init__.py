"""napari dock widgets (Qt): thin views on the per-viewer labeling :class:`workspace.Workspace`."""
