"""The feature extraction methods of the paper's Table 1, run in batches over a project's thumbnails.

``pix``  raw pixels: each thumbnail resized (antialiased bilinear) to ``pix_size`` squared, RGB in
         [0, 1], flattened to (3 * pix_size**2,); small enough for t-SNE, unlike full thumbnails.
``pre``  preprocessed pixels: the same, normalised with the backbone's mean and std as the CNN
         sees them.
``rn``   randomly initialised backbone (frozen) with a trained rotation Exemplar head.
``im``   ImageNet features: the backbone's global-average-pooled output.
``tf``   Transfer-Frozen: ImageNet backbone kept frozen, Exemplar head trained on top.
``tr``   Transfer: ImageNet backbone and Exemplar head trained together.

Thumbnails are read lazily from the Zarr store through dask, one batch at a time; with a dask
``scheduler`` address the batches run on that cluster instead (its workers must see the project's
path). Exemplar training itself runs on this machine (GPU when torch sees one) and holds the
thumbnails in memory. Results are stored with their settings; equal settings reuse them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from napari_tsne_label.errors import UserInputError
from napari_tsne_label.features.backbones import DEFAULT_BACKBONE, Preprocessing, create_backbone
from napari_tsne_label.features.exemplar import (
    ExemplarConfig,
    ExemplarFeatureNet,
    compute_device,
    train_exemplar,
)
from napari_tsne_label.progress import Progress, ProgressGenerator

METHODS = ("pix", "pre", "rn", "im", "tf", "tr")
EXEMPLAR_METHODS = ("rn", "tf", "tr")
DEFAULT_EPOCHS = {"rn": 10, "tf": 10, "tr": 3}
_IDENTITY = ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))

# the settings that determine each method's result (stored with the features, compared on reuse)
_RELEVANT = {
    "pix": ("method", "pix_size"),
    "pre": ("method", "backbone", "pix_size"),
    "im": ("method", "backbone", "weights", "input_size"),
}
_RELEVANT.update(
    {m: _RELEVANT["im"] + ("epochs", "batch_size", "n_angles", "seed") for m in EXEMPLAR_METHODS}
)


@dataclass(frozen=True)
class ExtractionSettings:
    """What to extract: ``method`` (one of METHODS) with timm ``backbone`` and optional local
    ``weights`` file (``download`` allows timm's pretrained download for other backbones);
    ``input_size`` pixels fed to the CNN (None: the backbone's own, 224 for the default);
    ``pix_size`` for pix/pre; ``batch_size``; Exemplar ``epochs`` (None: DEFAULT_EPOCHS),
    ``n_angles`` rotation angles and ``seed``.
    """

    method: str
    backbone: str = DEFAULT_BACKBONE
    weights: str | None = None
    download: bool = False
    input_size: int | None = None
    pix_size: int = 32
    batch_size: int = 64
    epochs: int | None = None
    n_angles: int = 36
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise UserInputError(f"unknown method {self.method!r}: choose one of {', '.join(METHODS)}")
        for name in ("pix_size", "batch_size", "n_angles"):
            if getattr(self, name) < 1:
                raise UserInputError(f"{name.replace('_', '-')} must be at least 1")
        if self.input_size is not None and self.input_size < 8:
            raise UserInputError("input-size must be at least 8 pixels")
        if self.epochs is not None and self.epochs < 1:
            raise UserInputError("epochs must be at least 1")
        if self.weights is not None:
            object.__setattr__(self, "weights", str(Path(self.weights).expanduser().resolve()))

    @property
    def exemplar_epochs(self) -> int:
        """Epochs of Exemplar training: ``epochs`` or the method's default."""
        return self.epochs if self.epochs is not None else DEFAULT_EPOCHS.get(self.method, 0)

    def stored(self) -> dict[str, Any]:
        """The settings that determine this method's features (JSON types), as stored with them."""
        values = asdict(self) | {"epochs": self.exemplar_epochs}
        return {name: values[name] for name in _RELEVANT[self.method]}


@dataclass
class BatchExtractor:
    """Features of one batch of thumbnails (B, h, w, 3) uint8 -> (B, d) float32: resize to
    ``input_size``, normalise with ``preprocessing``, then ``model`` (flattened pixels if None).
    Picklable, so dask workers can run it.
    """

    preprocessing: Preprocessing
    input_size: int
    model: nn.Module | None = None

    def __call__(self, thumbnails: np.ndarray) -> np.ndarray:
        """Features (B, d) float32 of ``thumbnails`` (B, h, w, 3) uint8."""
        x = self.preprocessing.to_tensor(thumbnails, self.input_size)
        if self.model is None:
            return x.flatten(1).numpy()
        device = compute_device()
        model = self.model.to(device).eval()
        with torch.inference_mode():
            return model(x.to(device)).float().cpu().numpy()


def stored_features_match(project: Any, settings: ExtractionSettings) -> bool:
    """Whether ``project`` already holds ``settings.method`` features made with these settings."""
    method = settings.method
    return method in project.features and project.feature_settings(method) == settings.stored()


def extract(
    project: Any, settings: ExtractionSettings, scheduler: str | None = None
) -> ProgressGenerator[np.ndarray]:
    """Extract, store and return the (N, d) float32 features of ``settings.method`` for ``project``.

    Features stored with equal settings are returned without recomputation. ``scheduler``: address
    of a dask.distributed scheduler to run the inference batches on (None: this process).
    """
    if stored_features_match(project, settings):
        return project.read_features(settings.method)
    extractor = yield from build_extractor(project, settings)
    features = yield from extract_batches(
        project.thumbnails_dask(), extractor, settings.batch_size, scheduler
    )
    project.write_features(settings.method, features, settings.stored())
    return features


def build_extractor(project: Any, settings: ExtractionSettings) -> ProgressGenerator[BatchExtractor]:
    """The batch extractor of ``settings.method``; Exemplar methods train their head first."""
    method = settings.method
    if method == "pix":
        return BatchExtractor(Preprocessing(settings.pix_size, *_IDENTITY), settings.pix_size)
    if method == "pre":
        _, preprocessing = create_backbone(settings.backbone, pretrained=False)
        return BatchExtractor(preprocessing, settings.pix_size)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        backbone, preprocessing = create_backbone(
            settings.backbone,
            weights=settings.weights,
            pretrained=method != "rn",
            download=settings.download,
        )
    input_size = settings.input_size or preprocessing.input_size
    if method == "im":
        return BatchExtractor(preprocessing, input_size, backbone)
    config = ExemplarConfig(
        epochs=settings.exemplar_epochs,
        batch_size=settings.batch_size,
        n_angles=settings.n_angles,
        seed=settings.seed,
    )
    result = yield from train_exemplar(
        backbone,
        np.asarray(project.thumbnails[:]),
        preprocessing,
        train_backbone=method == "tr",
        use_cache=method != "tr",
        config=config,
        input_size=input_size,
    )
    return BatchExtractor(preprocessing, input_size, ExemplarFeatureNet(backbone, result.head))


def extract_batches(
    thumbnails: Any, extractor: BatchExtractor, batch_size: int, scheduler: str | None = None
) -> ProgressGenerator[np.ndarray]:
    """Run ``extractor`` over the dask array ``thumbnails`` (N, h, w, 3) in batches of ``batch_size``.

    Returns the (N, d) float32 features. Closing the generator stops the work (on a cluster its
    pending batches are cancelled).
    """
    if scheduler is None:
        return (yield from _extract_here(thumbnails, extractor, batch_size))
    return (yield from _extract_on_cluster(thumbnails, extractor, batch_size, scheduler))


def _extract_here(thumbnails: Any, extractor: BatchExtractor, batch_size: int) -> ProgressGenerator[np.ndarray]:
    """Batches read and run one after the other in this process."""
    n_samples = len(thumbnails)
    parts = []
    for start in range(0, n_samples, batch_size):
        batch = thumbnails[start:start + batch_size].compute(scheduler="synchronous")
        parts.append(extractor(batch))
        yield Progress(start + len(batch), n_samples, "extracting features")
    return _stack(parts)


def _extract_on_cluster(
    thumbnails: Any, extractor: BatchExtractor, batch_size: int, scheduler: str
) -> ProgressGenerator[np.ndarray]:
    """Batches read and run by the workers of the dask.distributed cluster at ``scheduler``."""
    from distributed import Client, as_completed

    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError, ValueError) as err:
        raise UserInputError(f"cannot reach dask scheduler {scheduler}: {err}") from None
    futures: list[Any] = []
    try:
        shared = client.scatter(extractor, broadcast=True)
        batches = thumbnails.rechunk({0: batch_size})
        blocks = client.compute(list(batches.to_delayed().ravel()))
        futures = [client.submit(_apply, shared, block) for block in blocks]
        size_of = {future.key: size for future, size in zip(futures, batches.chunks[0])}
        done = 0
        for future in as_completed(futures):
            done += size_of[future.key]
            yield Progress(done, len(thumbnails), "extracting features")
        return _stack(client.gather(futures))
    finally:
        client.cancel(futures)
        client.close()


def _apply(extractor: BatchExtractor, batch: np.ndarray) -> np.ndarray:
    """Run ``extractor`` on ``batch`` (a function, so a worker can be handed both)."""
    return extractor(batch)


def _stack(parts: list[np.ndarray]) -> np.ndarray:
    """Concatenate batch results into one C-contiguous float32 matrix."""
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)
