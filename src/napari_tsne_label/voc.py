"""Pascal-VOC sets (``JPEGImages/`` + ``Annotations/``): parse the XML and repair or drop bad boxes.

Box coordinates are read as pixel edges ``x0 = xmin``, ``x1 = xmax`` (end exclusive), rounded to
integers. Every box goes through :func:`clean_boxes`, which counts each fault kind:

``inverted``   xmax < xmin or ymax < ymin: dropped;
``zero_area``  xmax == xmin or ymax == ymin: dropped;
``outside``    no overlap with the image: dropped;
``clamped``    partly outside the image: cut to the image;
``duplicate``  same class and (clamped) box as an earlier object of the same image: dropped;
``malformed``  an object without a name or with missing or non-numeric coordinates: dropped.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from napari_tsne_label.imaging import IMAGE_SUFFIXES, ImageReadError, image_size

FAULT_KINDS = ("inverted", "zero_area", "outside", "clamped", "duplicate", "malformed")
ANNOTATIONS_DIR = "Annotations"
IMAGES_DIR = "JPEGImages"


class AnnotationError(Exception):
    """An annotation file that cannot be used at all; ``reason`` says why."""

    def __init__(self, path: str | os.PathLike, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


@dataclass(frozen=True)
class VocObject:
    """One annotated object: class ``name`` and ``box`` (x0, y0, x1, y1) in image pixels."""

    name: str
    box: tuple[int, int, int, int]


@dataclass
class VocAnnotation:
    """One parsed annotation file; ``width``/``height`` are 0 when the file does not give them."""

    filename: str
    width: int
    height: int
    objects: list[VocObject]
    malformed: int = 0


@dataclass
class VocSet:
    """A cleaned VOC set: (absolute image path, kept objects) per image, faults, skipped files."""

    images: list[tuple[str, list[VocObject]]] = field(default_factory=list)
    faults: Counter = field(default_factory=Counter)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def find_voc_root(folder: str | os.PathLike) -> Path | None:
    """The folder with ``Annotations/`` and ``JPEGImages/``: ``folder`` or its only such child."""
    folder = Path(folder)
    if _is_voc_dir(folder):
        return folder
    children = [
        child for child in sorted(folder.iterdir()) if child.is_dir() and _is_voc_dir(child)
    ]
    return children[0] if len(children) == 1 else None


def parse_annotation(path: str | os.PathLike) -> VocAnnotation:
    """Parse one VOC XML file; raise AnnotationError when it is not usable XML."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as err:
        raise AnnotationError(path, f"unreadable annotation ({err})") from None
    if root.tag != "annotation":
        raise AnnotationError(path, f"not a VOC annotation (root element <{root.tag}>)")
    objects, malformed = [], 0
    for element in root.iter("object"):
        parsed = _parse_object(element)
        if parsed is None:
            malformed += 1
        else:
            objects.append(parsed)
    return VocAnnotation(
        filename=(root.findtext("filename") or "").strip(),
        width=_int_or_zero(root.findtext("size/width")),
        height=_int_or_zero(root.findtext("size/height")),
        objects=objects,
        malformed=malformed,
    )


def clean_boxes(
    objects: Iterable[VocObject], width: int, height: int
) -> tuple[list[VocObject], Counter]:
    """Drop or clamp faulty boxes of a ``width`` x ``height`` image; return kept objects, faults."""
    kept: list[VocObject] = []
    seen: set[VocObject] = set()
    faults: Counter = Counter()
    for obj in objects:
        x0, y0, x1, y1 = obj.box
        if x1 < x0 or y1 < y0:
            faults["inverted"] += 1
            continue
        if x1 == x0 or y1 == y0:
            faults["zero_area"] += 1
            continue
        if x1 <= 0 or y1 <= 0 or x0 >= width or y0 >= height:
            faults["outside"] += 1
            continue
        clamped = (max(x0, 0), max(y0, 0), min(x1, width), min(y1, height))
        if clamped != obj.box:
            faults["clamped"] += 1
            obj = VocObject(obj.name, clamped)
        if obj in seen:
            faults["duplicate"] += 1
            continue
        seen.add(obj)
        kept.append(obj)
    return kept, faults


def read_voc_set(root: str | os.PathLike) -> VocSet:
    """Parse and clean every annotation under ``root/Annotations`` (sorted by file name)."""
    root = Path(root)
    result = VocSet(faults=Counter({kind: 0 for kind in FAULT_KINDS}))
    for xml_path in sorted((root / ANNOTATIONS_DIR).glob("*.xml")):
        try:
            annotation = parse_annotation(xml_path)
            image_path = _image_for(root, xml_path, annotation.filename)
            width, height = annotation.width, annotation.height
            if width <= 0 or height <= 0:
                width, height = image_size(image_path)
        except AnnotationError as err:
            result.skipped.append((err.path, err.reason))
            continue
        except ImageReadError as err:
            result.skipped.append((err.path, err.reason))
            continue
        kept, faults = clean_boxes(annotation.objects, width, height)
        result.faults.update(faults)
        result.faults["malformed"] += annotation.malformed
        if kept:
            result.images.append((str(image_path.absolute()), kept))
    return result


def _is_voc_dir(folder: Path) -> bool:
    return (folder / ANNOTATIONS_DIR).is_dir() and (folder / IMAGES_DIR).is_dir()


def _parse_object(element: ET.Element) -> VocObject | None:
    name = (element.findtext("name") or "").strip()
    try:
        box = tuple(
            round(float(element.findtext(f"bndbox/{key}")))
            for key in ("xmin", "ymin", "xmax", "ymax")
        )
    except (TypeError, ValueError):
        return None
    return VocObject(name, box) if name else None


def _int_or_zero(text: str | None) -> int:
    try:
        return int(float(text))
    except (TypeError, ValueError):
        return 0


def _image_for(root: Path, xml_path: Path, filename: str) -> Path:
    """The image an annotation describes: its ``<filename>`` in JPEGImages, else the same stem."""
    images = root / IMAGES_DIR
    if filename and (images / filename).is_file():
        return images / filename
    for suffix in IMAGE_SUFFIXES:
        for candidate in (
            images / f"{xml_path.stem}{suffix}",
            images / f"{xml_path.stem}{suffix.upper()}",
        ):
            if candidate.is_file():
                return candidate
    raise AnnotationError(xml_path, f"image {filename or xml_path.stem} not found in {IMAGES_DIR}")
