"""Read microscopy images (PNG, JPEG, TIFF) and turn them into fixed-size RGB uint8 thumbnails.

Conversion rules, applied to every file so that mixed folders look alike:

* **Axes.** TIFF axes come from tifffile's metadata (ImageJ, OME, shaped) when it names them:
  ``Y``/``X`` are the image plane, ``S`` or ``C`` the channels, every other axis (``Z``, ``T``,
  ...) is collapsed by a maximum projection. Without such metadata numpy's convention holds: the
  array is ``(..., Y, X, C)`` when its last axis is short (at most :data:`MAX_CHANNELS` entries,
  shorter than Y and X), else ``(..., C, Y, X)`` when the axis before the plane is that short,
  else ``(..., Z, Y, X)``; leading axes are max-projected (so ``(5, H, W)`` is five channels,
  ``(30, H, W)`` a z-stack).
* **Channels.** One channel is grey; otherwise the first three channels become red, green and
  blue (a missing blue is black); alpha and further channels are dropped.
* **Intensities.** 8-bit data is kept as is; 16-bit, 32-bit and float data are contrast-stretched
  per channel between the :data:`LOW_PERCENTILE` and :data:`HIGH_PERCENTILE` percentiles.
* **Thumbnails.** The image (or a crop box of it) is scaled so its long side is the thumbnail
  size, aspect kept, and centred on a black square.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
TIFF_SUFFIXES = (".tif", ".tiff")
MAX_CHANNELS = 8
LOW_PERCENTILE = 0.5
HIGH_PERCENTILE = 99.5
_PLANE_AXES = ("Y", "X")
# what decoders raise on broken, truncated, unsupported or absurdly large files
_DECODER_ERRORS = (
    OSError,
    ValueError,
    SyntaxError,
    KeyError,
    IndexError,
    NotImplementedError,
    UnidentifiedImageError,
    Image.DecompressionBombError,
)
_CHANNEL_AXES = ("S", "C")


class ImageReadError(Exception):
    """A file that cannot be turned into an image; ``reason`` says why in a few words."""

    def __init__(self, path: str | os.PathLike, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


def is_image_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` has one of the supported image suffixes (case-insensitive)."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as an RGB uint8 array of shape (H, W, 3); raise ImageReadError."""
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise ImageReadError(path, "empty file")
        if path.suffix.lower() in TIFF_SUFFIXES:
            data, axes = _read_tiff(path)
        else:
            data, axes = _read_pillow(path), None
    except ImageReadError:
        raise
    except _DECODER_ERRORS as err:
        raise ImageReadError(path, f"unreadable image ({_describe(err)})") from None
    except MemoryError:
        raise ImageReadError(path, "image too large for memory") from None
    if data.size == 0:
        raise ImageReadError(path, "image has no pixels")
    return to_rgb8(data, axes)


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """Width and height of an image file in pixels, read from its header only when possible."""
    path = Path(path)
    if path.suffix.lower() not in TIFF_SUFFIXES:
        try:
            with Image.open(path) as img:
                return img.size
        except (OSError, UnidentifiedImageError) as err:
            raise ImageReadError(path, f"unreadable image ({_describe(err)})") from None
    height, width = read_image(path).shape[:2]
    return width, height


def to_rgb8(data: np.ndarray, axes: str | None = None) -> np.ndarray:
    """Convert an image array of any layout and dtype to RGB uint8 (H, W, 3), per the module rules.

    ``axes`` names each axis in tifffile's letters (e.g. ``"ZCYX"``); None means unknown.
    """
    data = np.asarray(data)
    if data.dtype == bool:
        data = data.astype(np.uint8) * 255
    if data.ndim == 2:
        planar = data[:, :, None]
    else:
        planar = _to_channels_last(data, axes)
    if planar.dtype != np.uint8:
        planar = stretch_to_uint8(planar)
    return _channels_to_rgb(planar)


def stretch_to_uint8(
    data: np.ndarray, low: float = LOW_PERCENTILE, high: float = HIGH_PERCENTILE
) -> np.ndarray:
    """Contrast-stretch (H, W, C) data per channel between percentiles ``low``, ``high`` to uint8.

    NaNs become 0; a constant channel becomes 0.
    """
    values = data.astype(np.float64)
    out = np.zeros(values.shape, dtype=np.uint8)
    for c in range(values.shape[-1]):
        channel = values[..., c]
        finite = channel[np.isfinite(channel)]
        if finite.size == 0:
            continue
        lo, hi = np.percentile(finite, [low, high])
        if hi <= lo:
            lo, hi = finite.min(), finite.max()
        if hi <= lo:
            continue
        scaled = (np.nan_to_num(channel, nan=lo) - lo) / (hi - lo) * 255.0
        out[..., c] = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    return out


