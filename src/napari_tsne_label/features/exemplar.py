"""Rotation Exemplar-CNN (paper section 2): each sample is its own surrogate class.

A ReLU fully-connected layer as wide as the backbone output, followed by a linear classifier over
the N exemplars, learns to recognise every sample under unrestricted random rotation; the ReLU
layer's output is the feature. Transfer-Frozen (TF) trains only this head, Transfer (TR) trains
the backbone too. Rotations are drawn from a fixed fine set of angles by a seeded schedule, so a
frozen backbone's outputs can be computed once per drawn (sample, angle) pair and cached: the
training epochs then touch only the head, and give the same loss curve as the uncached path.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from napari_tsne_label.features.backbones import Preprocessing
from napari_tsne_label.progress import Progress, ProgressGenerator


@dataclass(frozen=True)
class ExemplarConfig:
    """Training settings: ``epochs`` passes over all samples in batches of ``batch_size``, rotation
    angles from ``n_angles`` equal steps of the full turn, Adam with ``learning_rate`` for the
    head and ``backbone_learning_rate`` for the backbone (TR only), everything seeded by ``seed``.
    """

    epochs: int = 10
    batch_size: int = 64
    n_angles: int = 36
    learning_rate: float = 1e-3
    backbone_learning_rate: float = 1e-5
    seed: int = 0


@dataclass(frozen=True)
class RotationSchedule:
    """Seeded draws for every epoch: ``order`` (epochs, N) a permutation of the samples per epoch,
    ``angle_index`` (epochs, N) the rotation index drawn for each sample, and ``angles`` (A,)
    the fixed set of rotation angles in degrees.
    """

    order: np.ndarray
    angle_index: np.ndarray
    angles: np.ndarray

    @classmethod
    def draw(cls, n_samples: int, epochs: int, n_angles: int, seed: int) -> RotationSchedule:
        """Draw the schedule for ``n_samples`` samples from ``numpy.random.default_rng(seed)``."""
        rng = np.random.default_rng(seed)
        order = np.stack([rng.permutation(n_samples) for _ in range(epochs)]).reshape(epochs, n_samples)
        angle_index = rng.integers(0, n_angles, size=(epochs, n_samples))
        angles = np.arange(n_angles) * (360.0 / n_angles)
        return cls(order=order, angle_index=angle_index, angles=angles)

    @property
    def n_angles(self) -> int:
        """Number A of rotation angles."""
        return len(self.angles)

    def drawn_pairs(self) -> np.ndarray:
        """Sorted unique keys ``sample * A + angle index`` of every pair drawn in any epoch."""
        samples = np.broadcast_to(np.arange(self.order.shape[1]), self.angle_index.shape)
        return np.unique(samples * self.n_angles + self.angle_index)


class ExemplarHead(nn.Module):
    """The ReLU FC layer (d -> d) giving the feature and the linear exemplar classifier (d -> N)."""

    def __init__(self, width: int, n_exemplars: int):
        super().__init__()
        self.fc = nn.Linear(width, width)
        self.classifier = nn.Linear(width, n_exemplars)

    def embed(self, z: torch.Tensor) -> torch.Tensor:
        """The feature of backbone outputs ``z`` (B, d): ReLU(FC(z)), shape (B, d)."""
        return F.relu(self.fc(z))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Exemplar logits (B, N) of backbone outputs ``z`` (B, d)."""
        return self.classifier(self.embed(z))


