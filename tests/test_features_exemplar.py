"""Rotation Exemplar-CNN: schedule, rotation, TF/TR training, the TF cache and determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_tsne_label.features.backbones import create_backbone
from napari_tsne_label.features.exemplar import (
    ExemplarConfig,
    ExemplarFeatureNet,
    RotationSchedule,
    rotate,
    train_exemplar,
)
from napari_tsne_label.progress import drain

N_SAMPLES = 10
INPUT_SIZE = 32


@pytest.fixture
def thumbnails() -> np.ndarray:
    """Ten random 12-px RGB thumbnails (10, 12, 12, 3) uint8."""
    return np.random.default_rng(5).integers(0, 256, size=(N_SAMPLES, 12, 12, 3), dtype=np.uint8)


def tiny_backbone():
    """timm's tiny test EfficientNet, randomly initialised with a fixed seed (256-d output)."""
    torch.manual_seed(7)
    return create_backbone("test_efficientnet", pretrained=False)


def train(thumbnails, *, train_backbone=False, use_cache=True, epochs=3, seed=0, backbone=None):
    """Train a head on the tiny backbone; return (result, backbone, progress reports)."""
    model, preprocessing = backbone or tiny_backbone()
    config = ExemplarConfig(epochs=epochs, batch_size=4, n_angles=8, seed=seed)
    reports = []
    result = drain(
        train_exemplar(model, thumbnails, preprocessing, train_backbone=train_backbone,
                       use_cache=use_cache, config=config, input_size=INPUT_SIZE),
        reports.append,
    )
    return result, model, reports


def state_copy(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_schedule_draws_permutations_and_angles():
    schedule = RotationSchedule.draw(6, epochs=4, n_angles=36, seed=0)
    assert schedule.order.shape == schedule.angle_index.shape == (4, 6)
    assert all(sorted(row) == list(range(6)) for row in schedule.order)
    assert schedule.angle_index.min() >= 0 and schedule.angle_index.max() < 36
    np.testing.assert_allclose(schedule.angles[:3], [0.0, 10.0, 20.0])
    pairs = schedule.drawn_pairs()
    expected = {(s, a) for row in schedule.angle_index for s, a in enumerate(row)}
    assert {(k // 36, k % 36) for k in pairs} == expected


def test_rotate_quarter_turn_and_identity():
    x = torch.arange(2 * 3 * 5 * 5, dtype=torch.float32).reshape(2, 3, 5, 5)
    y = rotate(x, torch.tensor([90.0, 0.0]))
    torch.testing.assert_close(y[0], torch.rot90(x[0], 1, (1, 2)), atol=1e-4, rtol=0)
    torch.testing.assert_close(y[1], x[1])


def test_transfer_frozen_leaves_backbone_unchanged(thumbnails):
    model, preprocessing = tiny_backbone()
    before = state_copy(model)
    train(thumbnails, backbone=(model, preprocessing))
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_transfer_changes_backbone(thumbnails):
    model, preprocessing = tiny_backbone()
    before = state_copy(model)
    train(thumbnails, train_backbone=True, use_cache=False, backbone=(model, preprocessing))
    changed = [k for k, v in model.state_dict().items() if not torch.equal(before[k], v)]
    assert "conv_stem.weight" in changed
    assert not any(k.endswith("running_mean") for k in changed)  # batch-norm statistics stay frozen


def test_cache_gives_the_uncached_loss_curve(thumbnails):
    cached, _, reports = train(thumbnails, use_cache=True)
    uncached, _, _ = train(thumbnails, use_cache=False)
    np.testing.assert_allclose(cached.losses, uncached.losses, rtol=1e-5)
    for a, b in zip(cached.head.state_dict().values(), uncached.head.state_dict().values()):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    assert {r.stage for r in reports} == {"feature cache", "exemplar training"}


def test_progress_reports_loss_per_epoch(thumbnails):
    result, _, reports = train(thumbnails, epochs=4)
    epochs = [r for r in reports if r.stage == "exemplar training"]
    assert [(r.done, r.total) for r in epochs] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert [r.message for r in epochs] == [f"loss {loss:.4f}" for loss in result.losses]


def test_loss_starts_near_chance_and_falls(thumbnails):
    result, _, _ = train(thumbnails, epochs=25, backbone=create_backbone())  # ImageNet Lite0
    assert abs(result.losses[0] - np.log(N_SAMPLES)) < 0.5
    assert result.losses[-1] < 0.75 * result.losses[0]


def test_training_is_deterministic_for_a_seed(thumbnails):
    first, _, _ = train(thumbnails, train_backbone=True, use_cache=False, epochs=2, seed=4)
    second, _, _ = train(thumbnails, train_backbone=True, use_cache=False, epochs=2, seed=4)
    other, _, _ = train(thumbnails, train_backbone=True, use_cache=False, epochs=2, seed=5)
    assert first.losses == second.losses
    assert all(torch.equal(a, b) for a, b in zip(first.head.state_dict().values(),
                                                  second.head.state_dict().values()))
    assert first.losses != other.losses


def test_feature_net_outputs_nonnegative_width_features(thumbnails):
    result, model, _ = train(thumbnails, epochs=1)
    net = ExemplarFeatureNet(model, result.head).eval()
    with torch.inference_mode():
        features = net(torch.zeros(3, 3, INPUT_SIZE, INPUT_SIZE))
    assert features.shape == (3, 256) and features.dtype == torch.float32
    assert float(features.min()) >= 0.0
    assert result.head.classifier.out_features == N_SAMPLES


def test_cache_with_trained_backbone_is_refused(thumbnails):
    with pytest.raises(ValueError, match="the feature cache needs a frozen backbone"):
        train(thumbnails, train_backbone=True, use_cache=True)
