"""The Emulation dock runs the protocol in a worker, animates the map and plots the curves."""

import numpy as np
import pytest

from napari_tsne_label._widgets.emulation_widget import EMULATION_LAYER, EmulationWidget
from napari_tsne_label._widgets.workspace import Workspace

pytestmark = pytest.mark.gui


def test_emulation_dock_runs_protocol_and_shows_live_results(make_napari_viewer, tmp_path, qtbot):
    from test_widgets import make_project

    viewer = make_napari_viewer()
    widget = EmulationWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Emulation")
    workspace = Workspace.of(viewer)
    workspace.open_project(make_project(tmp_path / "emu.ntl.zarr", n=60))
    assert list(widget.method_checks) == ["im"] and widget.method_checks["im"].isChecked()
    for strategy, check in widget.strategy_checks.items():
        check.setChecked(strategy in ("tsne", "random"))
    widget.folds.setValue(2)
    widget.max_actions.setValue(10)
    widget.start_epoch.setValue(10)
    widget.max_epochs.setValue(40)
    with qtbot.waitSignal(widget.run_button.clicked, timeout=1000):
        widget.run_button.click()
    assert widget.worker is not None
    qtbot.waitUntil(lambda: widget.worker is None, timeout=90000)
    result = widget.result
    assert result is not None and result.settings.n_folds == 2
    assert {(m, s) for m, s, _ in widget.curves} == {("im", "tsne"), ("im", "random")}
    assert {f for _, _, f in widget.curves} == {0, 1}
    assert sum(len(v) for v in widget.curves.values()) == len(result.curves)
    emulated = viewer.layers[EMULATION_LAYER]
    assert emulated.data.shape == (30, 3)
    assert np.all(np.isin(emulated.features["index"], np.arange(60)))
    assert widget.table.text().startswith("Actions to reach 80% of full-labeling accuracy")
    assert len(widget.axes.lines) == len(widget.curves)
    assert np.all(workspace.project.labels == -1)
    workspace.close_project()
