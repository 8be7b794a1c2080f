"""The project store: round trips, the action log as truth, undo/redo, lock, crash safety."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import zarr

from conftest import make_project
from napari_tsne_label.errors import UserInputError
from napari_tsne_label.store import LOG_NAME, Project


def test_create_then_open_round_trips_every_array(tmp_path):
    path = tmp_path / "p.ntl.zarr"
    rng = np.random.default_rng(20)
    expected_thumbnails = rng.integers(0, 256, size=(20, 8, 8, 3), dtype=np.uint8)
    make_project(path).close()
    with Project.open(path) as proj:
        assert proj.n_samples == 20
        assert proj.thumbnail_size == 8
        assert proj.thumbnails.shape == (20, 8, 8, 3)
        assert proj.thumbnails.dtype == np.uint8
        np.testing.assert_array_equal(proj.thumbnails[:], expected_thumbnails)
        np.testing.assert_array_equal(proj.thumbnails_dask().compute(), expected_thumbnails)
        assert proj.sources[3] == "/data/img_003.png"
        assert proj.boxes.dtype == np.int32
        np.testing.assert_array_equal(proj.boxes[5], [5, 5, 13, 13])
        np.testing.assert_array_equal(proj.truth, np.arange(20) % 3)
        assert proj.class_names == ["a", "b", "c"]
        np.testing.assert_array_equal(proj.labels, np.full(20, -1))
        assert proj.import_report == {"kind": "synthetic"}
        assert proj.actions() == []


def test_group_carries_schema_version(project):
    group = zarr.open_group(project.path, mode="r")
    assert group.attrs["napari_tsne_label"] == {"schema_version": 1}


def test_create_refuses_existing_path(tmp_path):
    path = tmp_path / "p.ntl.zarr"
    make_project(path).close()
    with pytest.raises(UserInputError, match="already exists; choose a new --project path"):
        make_project(path)


def test_create_needs_the_project_suffix_and_makes_parent_folders(tmp_path):
    with pytest.raises(UserInputError, match="a project path must end in .ntl.zarr, got p.zarr"):
        make_project(tmp_path / "p.zarr")
    make_project(tmp_path / "new" / "sub" / "p.ntl.zarr").close()
    assert Project.open(tmp_path / "new" / "sub" / "p.ntl.zarr").n_samples == 20


def test_create_checks_shapes(tmp_path):
    with pytest.raises(ValueError, match=r"thumbnails must have shape \(2, h, w, 3\)"):
        Project.create(
            tmp_path / "p.ntl.zarr",
            thumbnails=np.zeros((2, 4, 4), np.uint8),
            sources=["a", "b"],
            boxes=np.zeros((2, 4)),
            truth=[-1, -1],
            class_names=[],
        )
    assert list(tmp_path.iterdir()) == []


def test_open_rejects_non_projects_and_newer_schema(tmp_path):
    with pytest.raises(UserInputError, match="no project at"):
        Project.open(tmp_path / "missing.ntl.zarr")
    with pytest.raises(UserInputError, match="is not a napari-tsne-label project"):
        Project.open(tmp_path)
    path = tmp_path / "p.ntl.zarr"
    make_project(path).close()
    zarr.open_group(path, mode="r+").attrs["napari_tsne_label"] = {"schema_version": 99}
    with pytest.raises(UserInputError, match="schema version 99; .* reads up to 1: please upgrade"):
        Project.open(path)


def test_labels_and_their_sources_survive_reopen(tmp_path):
    path = tmp_path / "p.ntl.zarr"
    with make_project(path) as proj:
        proj.apply_label([1, 2, 3], 0)
        proj.apply_label([3, 4], 2, source="suggestion")
        proj.apply_label([1], -1)
    with Project.open(path) as proj:
        expected = np.full(20, -1)
        expected[[2, 3, 4]] = [0, 2, 2]
        np.testing.assert_array_equal(proj.labels, expected)
        assert proj.label_sources[:6] == ["", "", "user", "suggestion", "suggestion", ""]
        np.testing.assert_array_equal(zarr.open_group(path, mode="r")["labels"][:], expected)


def test_apply_label_validates_indices_and_label(project):
    with pytest.raises(ValueError, match=r"sample indices must lie in \[0, 20\)"):
        project.apply_label([20], 0)
    with pytest.raises(ValueError, match=r"label 3 is not a class index \(0..2\) or -1"):
        project.apply_label([0], 3)
    project.apply_label([], 1)
    assert project.actions() == []
    assert not project.can_undo


def test_undo_redo_survive_restarts(tmp_path):
    path = tmp_path / "p.ntl.zarr"
    with make_project(path) as proj:
        proj.apply_label([0, 1], 0)
        proj.apply_label([1, 2], 1, source="suggestion")
        np.testing.assert_array_equal(proj.undo(), [1, 2])
    with Project.open(path, writable=True) as proj:
        np.testing.assert_array_equal(proj.labels[:3], [0, 0, -1])
        assert proj.label_sources[:3] == ["user", "user", ""]
        assert proj.can_undo and proj.can_redo
        np.testing.assert_array_equal(proj.redo(), [1, 2])
        np.testing.assert_array_equal(proj.labels[:3], [0, 1, 1])
        assert proj.label_sources[:3] == ["user", "suggestion", "suggestion"]
        proj.undo()
        proj.undo()
        assert proj.undo() is None
        np.testing.assert_array_equal(proj.labels[:3], [-1, -1, -1])
    with Project.open(path, writable=True) as proj:
        proj.redo()
        proj.apply_label([5], 2)
        assert not proj.can_redo
        assert proj.redo() is None
        assert [a.kind for a in proj.actions()] == [
            "label",
            "label",
            "undo",
            "redo",
            "undo",
            "undo",
            "redo",
            "label",
        ]
    with Project.open(path) as proj:
        np.testing.assert_array_equal(proj.labels[:6], [0, 0, -1, -1, -1, 2])


def test_classes_added_and_renamed_are_logged(tmp_path):
    path = tmp_path / "p.ntl.zarr"
    with make_project(path) as proj:
        assert proj.add_class("debris") == 3
        proj.rename_class(0, "RBC")
        proj.apply_label([7], 3)
        with pytest.raises(UserInputError, match="class 'debris' already exists"):
            proj.add_class("debris")
        with pytest.raises(UserInputError, match="a class name cannot be empty"):
            proj.rename_class(1, "  ")
    with Project.open(path) as proj:
        assert proj.class_names == ["RBC", "b", "c", "debris"]
        assert proj.labels[7] == 3
    assert zarr.open_group(path, mode="r").attrs["class_names"] == ["RBC", "b", "c", "debris"]


def test_log_action_records_values_and_reserves_state_kinds(tmp_path):
    path = tmp_path / "p.ntl.zarr"
    with make_project(path) as proj:
        proj.log_action("focus", indices=[4], value={"xyz": [0.5, 1.0, -2.0]})
        proj.log_action("slider", value=12, source="widget")
        with pytest.raises(ValueError, match="action kind 'label' is reserved"):
            proj.log_action("label", indices=[1], label=0)
    with Project.open(path) as proj:
        focus, slider = proj.actions()
        assert (focus.kind, focus.indices, focus.value) == (
            "focus",
            (4,),
            {"xyz": [0.5, 1.0, -2.0]},
        )
        assert (slider.kind, slider.indices, slider.value, slider.source) == (
            "slider",
            (),
            12,
            "widget",
        )
        assert focus.time <= slider.time
        np.testing.assert_array_equal(proj.labels, np.full(20, -1))


def test_read_only_project_refuses_writes(tmp_path):
    path = tmp_path / "p.ntl.zarr"
    make_project(path).close()
    with Project.open(path) as proj:
        with pytest.raises(UserInputError, match="is open read-only"):
            proj.apply_label([0], 1)
        with pytest.raises(UserInputError, match="is open read-only"):
            proj.write_features("pix", np.zeros((20, 2)), {})


def test_torn_last_log_line_is_ignored_then_cut(tmp_path):
    path = tmp_path / "p.ntl.zarr"
    with make_project(path) as proj:
        proj.apply_label([0], 1)
    with open(path / LOG_NAME, "ab") as log:
        log.write(b'{"time":1.0,"kind":"label","indices":[1],"lab')
    with Project.open(path) as proj:
        np.testing.assert_array_equal(proj.labels[:2], [1, -1])
    with Project.open(path, writable=True) as proj:
        proj.apply_label([2], 2)
    lines = (path / LOG_NAME).read_text().splitlines()
    assert [json.loads(line)["indices"] for line in lines] == [[0], [2]]


def test_damaged_log_line_in_the_middle_is_refused(tmp_path):
    path = tmp_path / "p.ntl.zarr"
    with make_project(path) as proj:
        proj.apply_label([0], 1)
        proj.apply_label([1], 1)
    lines = (path / LOG_NAME).read_bytes().split(b"\n")
    (path / LOG_NAME).write_bytes(b"\n".join([b"garbage", *lines[1:]]))
    with pytest.raises(UserInputError, match="is damaged at line 1"):
        Project.open(path)


def test_features_and_embeddings_round_trip_and_overwrite(project):
    X = np.arange(60, dtype=np.float32).reshape(20, 3)
    project.write_features("pix", X, {"size": 8})
    project.write_features("pix", X * 2, {"size": 16})
    project.write_embedding("tsne-pix", X[:, :2].astype(np.float64), {"perplexity": 20})
    np.testing.assert_array_equal(project.read_features("pix"), X * 2)
    assert project.read_features("pix").dtype == np.float32
    assert project.feature_settings("pix") == {"size": 16}
    assert project.features == {"pix": (20, 3)}
    assert project.embeddings == {"tsne-pix": (20, 2)}
    np.testing.assert_array_equal(project.read_embedding("tsne-pix"), X[:, :2])
    assert project.embedding_settings("tsne-pix") == {"perplexity": 20}
    with pytest.raises(UserInputError, match=r"no features named 'rn' in .* \(present: pix\)"):
        project.read_features("rn")
    with pytest.raises(ValueError, match=r"must have shape \(20, k\), got \(19, 3\)"):
        project.write_features("im", X[:19], {})
    with pytest.raises(ValueError, match="invalid matrix name '../x'"):
        project.write_features("../x", X, {})


def test_second_writer_in_same_process_is_refused_reader_allowed(project):
    with pytest.raises(UserInputError, match=r"is open for writing by another process \(pid \d+\)"):
        Project.open(project.path, writable=True)
    with Project.open(project.path) as reader:
        assert reader.n_samples == 20


def _spawn(code: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_second_writer_process_is_refused_until_the_first_dies(tmp_path):
    path = tmp_path / "p.ntl.zarr"
    make_project(path).close()
    child = _spawn(f"""
        import sys
        from napari_tsne_label.store import Project
        proj = Project.open({str(path)!r}, writable=True)
        proj.apply_label([0], 2)
        print("ready", flush=True)
        sys.stdin.readline()
    """)
    try:
        assert child.stdout.readline().strip() == "ready"
        with pytest.raises(UserInputError) as err:
            Project.open(path, writable=True)
        assert (
            str(err.value)
            == f"project {path} is open for writing by another process (pid {child.pid})"
        )
        with Project.open(path) as reader:
            assert reader.labels[0] == 2
    finally:
        child.kill()
        child.wait()
    with Project.open(path, writable=True) as proj:
        assert proj.labels[0] == 2


def test_killed_writer_loses_no_acknowledged_label(tmp_path):
    path = tmp_path / "p.ntl.zarr"
    make_project(path, n=400).close()
    child = _spawn(f"""
        from napari_tsne_label.store import Project
        proj = Project.open({str(path)!r}, writable=True)
        proj.write_features("pix", [[float(i)] for i in range(400)], {{}})
        for i in range(400):
            proj.apply_label([i], i % 3)
            print(i, flush=True)
    """)
    acknowledged = [int(child.stdout.readline()) for _ in range(60)]
    child.send_signal(signal.SIGKILL)
    child.wait()
    acknowledged += [int(line) for line in child.stdout.read().split()]
    assert child.returncode == -signal.SIGKILL
    with Project.open(path, writable=True) as proj:
        labels = proj.labels
        ack = np.array(acknowledged)
        np.testing.assert_array_equal(labels[ack], ack % 3)
        assert 0 < len(acknowledged) < 400
        labeled = np.flatnonzero(labels >= 0)
        np.testing.assert_array_equal(labeled, np.arange(len(labeled)))
        np.testing.assert_array_equal(labels[labeled], labeled % 3)
        assert proj.features == {"pix": (400, 1)}
        proj.apply_label([399], 0)
    with Project.open(path) as proj:
        assert proj.labels[399] == 0
