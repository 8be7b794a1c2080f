"""Import a folder of images into a new project: find the samples, subsample, read lazily, store.

Three source layouts are recognised, in this order:

* **Pascal-VOC**: ``Annotations/`` and ``JPEGImages/`` in the folder (or in its only such child);
  every cleaned object box is a sample whose ground truth is the object name (see :mod:`voc`);
* **class folders**: one sub-folder per class (images anywhere below it), ground truth known;
* **flat folder**: images directly in the folder, ground truth unknown (-1).

Images are read by one ``dask.delayed`` task per image, a batch at a time, and their thumbnails
written to a scratch Zarr array beside the project, so folders larger than memory import. Files
that cannot be read are skipped and listed with the reason in the project's import report.
Originals stay where they are: the project stores their absolute paths.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numpy as np
import zarr

from napari_tsne_label.errors import UserInputError
from napari_tsne_label.imaging import ImageReadError, is_image_file, thumbnails_from_file
from napari_tsne_label.progress import Progress, ProgressGenerator
from napari_tsne_label.store import Project, new_project_path
from napari_tsne_label.voc import find_voc_root, read_voc_set

DEFAULT_MAX_SAMPLES = 3000
DEFAULT_SIZE = 128
IMAGES_PER_BATCH = 128
WHOLE_IMAGE = (-1, -1, -1, -1)


@dataclass
class ImportPlan:
    """The samples found in a source folder, before any image is read.

    ``image_paths`` lists each source image once; sample ``i`` is box ``boxes[i]`` (x0, y0, x1, y1,
    or all -1 for the whole image) of ``image_paths[image_index[i]]`` with class ``truth[i]``.
    """

    kind: str
    root: Path
    class_names: list[str]
    image_paths: list[str]
    image_index: np.ndarray
    boxes: np.ndarray
    truth: np.ndarray
    box_faults: dict[str, int] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def n_samples(self) -> int:
        """Number of samples found."""
        return len(self.truth)

    def subset(self, keep: np.ndarray) -> ImportPlan:
        """The plan restricted to samples ``keep`` (sorted indices), images renumbered."""
        used, image_index = np.unique(self.image_index[keep], return_inverse=True)
        return ImportPlan(
            self.kind,
            self.root,
            self.class_names,
            [self.image_paths[i] for i in used],
            image_index.astype(np.int64),
            self.boxes[keep],
            self.truth[keep],
            self.box_faults,
            self.skipped,
        )


def plan_import(src: str | os.PathLike) -> ImportPlan:
    """Find the samples of the source folder ``src``; raise UserInputError when there are none."""
    root = Path(src).expanduser()
    if not root.exists():
        raise UserInputError(f"{root} does not exist")
    if not root.is_dir():
        raise UserInputError(f"{root} is not a folder")
    root = root.absolute()
    if not any(root.iterdir()):
        raise UserInputError(f"{root} is empty")
    voc_root = find_voc_root(root)
    if voc_root is not None:
        plan = _plan_voc(voc_root)
    elif any(
        child.is_dir() and not child.name.startswith(".") and _images_below(child)
        for child in root.iterdir()
    ):
        plan = _plan_class_folders(root)
    else:
        plan = _plan_flat(root)
    if plan.n_samples == 0:
        raise UserInputError(f"no PNG, JPEG or TIFF images found in {root}")
    return plan


def stratified_subsample(truth: np.ndarray, max_samples: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of at most ``max_samples`` samples, each class keeping its share.

    Class quotas are proportional to class sizes, rounded by largest remainder (ties to the
    lower class index); unknown truth (-1) is one more class. Same inputs give the same result.
    """
    n = len(truth)
    if max_samples <= 0 or n <= max_samples:
        return np.arange(n)
    classes, counts = np.unique(truth, return_counts=True)
    exact = counts * (max_samples / n)
    quotas = np.floor(exact).astype(np.int64)
    remainder_order = np.argsort(-(exact - quotas), kind="stable")
    quotas[remainder_order[: max_samples - quotas.sum()]] += 1
    rng = np.random.default_rng(seed)
    chosen = [
        rng.choice(np.flatnonzero(truth == c), size=q, replace=False)
        for c, q in zip(classes, quotas)
    ]
    return np.sort(np.concatenate(chosen))


