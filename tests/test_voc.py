"""Pascal-VOC parsing and box fault handling, on hand-written annotations and on BCCD."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from PIL import Image

from napari_tsne_label.voc import (
    FAULT_KINDS,
    AnnotationError,
    VocObject,
    clean_boxes,
    find_voc_root,
    parse_annotation,
    read_voc_set,
)


def voc_xml(
    filename: str, objects: list[tuple[str, tuple]], size: tuple[int, int] | None = (40, 30)
) -> str:
    """A VOC annotation with ``objects`` as (name, (xmin, ymin, xmax, ymax)); size None omits it."""
    size_xml = (
        f"<size><width>{size[0]}</width><height>{size[1]}</height><depth>3</depth></size>"
        if size
        else ""
    )
    body = "".join(
        f"<object><name>{name}</name><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin>"
        f"<xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>"
        for name, b in objects
    )
    return f"<annotation><filename>{filename}</filename>{size_xml}{body}</annotation>"


def write_voc(root, annotations: dict[str, str], images: dict[str, tuple[int, int]]):
    """Write a VOC set: annotation XML texts by stem, grey JPEG images (width, height) by name."""
    (root / "Annotations").mkdir(parents=True)
    (root / "JPEGImages").mkdir()
    for stem, text in annotations.items():
        (root / "Annotations" / f"{stem}.xml").write_text(text)
    for name, (w, h) in images.items():
        Image.fromarray(np.full((h, w, 3), 128, np.uint8)).save(root / "JPEGImages" / name)
    return root


def test_parse_annotation_reads_size_objects_and_counts_malformed(tmp_path):
    text = voc_xml("a.jpg", [("cat", (1, 2, 10.6, 20)), ("dog", (0, 0, 5, 5))]).replace(
        "</annotation>",
        "<object><name>x</name><bndbox><xmin>one</xmin></bndbox></object>"
        "<object><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox></object>"
        "</annotation>",
    )
    (tmp_path / "a.xml").write_text(text)
    annotation = parse_annotation(tmp_path / "a.xml")
    assert (annotation.filename, annotation.width, annotation.height) == ("a.jpg", 40, 30)
    assert annotation.objects == [VocObject("cat", (1, 2, 11, 20)), VocObject("dog", (0, 0, 5, 5))]
    assert annotation.malformed == 2


@pytest.mark.parametrize(
    "text, reason",
    [
        ("<annotation><object>", "unreadable annotation (no element found"),
        ("<html></html>", "not a VOC annotation (root element <html>)"),
    ],
)
def test_parse_annotation_rejects_broken_files(tmp_path, text, reason):
    (tmp_path / "bad.xml").write_text(text)
    with pytest.raises(AnnotationError) as err:
        parse_annotation(tmp_path / "bad.xml")
    assert err.value.reason.startswith(reason)


def test_clean_boxes_counts_every_fault_kind():
    objects = [
        VocObject("a", (5, 5, 15, 15)),  # fine
        VocObject("a", (15, 5, 5, 15)),  # inverted x
        VocObject("a", (5, 15, 15, 5)),  # inverted y
        VocObject("b", (7, 7, 7, 20)),  # zero width
        VocObject("b", (-10, -10, 0, 5)),  # left of the image
        VocObject("b", (40, 0, 50, 10)),  # right of a 40 px wide image
        VocObject("b", (-5, 20, 10, 35)),  # partly outside: clamped
        VocObject("a", (5, 5, 15, 15)),  # duplicate
        VocObject("b", (5, 5, 15, 15)),  # same box, other class: kept
        VocObject("b", (0, 20, 10, 30)),  # equals the clamped box above: duplicate
    ]
    kept, faults = clean_boxes(objects, width=40, height=30)
    assert kept == [
        VocObject("a", (5, 5, 15, 15)),
        VocObject("b", (0, 20, 10, 30)),
        VocObject("b", (5, 5, 15, 15)),
    ]
    assert faults == Counter(inverted=2, zero_area=1, outside=2, clamped=1, duplicate=2)


def test_read_voc_set_cleans_boxes_and_lists_unusable_files(tmp_path):
    root = write_voc(
        tmp_path / "voc",
        {
            "img1": voc_xml(
                "img1.jpg",
                [("cell", (1, 1, 10, 10)), ("cell", (1, 1, 10, 10)), ("blob", (30, 20, 50, 40))],
            ),
            "img2": voc_xml("renamed.jpg", [("blob", (0, 0, 60, 8))], size=None),
            "img3": voc_xml("img3.jpg", [("cell", (2, 2, 2, 9))]),
            "lost": voc_xml("lost.jpg", [("cell", (1, 1, 5, 5))]),
            "broken": "<annotation>",
        },
        {"img1.jpg": (40, 30), "img2.jpg": (50, 20), "img3.jpg": (40, 30)},
    )
    voc_set = read_voc_set(root)
    assert voc_set.images == [
        (
            str(root / "JPEGImages/img1.jpg"),
            [VocObject("cell", (1, 1, 10, 10)), VocObject("blob", (30, 20, 40, 30))],
        ),
        (str(root / "JPEGImages/img2.jpg"), [VocObject("blob", (0, 0, 50, 8))]),
    ]
    assert dict(voc_set.faults) == {
        "inverted": 0,
        "zero_area": 1,
        "outside": 0,
        "clamped": 2,
        "duplicate": 1,
        "malformed": 0,
    }
    assert [(p.split("/")[-1], r.split(" (")[0]) for p, r in voc_set.skipped] == [
        ("broken.xml", "unreadable annotation"),
        ("lost.xml", "image lost.jpg not found in JPEGImages"),
    ]


def test_find_voc_root_in_folder_or_its_only_voc_child(tmp_path):
    root = write_voc(tmp_path / "set" / "VOC", {}, {})
    (tmp_path / "set" / "other").mkdir()
    assert find_voc_root(tmp_path / "set") == root
    assert find_voc_root(root) == root
    write_voc(tmp_path / "set" / "VOC2", {}, {})
    assert find_voc_root(tmp_path / "set") is None


def test_bccd_boxes_after_fault_handling(bccd_root):
    voc_set = read_voc_set(find_voc_root(bccd_root))
    assert len(voc_set.images) == 364
    counts = Counter(obj.name for _, objects in voc_set.images for obj in objects)
    assert counts == {"RBC": 4153, "WBC": 372, "Platelets": 361}
    assert dict(voc_set.faults) == dict.fromkeys(FAULT_KINDS, 0) | {"zero_area": 2}
    assert voc_set.skipped == []
