"""Derive the bundled blood-cell sample (``sample_data/blood-cells``) from the BCCD Pascal-VOC set.

Every WBC and platelet box is kept and a seeded subsample of RBC boxes fills the set up to
``--total`` crops (the paper's blood-cell set has 2,400). Boxes go through the importer's fault
handling; each crop is cut from its image, shrunk so its long side is at most ``--max-side``
pixels and saved as JPEG in ``<out>/blood-cells/<class>/``. BCCD's licence is copied beside it.

    python scripts/make_sample_data.py [--bccd ../shared/datasets/bccd] [--out sample_data]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from napari_tsne_label.imaging import read_image
from napari_tsne_label.voc import find_voc_root, read_voc_set

REPO = Path(__file__).resolve().parents[1]
KEEP_ALL = ("WBC", "Platelets")
FILL_CLASS = "RBC"

README = """# Blood-cell sample

{total} blood-cell crops in one folder per class ({counts}), derived from the BCCD data set
(364 peripheral blood smear images with Pascal-VOC boxes; MIT licence, copied in `LICENSE`).

How they were made (`python scripts/make_sample_data.py`, seed {seed}): every box went through
the importer's fault handling (BCCD has two zero-area RBC boxes, dropped); all WBC and platelet
boxes were kept and a seeded random subsample of the RBC boxes fills the set to {total}, about
the size of the paper's blood-cell set. Each box was cut from its image, shrunk so its long side
is at most {max_side} px and saved as JPEG (quality {quality}). File names are
`<BCCD image>_<object number>.jpg`.

Use it with `napari-tsne-label import --sample blood-cells --project P.ntl.zarr`, from napari's
File > Open Sample menu, or as a plain class-folder import of this folder.
"""


def select_boxes(
    objects_by_image: list[tuple[str, list]], total: int, seed: int
) -> list[tuple[str, int, object]]:
    """(image path, object number, object) of every WBC/platelet box plus a seeded RBC subsample."""
    boxes = [(path, k, obj) for path, objects in objects_by_image for k, obj in enumerate(objects)]
    kept = [b for b in boxes if b[2].name in KEEP_ALL]
    fill = [b for b in boxes if b[2].name == FILL_CLASS]
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(fill), size=min(len(fill), max(total - len(kept), 0)), replace=False)
    return kept + [fill[i] for i in sorted(chosen)]


def save_crop(
    rgb: np.ndarray, box: tuple[int, int, int, int], target: Path, max_side: int, quality: int
) -> None:
    """Cut ``box`` from ``rgb``, shrink its long side to ``max_side`` if larger, save as JPEG."""
    x0, y0, x1, y1 = box
    crop = Image.fromarray(rgb[y0:y1, x0:x1])
    scale = max_side / max(crop.size)
    if scale < 1:
        crop = crop.resize(
            (max(1, round(crop.width * scale)), max(1, round(crop.height * scale))),
            Image.Resampling.LANCZOS,
        )
    crop.save(target, quality=quality)


def main() -> None:
    """Parse the arguments and write the sample folder, its README and licence."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bccd", type=Path, default=REPO.parent / "shared/datasets/bccd")
    parser.add_argument("--out", type=Path, default=REPO / "sample_data")
    parser.add_argument("--total", type=int, default=2400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-side", type=int, default=128)
    parser.add_argument("--quality", type=int, default=90)
    args = parser.parse_args()

    voc_root = find_voc_root(args.bccd)
    if voc_root is None:
        parser.error(f"no Pascal-VOC set (Annotations + JPEGImages) in {args.bccd}")
    selected = select_boxes(read_voc_set(voc_root).images, args.total, args.seed)
    folder = args.out / "blood-cells"
    shutil.rmtree(folder, ignore_errors=True)
    by_image: dict[str, list] = {}
    for path, k, obj in selected:
        by_image.setdefault(path, []).append((k, obj))
    counts: dict[str, int] = {}
    for path, objects in sorted(by_image.items()):
        rgb = read_image(path)
        for k, obj in objects:
            (folder / obj.name).mkdir(parents=True, exist_ok=True)
            save_crop(
                rgb,
                obj.box,
                folder / obj.name / f"{Path(path).stem}_{k:02d}.jpg",
                args.max_side,
                args.quality,
            )
            counts[obj.name] = counts.get(obj.name, 0) + 1
    shutil.copy(args.bccd / "LICENSE", args.out / "LICENSE")
    listed = ", ".join(f"{name} {counts[name]}" for name in sorted(counts))
    (args.out / "README.md").write_text(
        README.format(
            total=len(selected),
            counts=listed,
            seed=args.seed,
            max_side=args.max_side,
            quality=args.quality,
        )
    )
    size = sum(f.stat().st_size for f in folder.rglob("*.jpg"))
    print(f"wrote {len(selected)} crops ({listed}), {size / 1e6:.1f} MB, to {folder}")


if __name__ == "__main__":
    main()
