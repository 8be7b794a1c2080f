"""Feature extraction methods on a project: shapes, known answers, reuse, cancellation, dask."""

from __future__ import annotations

import numpy as np
import pytest
import timm
import torch

from napari_tsne_label.errors import UserInputError
from napari_tsne_label.features.backbones import Preprocessing, create_backbone
from napari_tsne_label.features.extraction import (
    BatchExtractor,
    ExtractionSettings,
    extract,
    extract_batches,
    stored_features_match,
)
from napari_tsne_label.progress import drain

INPUT_SIZE = 32


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    """A checkpoint file of timm's tiny test EfficientNet (256-d features), seeded."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "tiny.pth"
    torch.save(timm.create_model("test_efficientnet").state_dict(), path)
    return str(path)


def settings(method, **overrides):
    """Small, fast settings: 32-px CNN input, 8-px pixel features, one Exemplar epoch."""
    values = {"input_size": INPUT_SIZE, "pix_size": 8, "batch_size": 8, "epochs": 1, "n_angles": 8}
    values |= overrides
    return ExtractionSettings(method, **values)


def tiny(method, weights, **overrides):
    """Fast settings on the tiny test backbone loaded from the local ``weights`` file."""
    return settings(method, backbone="test_efficientnet", weights=weights, **overrides)


def run(project, extraction_settings, scheduler=None):
    """Drain an extraction; return (features, progress reports)."""
    reports = []
    features = drain(extract(project, extraction_settings, scheduler), reports.append)
    return features, reports


@pytest.mark.parametrize(
    "method, width", [("pix", 192), ("pre", 192), ("rn", 256), ("im", 256), ("tf", 256), ("tr", 256)]
)
def test_method_shapes_and_storage(project, tiny_weights, method, width):
    features, reports = run(project, tiny(method, tiny_weights))
    assert features.shape == (20, width) and features.dtype == np.float32
    assert np.isfinite(features).all()
    assert project.features[method] == (20, width)
    np.testing.assert_array_equal(project.read_features(method), features)
    assert reports[-1].stage == "extracting features" and reports[-1].done == 20


def test_pix_and_pre_of_a_flat_colour(project):
    flat = np.full((2, 8, 8, 3), (51, 102, 255), dtype=np.uint8)
    pix = BatchExtractor(Preprocessing(4, (0.0,) * 3, (1.0,) * 3), 4)(flat)
    np.testing.assert_allclose(pix.reshape(2, 3, 16)[:, :, 0], [[0.2, 0.4, 1.0]] * 2, atol=1e-6)
    _, lite0 = create_backbone(pretrained=False)
    pre = BatchExtractor(lite0, 4)(flat)
    np.testing.assert_allclose(pre.reshape(2, 3, 16)[:, :, 5], [[-0.6, -0.2, 1.0]] * 2, atol=1e-6)


def test_im_matches_a_direct_forward_pass(project):
    features, _ = run(project, settings("im"))
    model, preprocessing = create_backbone()
    with torch.inference_mode():
        expected = model(preprocessing.to_tensor(project.thumbnails[:], INPUT_SIZE)).numpy()
    np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-5)


def test_same_settings_reuse_stored_features(project, tiny_weights):
    first, reports = run(project, tiny("tf", tiny_weights))
    assert reports and stored_features_match(project, tiny("tf", tiny_weights))
    again, reports_again = run(project, tiny("tf", tiny_weights))
    assert reports_again == []
    np.testing.assert_array_equal(first, again)
    assert not stored_features_match(project, tiny("tf", tiny_weights, seed=1))
    _, reports_new = run(project, tiny("tf", tiny_weights, seed=1))
    assert reports_new
    assert project.feature_settings("tf")["seed"] == 1


def test_stored_settings_name_what_made_the_features(project, tiny_weights):
    run(project, tiny("im", tiny_weights))
    assert project.feature_settings("im") == {
        "method": "im", "backbone": "test_efficientnet", "weights": tiny_weights, "input_size": INPUT_SIZE,
    }
    assert settings("tr", epochs=None).stored()["epochs"] == 3
    assert settings("pix").stored() == {"method": "pix", "pix_size": 8}


@pytest.mark.parametrize("method", ["rn", "tr"])
def test_exemplar_features_are_deterministic(project, tiny_weights, method):
    first, _ = run(project, tiny(method, tiny_weights, seed=2))
    project.write_features(method, np.zeros((20, 1)), {"stale": True})
    second, _ = run(project, tiny(method, tiny_weights, seed=2))
    np.testing.assert_array_equal(first, second)


def test_closing_the_generator_cancels_without_storing(project):
    gen = extract(project, settings("im", batch_size=4))
    report = next(gen)
    assert (report.done, report.total) == (4, 20)
    gen.close()
    assert "im" not in project.features


def test_batch_size_does_not_change_features(project):
    small, _ = run(project, settings("im", batch_size=3))
    large, _ = run(project, settings("im", batch_size=20))
    np.testing.assert_allclose(small, large, rtol=1e-4, atol=1e-5)


def test_unknown_method_is_one_line():
    with pytest.raises(UserInputError, match="^unknown method 'xyz': choose one of pix, pre, rn, im, tf, tr$"):
        ExtractionSettings("xyz")


def test_nonpositive_batch_size_is_refused():
    with pytest.raises(UserInputError, match="^batch-size must be at least 1$"):
        ExtractionSettings("im", batch_size=0)


def test_distributed_run_equals_local_run(project):
    from distributed import LocalCluster

    torch.manual_seed(0)
    model, preprocessing = create_backbone("test_efficientnet", pretrained=False)
    extractor = BatchExtractor(preprocessing, INPUT_SIZE, model)
    thumbnails = project.thumbnails_dask()
    local = drain(extract_batches(thumbnails, extractor, batch_size=6))
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster:
        reports = []
        remote = drain(extract_batches(thumbnails, extractor, 6, cluster.scheduler_address), reports.append)
    assert remote.shape == local.shape == (20, 256) and remote.dtype == np.float32
    np.testing.assert_allclose(remote, local, rtol=1e-5, atol=1e-6)
    assert max(r.done for r in reports) == 20 and len(reports) == 4


def test_malformed_scheduler_address_is_one_line(project):
    extractor = BatchExtractor(Preprocessing(4, (0.0,) * 3, (1.0,) * 3), 4)
    with pytest.raises(UserInputError, match="^cannot reach dask scheduler nonsense::x: invalid address"):
        drain(extract_batches(project.thumbnails_dask(), extractor, 4, "nonsense::x"))
