"""Importing class folders, flat folders and VOC sets; faults, subsampling, errors, BCCD."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image

from napari_tsne_label import importing, store
from napari_tsne_label.errors import UserInputError
from napari_tsne_label.importing import import_folder, plan_import, stratified_subsample
from napari_tsne_label.progress import drain
from napari_tsne_label.store import Project
from test_voc import voc_xml, write_voc


def write_class_folders(root):
    """Class folders a (2 PNG, 1 16-bit TIFF) and b (JPEG, empty PNG, corrupt PNG), a loose PNG."""
    (root / "a" / "deeper").mkdir(parents=True)
    (root / "b").mkdir()
    Image.fromarray(np.full((10, 20, 3), 200, np.uint8)).save(root / "a" / "one.png")
    Image.fromarray(np.full((12, 12), 50, np.uint8)).save(root / "a" / "deeper" / "two.png")
    tifffile.imwrite(root / "a" / "three.tif", np.arange(300, dtype=np.uint16).reshape(15, 20))
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / "b" / "four.jpg")
    (root / "b" / "empty.png").write_bytes(b"")
    (root / "b" / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    (root / "b" / "notes.txt").write_text("not an image")
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(root / "loose.png")
    return root


def test_class_folder_import_reads_formats_and_lists_skipped_files(tmp_path):
    src = write_class_folders(tmp_path / "cells")
    with drain(import_folder(src, tmp_path / "p.ntl.zarr", size=16)) as proj:
        assert proj.class_names == ["a", "b"]
        assert [s.removeprefix(str(src) + "/") for s in proj.sources] == [
            "a/deeper/two.png",
            "a/one.png",
            "a/three.tif",
            "b/four.jpg",
        ]
        np.testing.assert_array_equal(proj.truth, [0, 0, 0, 1])
        np.testing.assert_array_equal(
            proj.boxes, [[0, 0, 12, 12], [0, 0, 20, 10], [0, 0, 20, 15], [0, 0, 8, 8]]
        )
        thumbs = proj.thumbnails[:]
        assert thumbs.shape == (4, 16, 16, 3) and thumbs.dtype == np.uint8
        assert (thumbs[0] == 50).all()
        assert (thumbs[1, 4:12] == 200).all() and not thumbs[1, :3].any()
        assert thumbs[2].max() >= 240 and thumbs[2, 2:14].min() <= 10  # 0..299 stretched
        report = proj.import_report
        skipped = {
            item["path"].removeprefix(str(src) + "/"): item["reason"] for item in report["skipped"]
        }
        assert skipped.keys() == {"loose.png", "b/empty.png", "b/corrupt.png"}
        assert skipped["loose.png"] == "not inside a class folder"
        assert skipped["b/empty.png"] == "empty file"
        assert skipped["b/corrupt.png"].startswith("unreadable image (")
        assert (report["kind"], report["images"], report["samples_found"], report["samples"]) == (
            "class-folders",
            6,
            6,
            4,
        )
        assert report["per_class"] == {"a": 3, "b": 1}


def test_flat_folder_has_unknown_truth(tmp_path):
    (tmp_path / "flat").mkdir()
    for i in range(3):
        Image.fromarray(np.full((6, 6, 3), 40 * i, np.uint8)).save(tmp_path / "flat" / f"{i}.png")
    with drain(import_folder(tmp_path / "flat", tmp_path / "flat.ntl.zarr", size=8)) as proj:
        assert proj.class_names == []
        np.testing.assert_array_equal(proj.truth, [-1, -1, -1])
        np.testing.assert_array_equal(proj.thumbnails[:, 4, 4, 0], [0, 40, 80])
        assert proj.import_report["unknown_truth"] == 3


def test_voc_import_crops_every_cleaned_box(tmp_path):
    root = write_voc(
        tmp_path / "voc",
        {
            "x": voc_xml(
                "x.jpg", [("wbc", (0, 0, 20, 30)), ("rbc", (30, 10, 45, 20)), ("rbc", (5, 5, 5, 9))]
            )
        },
        {"x.jpg": (40, 30)},
    )
    with drain(import_folder(root, tmp_path / "v.ntl.zarr", size=8)) as proj:
        assert proj.class_names == ["rbc", "wbc"]
        np.testing.assert_array_equal(proj.truth, [1, 0])
        np.testing.assert_array_equal(proj.boxes, [[0, 0, 20, 30], [30, 10, 40, 20]])
        assert proj.sources == [str(root / "JPEGImages" / "x.jpg")] * 2
        assert proj.import_report["box_faults"] == {
            "inverted": 0,
            "zero_area": 1,
            "outside": 0,
            "clamped": 1,
            "duplicate": 0,
            "malformed": 0,
        }


def test_images_are_read_and_written_in_batches(tmp_path, monkeypatch):
    monkeypatch.setattr(importing, "IMAGES_PER_BATCH", 2)
    monkeypatch.setattr(store, "THUMBNAIL_CHUNK", 3)
    (tmp_path / "flat").mkdir()
    for i in range(5):
        Image.fromarray(np.full((4, 4), 10 * i, np.uint8)).save(tmp_path / "flat" / f"{i}.png")
    reports = []
    proj = drain(import_folder(tmp_path / "flat", tmp_path / "q.ntl.zarr", size=8), reports.append)
    reading = [(r.done, r.total) for r in reports if r.stage == "reading images"]
    writing = [(r.done, r.total) for r in reports if r.stage == "writing thumbnails"]
    assert reading == [(2, 5), (4, 5), (5, 5)]
    assert writing == [(3, 5), (5, 5)]
    assert proj.thumbnails.chunks == (3, 8, 8, 3)
    np.testing.assert_array_equal(proj.thumbnails[:, 0, 0, 0], [0, 10, 20, 30, 40])
    proj.close()


def make_source(kind: str, root):
    """A source folder (or path) of the given faulty ``kind`` under ``root``."""
    if kind == "missing":
        return root / "missing"
    if kind == "file":
        (root / "f.png").write_bytes(b"x")
        return root / "f.png"
    folder = root / kind
    folder.mkdir()
    if kind == "text":
        (folder / "a.txt").write_text("no image")
    if kind == "unreadable":
        (folder / "a.png").write_bytes(b"")
    return folder


@pytest.mark.parametrize(
    "kind, message",
    [
        ("missing", "{p}/missing does not exist"),
        ("file", "{p}/f.png is not a folder"),
        ("empty", "{p}/empty is empty"),
        ("text", "no PNG, JPEG or TIFF images found in {p}/text"),
        (
            "unreadable",
            "none of the 1 images in {p}/unreadable could be read (first: "
            "{p}/unreadable/a.png: empty file)",
        ),
    ],
)
def test_import_errors_are_one_clear_line(tmp_path, kind, message):
    src = make_source(kind, tmp_path)
    with pytest.raises(UserInputError) as err:
        drain(import_folder(src, tmp_path / "out.ntl.zarr"))
    assert str(err.value) == message.format(p=tmp_path)
    assert not (tmp_path / "out.ntl.zarr").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_import_refuses_existing_project_and_tiny_size(tmp_path):
    (tmp_path / "p.ntl.zarr").mkdir()
    with pytest.raises(
        UserInputError, match="p.ntl.zarr already exists; choose a new --project path"
    ):
        drain(import_folder(tmp_path, tmp_path / "p.ntl.zarr"))
    with pytest.raises(UserInputError, match="--size must be at least 8 pixels, got 4"):
        drain(import_folder(tmp_path, tmp_path / "q.ntl.zarr", size=4))


def test_stratified_subsample_keeps_class_shares_and_is_seeded():
    truth = np.repeat([0, 1, 2, -1], [50, 30, 15, 5])
    kept = stratified_subsample(truth, 20, seed=3)
    assert np.all(np.diff(kept) > 0)
    assert np.bincount(truth[kept] + 1).tolist() == [1, 10, 6, 3]
    np.testing.assert_array_equal(kept, stratified_subsample(truth, 20, seed=3))
    assert not np.array_equal(kept, stratified_subsample(truth, 20, seed=4))
    np.testing.assert_array_equal(stratified_subsample(truth, 0), np.arange(100))
    np.testing.assert_array_equal(stratified_subsample(truth, 500), np.arange(100))


def test_largest_remainder_rounding():
    truth = np.repeat([0, 1, 2], [361, 4153, 372])
    kept = stratified_subsample(truth, 300)
    assert np.bincount(truth[kept]).tolist() == [22, 255, 23]


def test_bccd_plan_and_subsampled_import(bccd_root, tmp_path):
    plan = plan_import(bccd_root)
    assert plan.kind == "voc" and len(plan.image_paths) == 364
    assert plan.class_names == ["Platelets", "RBC", "WBC"]
    assert np.bincount(plan.truth).tolist() == [361, 4153, 372]
    with drain(
        import_folder(bccd_root, tmp_path / "bccd.ntl.zarr", max_samples=150, size=8)
    ) as proj:
        assert proj.n_samples == 150
        assert np.bincount(proj.truth).tolist() == [11, 128, 11]
        report = proj.import_report
        assert (report["samples_found"], report["box_faults"]["zero_area"], report["skipped"]) == (
            4886,
            2,
            [],
        )
        x0, y0, x1, y1 = proj.boxes.T
        assert (x1 > x0).all() and (y1 > y0).all() and x1.max() <= 640 and y1.max() <= 480
    with Project.open(tmp_path / "bccd.ntl.zarr") as again:
        second = drain(
            import_folder(bccd_root, tmp_path / "again.ntl.zarr", max_samples=150, size=8)
        )
        assert second.sources == again.sources
        np.testing.assert_array_equal(second.boxes, again.boxes)
        second.close()


@pytest.mark.slow
def test_bccd_full_import(bccd_root, tmp_path):
    with drain(import_folder(bccd_root, tmp_path / "all.ntl.zarr", max_samples=0, size=16)) as proj:
        assert np.bincount(proj.truth).tolist() == [361, 4153, 372]
        assert proj.thumbnails.shape == (4886, 16, 16, 3)