class ExemplarFeatureNet(nn.Module):
    """Backbone followed by the trained head's ReLU FC layer: images (B, 3, s, s) -> (B, d)."""

    def __init__(self, backbone: nn.Module, head: ExemplarHead):
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Exemplar features (B, d) of preprocessed images ``x``."""
        return self.head.embed(self.backbone(x))


@dataclass
class ExemplarResult:
    """A trained ``head`` and the mean training loss of every epoch, ``losses`` (epochs,)."""

    head: ExemplarHead
    losses: list[float]


def rotate(x: torch.Tensor, angles_deg: torch.Tensor) -> torch.Tensor:
    """Images ``x`` (B, C, s, s) each rotated about its centre by ``angles_deg`` (B,) degrees.

    Bilinear sampling; corners outside the source are filled by reflection.
    """
    theta = angles_deg.to(x.dtype) * (math.pi / 180.0)
    cos, sin, zero = torch.cos(theta), torch.sin(theta), torch.zeros_like(theta)
    matrix = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    grid = F.affine_grid(matrix, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def compute_device() -> torch.device:
    """The GPU when torch sees one, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def train_exemplar(
    backbone: nn.Module,
    thumbnails: np.ndarray,
    preprocessing: Preprocessing,
    *,
    train_backbone: bool,
    use_cache: bool = True,
    config: ExemplarConfig = ExemplarConfig(),
    input_size: int | None = None,
) -> ProgressGenerator[ExemplarResult]:
    """Train an Exemplar head on ``backbone`` over ``thumbnails`` (N, h, w, 3) uint8.

    TF: ``train_backbone=False`` leaves the backbone untouched; ``use_cache`` then computes its
    outputs once per drawn (sample, angle) pair. TR: ``train_backbone=True`` updates the backbone
    in place (its batch-norm statistics stay frozen) and needs ``use_cache=False``. Yields one
    progress report per cache batch and per epoch (with the epoch's mean loss).
    """
    if train_backbone and use_cache:
        raise ValueError("the feature cache needs a frozen backbone (use_cache=False for TR)")
    device = compute_device()
    n_samples = len(thumbnails)
    schedule = RotationSchedule.draw(n_samples, config.epochs, config.n_angles, config.seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        head = ExemplarHead(backbone.num_features, n_samples)
    backbone.to(device).eval().requires_grad_(train_backbone)
    head.to(device).train()

    def rotated_inputs(samples: np.ndarray, angle_index: np.ndarray) -> torch.Tensor:
        x = preprocessing.to_tensor(thumbnails[samples], input_size).to(device)
        return rotate(x, torch.from_numpy(schedule.angles[angle_index]).to(device))

    if use_cache:
        outputs = yield from _cached_outputs(backbone, rotated_inputs, schedule, config.batch_size)
    else:
        outputs = _live_outputs(backbone, rotated_inputs, train_backbone)
    parameters = [{"params": head.parameters(), "lr": config.learning_rate}]
    if train_backbone:
        parameters.append({"params": backbone.parameters(), "lr": config.backbone_learning_rate})
    optimizer = torch.optim.Adam(parameters)
    losses: list[float] = []
    for epoch in range(config.epochs):
        total = 0.0
        for start in range(0, n_samples, config.batch_size):
            samples = schedule.order[epoch, start:start + config.batch_size]
            z = outputs(samples, schedule.angle_index[epoch, samples])
            loss = F.cross_entropy(head(z), torch.from_numpy(samples).to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(samples)
        losses.append(total / n_samples)
        yield Progress(epoch + 1, config.epochs, "exemplar training", f"loss {losses[-1]:.4f}")
    backbone.requires_grad_(False).cpu()
    return ExemplarResult(head=head.eval().cpu(), losses=losses)


OutputsFn = Callable[[np.ndarray, np.ndarray], torch.Tensor]


def _live_outputs(backbone: nn.Module, rotated_inputs: Callable, train_backbone: bool) -> OutputsFn:
    """Backbone outputs computed afresh for every batch (with gradients when it is trained)."""

    def outputs(samples: np.ndarray, angle_index: np.ndarray) -> torch.Tensor:
        with torch.set_grad_enabled(train_backbone):
            return backbone(rotated_inputs(samples, angle_index))

    return outputs


def _cached_outputs(
    backbone: nn.Module, rotated_inputs: Callable, schedule: RotationSchedule, batch_size: int
) -> ProgressGenerator[OutputsFn]:
    """Frozen backbone outputs for every drawn (sample, angle) pair, computed once; a lookup."""
    keys = schedule.drawn_pairs()
    n_angles = schedule.n_angles
    chunks = []
    for start in range(0, len(keys), batch_size):
        batch = keys[start:start + batch_size]
        with torch.no_grad():
            chunks.append(backbone(rotated_inputs(batch // n_angles, batch % n_angles)))
        yield Progress(min(start + batch_size, len(keys)), len(keys), "feature cache")
    cache = torch.cat(chunks)
    row_of = np.full(schedule.order.shape[1] * n_angles, -1, dtype=np.int64)
    row_of[keys] = np.arange(len(keys))

    def outputs(samples: np.ndarray, angle_index: np.ndarray) -> torch.Tensor:
        return cache[torch.from_numpy(row_of[samples * n_angles + angle_index])]

    return outputs
