"""The labeling session model: focus, k-NN group, deselection, apply, conflicts, undo/redo, log."""

import numpy as np
import pytest

from napari_tsne_label.errors import UserInputError
from napari_tsne_label.labeling import LabelingSession
from napari_tsne_label.store import Project

N = 12


@pytest.fixture
def project(tmp_path):
    """A writable 12-sample project with classes a, b, c."""
    thumbnails = np.zeros((N, 4, 4, 3), dtype=np.uint8)
    sources = [f"/data/cell_{i}.png" for i in range(N)]
    boxes = np.tile([0, 0, 4, 4], (N, 1))
    truth = np.arange(N) % 3
    with Project.create(tmp_path / "p.ntl.zarr", thumbnails=thumbnails, sources=sources,
                        boxes=boxes, truth=truth, class_names=["a", "b", "c"]) as p:
        yield p


def line_positions():
    """Samples on a line at x = 0, 1, 3, 6, 10, ... so distances from sample 0 increase with index."""
    x = np.cumsum(np.arange(N, dtype=np.float64))
    return np.stack([x, np.zeros(N), np.zeros(N)], axis=1)


def test_group_is_focus_then_nearest_neighbours_in_distance_order(project):
    session = LabelingSession(project, line_positions())
    session.select_focus(5)
    session.set_k(4)
    # x = 0 1 3 6 10 15 21 28 ...: from x=15 the nearest are 10 (5), 21 (6), 6 (9), 3 (12)
    assert session.group.tolist() == [5, 4, 6, 3, 2]
    assert session.selection.tolist() == [5, 4, 6, 3, 2]


def test_deselect_and_reselect_change_selection_not_group(project):
    session = LabelingSession(project, line_positions())
    session.select_focus(0)
    session.set_k(3)
    assert session.toggle(2) is False
    assert session.selection.tolist() == [0, 1, 3]
    assert session.deselected.tolist() == [2]
    assert session.toggle(2) is True
    assert session.selection.tolist() == [0, 1, 2, 3]


def test_toggle_outside_the_group_is_refused(project):
    session = LabelingSession(project, line_positions())
    session.select_focus(0)
    session.set_k(2)
    with pytest.raises(UserInputError, match="^sample 9 is not in the current group$"):
        session.toggle(9)


def test_shrinking_k_forgets_deselections_outside_the_group(project):
    session = LabelingSession(project, line_positions())
    session.select_focus(0)
    session.set_k(5)
    session.toggle(4)
    session.set_k(2)
    assert session.deselected.tolist() == []
    session.set_k(5)
    assert session.selection.tolist() == [0, 1, 2, 3, 4, 5]


def test_apply_labels_selection_and_logs_every_action_in_order(project):
    session = LabelingSession(project, line_positions())
    session.select_focus(0)
    session.set_k(3)
    session.toggle(2)
    applied = session.apply(1)
    assert applied.tolist() == [0, 1, 3]
    expected = np.full(N, -1)
    expected[[0, 1, 3]] = 1
    np.testing.assert_array_equal(project.labels, expected)
    actions = project.actions()
    assert [a.kind for a in actions] == ["focus", "slider", "deselect", "label"]
    assert actions[0].indices == (0,)
    assert actions[1].value == 3
    assert actions[2].indices == (2,)
    assert actions[3].indices == (0, 1, 3) and actions[3].label == 1
    assert session.action_count == 4
    assert session.focus is None and session.group.size == 0


def test_slider_preview_is_not_logged_and_unchanged_k_logs_once(project):
    session = LabelingSession(project, line_positions())
    session.select_focus(0)
    session.set_k(2, log=False)
    session.set_k(3, log=False)
    session.set_k(4)
    session.set_k(4)
    assert [a.kind for a in project.actions()] == ["focus", "slider"]
    assert project.actions()[1].value == 4


def test_labeled_samples_are_kept_and_reported_as_conflicts(project):
    session = LabelingSession(project, line_positions())
    project.apply_label([1, 2], 0)
    session.select_focus(0)
    session.set_k(3)
    conflict = session.conflicts(2)
    assert conflict.indices.tolist() == [1, 2] and conflict.labels.tolist() == [0, 0]
    assert len(session.conflicts(0)) == 0
    assert session.apply(2).tolist() == [0, 3]
    assert project.labels[:4].tolist() == [2, 0, 0, 2]