def fit_thumbnail(rgb: np.ndarray, size: int) -> np.ndarray:
    """Scale RGB uint8 (H, W, 3) so its long side is ``size``, centred on black: (size, size, 3)."""
    height, width = rgb.shape[:2]
    scale = size / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    resized = np.asarray(Image.fromarray(rgb).resize((new_w, new_h), Image.Resampling.BILINEAR))
    out = np.zeros((size, size, 3), dtype=np.uint8)
    top, left = (size - new_h) // 2, (size - new_w) // 2
    out[top : top + new_h, left : left + new_w] = resized
    return out


def crop_thumbnails(
    rgb: np.ndarray, boxes: Sequence[Sequence[int]] | np.ndarray, size: int
) -> np.ndarray:
    """Thumbnails of the boxes (k, 4) x0, y0, x1, y1 of an RGB image: (k, size, size, 3) uint8.

    Boxes are clipped to the image; a box left empty raises ValueError.
    """
    height, width = rgb.shape[:2]
    out = np.empty((len(boxes), size, size, 3), dtype=np.uint8)
    for k, (x0, y0, x1, y1) in enumerate(np.asarray(boxes, dtype=np.int64).reshape(-1, 4)):
        x0, x1 = np.clip([x0, x1], 0, width)
        y0, y1 = np.clip([y0, y1], 0, height)
        if x1 <= x0 or y1 <= y0:
            raise ValueError(f"box {k} is empty inside a {width}x{height} image")
        out[k] = fit_thumbnail(rgb[y0:y1, x0:x1], size)
    return out


def thumbnails_from_file(
    path: str | os.PathLike, boxes: np.ndarray | None, size: int
) -> tuple[np.ndarray, tuple[int, int]]:
    """Read ``path`` once; return thumbnails of its ``boxes`` (k, 4) and the image (height, width).

    Thumbnails are (k, size, size, 3) uint8, k = 1 for the whole image when ``boxes`` is None.
    Raises ImageReadError, also when a box lies outside the image.
    """
    rgb = read_image(path)
    if boxes is None:
        return fit_thumbnail(rgb, size)[None], rgb.shape[:2]
    try:
        return crop_thumbnails(rgb, boxes, size), rgb.shape[:2]
    except ValueError as err:
        raise ImageReadError(path, str(err)) from None


def _read_pillow(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        img.load()
        if img.mode in ("L", "RGB", "RGBA", "I;16", "I;16B", "I;16L", "I", "F"):
            return np.asarray(img)
        if img.mode == "LA":
            return np.asarray(img)[..., 0]
        return np.asarray(img.convert("RGB"))


def _read_tiff(path: Path) -> tuple[np.ndarray, str | None]:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            if not tif.series:
                raise ImageReadError(path, "TIFF holds no image")
            series = tif.series[0]
            data = series.asarray()
            axes = series.axes
    except tifffile.TiffFileError as err:
        raise ImageReadError(path, f"unreadable image ({_describe(err)})") from None
    known = "Q" not in axes and "I" not in axes and len(axes) == data.ndim
    return data, axes if known else None


def _to_channels_last(data: np.ndarray, axes: str | None) -> np.ndarray:
    """Reorder an N-d array to (H, W, C), max-projecting axes that are neither plane nor channel."""
    if axes is None or not all(a in axes for a in _PLANE_AXES):
        axes = _guess_axes(data.shape)
    channel = next((a for a in _CHANNEL_AXES if a in axes), None)
    keep = [axes.index("Y"), axes.index("X")] + ([axes.index(channel)] if channel else [])
    projected = tuple(i for i in range(data.ndim) if i not in keep)
    if projected:
        data = data.max(axis=projected)
        keep = [sum(1 for j in keep if j < i) for i in keep]
    data = np.moveaxis(data, keep, list(range(len(keep))))
    return data if channel else data[:, :, None]


def _guess_axes(shape: tuple[int, ...]) -> str:
    """Axis letters for an array without metadata by numpy's convention: (..., Y, X[, C]).

    The last axis holds channels when it has at most MAX_CHANNELS entries and is shorter than
    both before it; otherwise the last two axes are the plane and the one before them holds the
    channels if it is short enough. Every other axis is a z (projected).
    """
    letters = ["Z"] * len(shape)
    if shape[-1] <= MAX_CHANNELS and shape[-1] < min(shape[-3], shape[-2]):
        letters[-3:] = ["Y", "X", "C"]
    else:
        letters[-2:] = ["Y", "X"]
        if shape[-3] <= MAX_CHANNELS:
            letters[-3] = "C"
    return "".join(letters)


def _channels_to_rgb(planar: np.ndarray) -> np.ndarray:
    """(H, W, C) uint8 to (H, W, 3): grey replicated, else the first three channels as R, G, B."""
    height, width, channels = planar.shape
    if channels == 1:
        return np.repeat(planar, 3, axis=2)
    rgb = np.zeros((height, width, 3), dtype=np.uint8)
    used = min(channels, 3)
    rgb[:, :, :used] = planar[:, :, :used]
    return rgb


def _describe(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text[:200]