def import_folder(
    src: str | os.PathLike,
    project: str | os.PathLike,
    *,
    max_samples: int = DEFAULT_MAX_SAMPLES,
    seed: int = 0,
    size: int = DEFAULT_SIZE,
) -> ProgressGenerator[Project]:
    """Import the folder ``src`` into a new project at ``project``; return it open for writing.

    ``max_samples`` (0 = all) caps the sample count by seeded class-stratified subsampling;
    thumbnails are ``size`` x ``size`` RGB uint8.
    """
    if size < 8:
        raise UserInputError(f"--size must be at least 8 pixels, got {size}")
    project = new_project_path(project)
    found = plan_import(src)
    keep = stratified_subsample(found.truth, max_samples, seed)
    plan = found.subset(keep)
    scratch = project.with_name(f".{project.name}.{uuid.uuid4().hex}.thumbnails")
    try:
        thumbnails = zarr.create_array(
            scratch,
            shape=(plan.n_samples, size, size, 3),
            chunks=(64, size, size, 3),
            dtype=np.uint8,
            compressors=None,
            zarr_format=3,
        )
        ok, boxes, unreadable = yield from _read_thumbnails(plan, thumbnails, size)
        if not ok.any():
            first = unreadable[0]
            raise UserInputError(
                f"none of the {len(plan.image_paths)} images in {plan.root} could be "
                f"read (first: {first[0]}: {first[1]})"
            )
        rows = np.flatnonzero(ok)
        report = _report(found, plan, rows, unreadable, max_samples, seed, size)
        result = yield from Project.create_progress(
            project,
            thumbnails=da.from_zarr(thumbnails)[rows],
            sources=[plan.image_paths[i] for i in plan.image_index[rows]],
            boxes=boxes[rows],
            truth=plan.truth[rows],
            class_names=plan.class_names,
            import_report=report,
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return result


def _read_thumbnails(
    plan: ImportPlan, out: zarr.Array, size: int
) -> ProgressGenerator[tuple[np.ndarray, np.ndarray, list[tuple[str, str]]]]:
    """Fill ``out`` with every sample's thumbnail, one delayed task per image, a batch at a time.

    Samples of one image are contiguous rows of the plan. Returns which samples were read, their
    final boxes (whole images get 0, 0, w, h) and the (path, reason) of every unreadable image.
    """
    ok = np.zeros(plan.n_samples, dtype=bool)
    boxes = plan.boxes.copy()
    unreadable: list[tuple[str, str]] = []
    n_images = len(plan.image_paths)
    first_row = np.searchsorted(plan.image_index, np.arange(n_images + 1))
    for start in range(0, n_images, IMAGES_PER_BATCH):
        batch = range(start, min(start + IMAGES_PER_BATCH, n_images))
        tasks = [
            dask.delayed(_image_thumbnails)(
                plan.image_paths[i], plan.boxes[first_row[i] : first_row[i + 1]], size
            )
            for i in batch
        ]
        offset = first_row[batch.start]
        block = np.zeros((first_row[batch.stop] - offset, size, size, 3), dtype=np.uint8)
        for image, (thumbs, shape, reason) in zip(batch, dask.compute(*tasks, scheduler="threads")):
            rows = np.arange(first_row[image], first_row[image + 1])
            if reason is not None:
                unreadable.append((plan.image_paths[image], reason))
                continue
            block[rows - offset] = thumbs
            ok[rows] = True
            whole = (boxes[rows] == WHOLE_IMAGE).all(axis=1)
            boxes[rows[whole]] = (0, 0, shape[1], shape[0])
        out[offset : first_row[batch.stop]] = block
        yield Progress(
            batch.stop, n_images, "reading images", Path(plan.image_paths[batch.stop - 1]).name
        )
    return ok, boxes, unreadable


def _image_thumbnails(
    path: str, boxes: np.ndarray, size: int
) -> tuple[np.ndarray | None, tuple[int, int], str | None]:
    """Thumbnails and (height, width) of one image, or the reason it could not be read."""
    whole_image = (boxes == WHOLE_IMAGE).all()
    try:
        thumbs, shape = thumbnails_from_file(path, None if whole_image else boxes, size)
    except ImageReadError as err:
        return None, (0, 0), err.reason
    return thumbs, shape, None


def _report(
    found: ImportPlan,
    plan: ImportPlan,
    rows: np.ndarray,
    unreadable: list[tuple[str, str]],
    max_samples: int,
    seed: int,
    size: int,
) -> dict[str, Any]:
    """The import report stored in the project and printed by the CLI."""
    kept_truth = plan.truth[rows]
    per_class = Counter(int(t) for t in kept_truth)
    return {
        "kind": found.kind,
        "root": str(found.root),
        "images": len(found.image_paths),
        "samples_found": found.n_samples,
        "samples": int(len(rows)),
        "per_class": {name: per_class.get(i, 0) for i, name in enumerate(found.class_names)},
        "unknown_truth": per_class.get(-1, 0),
        "box_faults": dict(found.box_faults),
        "skipped": [{"path": p, "reason": r} for p, r in [*found.skipped, *unreadable]],
        "max_samples": max_samples,
        "seed": seed,
        "size": size,
    }


def _plan_from_images(
    kind: str,
    root: Path,
    class_names: list[str],
    images: list[tuple[str, np.ndarray, np.ndarray]],
    **extra: Any,
) -> ImportPlan:
    """Build a plan from (absolute path, boxes (k, 4), truth (k,)) per image."""
    counts = [len(truth) for _, _, truth in images]
    return ImportPlan(
        kind=kind,
        root=root,
        class_names=class_names,
        image_paths=[path for path, _, _ in images],
        image_index=np.repeat(np.arange(len(images)), counts).astype(np.int64),
        boxes=np.concatenate([b for _, b, _ in images]).astype(np.int32)
        if images
        else np.zeros((0, 4), np.int32),
        truth=np.concatenate([t for _, _, t in images]).astype(np.int32)
        if images
        else np.zeros(0, np.int32),
        **extra,
    )


def _whole(path: Path, label: int) -> tuple[str, np.ndarray, np.ndarray]:
    return str(path.absolute()), np.array([WHOLE_IMAGE], np.int32), np.array([label], np.int32)


def _images_below(folder: Path) -> list[Path]:
    """Image files anywhere below ``folder`` (hidden folders skipped), sorted by path."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(Path(dirpath) / name for name in sorted(filenames) if is_image_file(name))
    return sorted(found)


def _plan_flat(root: Path) -> ImportPlan:
    paths = sorted(p for p in root.iterdir() if p.is_file() and is_image_file(p))
    return _plan_from_images("flat", root, [], [_whole(p, -1) for p in paths])


def _plan_class_folders(root: Path) -> ImportPlan:
    folders = sorted(c for c in root.iterdir() if c.is_dir() and not c.name.startswith("."))
    per_class = [(folder.name, _images_below(folder)) for folder in folders]
    class_names = [name for name, paths in per_class if paths]
    images = [_whole(path, class_names.index(name)) for name, paths in per_class for path in paths]
    loose = [
        (str(p.absolute()), "not inside a class folder")
        for p in sorted(root.iterdir())
        if p.is_file() and is_image_file(p)
    ]
    return _plan_from_images("class-folders", root, class_names, images, skipped=loose)


def _plan_voc(voc_root: Path) -> ImportPlan:
    voc_set = read_voc_set(voc_root)
    class_names = sorted({obj.name for _, objects in voc_set.images for obj in objects})
    images = [
        (
            path,
            np.array([obj.box for obj in objects], np.int32),
            np.array([class_names.index(obj.name) for obj in objects], np.int32),
        )
        for path, objects in voc_set.images
    ]
    return _plan_from_images(
        "voc",
        voc_root,
        class_names,
        images,
        box_faults=dict(voc_set.faults),
        skipped=list(voc_set.skipped),
    )