def test_overwrite_relabels_conflicts_but_not_same_label(project):
    session = LabelingSession(project, line_positions())
    project.apply_label([1], 0)
    project.apply_label([2], 2)
    session.select_focus(0)
    session.set_k(3)
    assert session.apply(2, overwrite=True).tolist() == [0, 1, 3]
    assert project.labels[:4].tolist() == [2, 2, 2, 2]


def test_apply_with_nothing_to_label_is_refused(project):
    session = LabelingSession(project, line_positions())
    with pytest.raises(UserInputError, match="^nothing is selected: pick a focus sample first$"):
        session.apply(0)
    project.apply_label([0, 1], 0)
    session.select_focus(0)
    session.set_k(1)
    with pytest.raises(UserInputError, match="choose overwrite to relabel them$"):
        session.apply(1)
    with pytest.raises(UserInputError, match="^no class 7: the project has 3 classes$"):
        session.apply(7)


def test_undo_redo_survive_reopening(project, tmp_path):
    session = LabelingSession(project, line_positions())
    session.select_focus(0)
    session.set_k(2)
    session.apply(0)
    session.select_focus(6)
    session.set_k(1)
    session.apply(1)
    assert session.undo().tolist() == [5, 6]
    assert project.labels[[0, 1, 2, 5, 6]].tolist() == [0, 0, 0, -1, -1]
    path = project.path
    kinds = [a.kind for a in project.actions()]
    project.close()
    with Project.open(path, writable=True) as reopened:
        np.testing.assert_array_equal(reopened.labels[[0, 1, 2, 5, 6]], [0, 0, 0, -1, -1])
        assert [a.kind for a in reopened.actions()] == kinds
        resumed = LabelingSession(reopened, line_positions())
        assert resumed.redo().tolist() == [5, 6]
        assert reopened.labels[[5, 6]].tolist() == [1, 1]
        assert resumed.action_count == len(kinds) + 1


def test_add_and_rename_class_then_label_with_it(project):
    session = LabelingSession(project, line_positions())
    new = session.add_class("platelet")
    session.rename_class(0, "RBC")
    assert new == 3
    assert project.class_names == ["RBC", "b", "c", "platelet"]
    session.select_focus(3)
    assert session.apply(new).tolist() == [3]


def test_focus_needs_positions_and_valid_index(project):
    session = LabelingSession(project)
    with pytest.raises(UserInputError, match="^the map has no positions yet"):
        session.select_focus(0)
    session.set_positions(line_positions())
    with pytest.raises(UserInputError, match=r"^sample 12 does not exist \(0..11\)$"):
        session.select_focus(12)
    with pytest.raises(ValueError, match=r"positions must have shape \(12, d\)"):
        session.set_positions(np.zeros((3, 2)))


def clustered_map(rng):
    """12 samples: map clusters A = 0..5 (features alike), B = 6..11 (features of two kinds).

    Returns positions (12, 3) and features (12, 8).
    """
    centres = np.repeat([[0.0, 0.0, 0.0], [100.0, 0.0, 0.0]], 6, axis=0)
    positions = centres + rng.normal(scale=0.5, size=(N, 3))
    kinds = np.array([0] * 6 + [1, 2] * 3)
    features = np.eye(8)[kinds] + rng.normal(scale=0.01, size=(N, 8))
    return positions, features


def test_feature_clusters_recover_separated_groups():
    from napari_tsne_label.labeling import feature_clusters

    rng = np.random.default_rng(1)
    kinds = np.repeat([0, 1, 2], 20)
    features = np.eye(5)[kinds] * 3 + rng.normal(scale=0.05, size=(60, 5))
    clusters = feature_clusters(features, n_clusters=3)
    assert clusters.shape == (60,) and clusters.dtype == np.int64
    for kind in range(3):
        assert len(np.unique(clusters[kinds == kind])) == 1
    assert len(np.unique(clusters)) == 3


def test_suggestion_prefers_the_homogeneous_unlabeled_cluster(project):
    positions, features = clustered_map(np.random.default_rng(0))
    session = LabelingSession(project, positions)
    assert session.suggest_focus(features, n_clusters=3) in range(6)
    project.apply_label(range(6), 0)
    assert session.suggest_focus(features, n_clusters=3) in range(6, 12)
    assert project.actions()[-1].kind == "label"


def test_suggestion_with_everything_labeled_is_refused(project):
    positions, features = clustered_map(np.random.default_rng(0))
    project.apply_label(range(N), 1)
    with pytest.raises(UserInputError, match="^every sample is labeled: nothing left to suggest$"):
        LabelingSession(project, positions).suggest_focus(features)
