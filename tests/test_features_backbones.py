"""Backbones: the packaged EfficientNet-Lite0 weights mapped onto timm, weight files and errors."""

from __future__ import annotations

import pytest
import timm
import torch
from skimage import data

from napari_tsne_label.errors import UserInputError
from napari_tsne_label.features.backbones import (
    DEFAULT_BACKBONE,
    create_backbone,
    fit_state_dict,
    load_state_dict_file,
    packaged_lite0_weights_path,
)


@pytest.fixture(scope="module")
def imagenet_classifier():
    """The default backbone with its ImageNet classifier and the offline weights (loaded once)."""
    return create_backbone(DEFAULT_BACKBONE, with_classifier=True)


def top_class(model, preprocessing, image) -> int:
    """ImageNet class index the model predicts for an RGB uint8 image (h, w, 3)."""
    with torch.inference_mode():
        return int(model(preprocessing.to_tensor(image[None])).argmax())


def test_lite0_weights_classify_a_cat(imagenet_classifier):
    assert 281 <= top_class(*imagenet_classifier, data.chelsea()) <= 285


def test_lite0_weights_classify_espresso(imagenet_classifier):
    assert top_class(*imagenet_classifier, data.coffee()) in (967, 968)


def test_lite0_uses_tf_lite_inception_normalisation(imagenet_classifier):
    # TF EfficientNet-Lite was trained on (x - 127) / 128, i.e. [-1, 1] inputs at 224 px
    _, preprocessing = imagenet_classifier
    assert preprocessing.input_size == 224
    assert preprocessing.mean == (0.5, 0.5, 0.5)
    assert preprocessing.std == (0.5, 0.5, 0.5)


def test_packaged_weights_are_mapped_by_position_onto_timm_names():
    source = load_state_dict_file(packaged_lite0_weights_path())
    model = timm.create_model(DEFAULT_BACKBONE)
    fitted = fit_state_dict(model, source, "packaged")
    assert len(source) == len(fitted) == 296
    assert next(iter(source)) == "_conv_stem.weight" and next(iter(fitted)) == "conv_stem.weight"
    assert list(fitted) == list(model.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(source.values(), fitted.values()))


def test_feature_backbone_outputs_pooled_features():
    model, _ = create_backbone()
    with torch.inference_mode():
        out = model(torch.zeros(2, 3, 64, 64))
    assert out.shape == (2, 1280) and out.dtype == torch.float32
    assert not model.training


def test_missing_weights_file_is_one_line(tmp_path):
    path = tmp_path / "none.pth"
    with pytest.raises(UserInputError, match="^weights file not found: .*none.pth$"):
        create_backbone(weights=path)


@pytest.mark.parametrize("content", [b"not a checkpoint at all", b"", b"PK\x03\x04truncated"])
def test_corrupt_weights_file_is_one_line(tmp_path, content):
    path = tmp_path / "corrupt.pth"
    path.write_bytes(content)
    with pytest.raises(UserInputError) as err:
        create_backbone(weights=path)
    message = str(err.value)
    assert message.startswith(f"cannot read weights file {path}: ")
    assert "\n" not in message


def test_weights_of_another_shape_name_the_tensor(tmp_path):
    state = load_state_dict_file(packaged_lite0_weights_path())
    state["_fc.bias"] = torch.zeros(10)
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(UserInputError) as err:
        create_backbone(weights=path, with_classifier=True)
    assert str(err.value) == (
        f"weights {path} do not fit backbone at classifier.bias: shape (10,), the model expects (1000,)"
    )


def test_weights_of_another_architecture_count_tensors(tmp_path):
    path = tmp_path / "other.pth"
    torch.save(timm.create_model("test_efficientnet").state_dict(), path)
    with pytest.raises(UserInputError, match=r"^weights .* do not fit backbone: \d+ tensors, the model has 296$"):
        create_backbone(weights=path, with_classifier=True)


@pytest.mark.parametrize("with_classifier_in_file", [True, False])
def test_local_checkpoint_round_trip(tmp_path, with_classifier_in_file):
    torch.manual_seed(3)
    source = timm.create_model("test_efficientnet", num_classes=1000 if with_classifier_in_file else 0)
    path = tmp_path / "ckpt.pth"
    torch.save({"state_dict": source.state_dict()}, path)
    model, _ = create_backbone("test_efficientnet", weights=path)
    expected = {k: v for k, v in source.state_dict().items() if not k.startswith("classifier")}
    assert model.state_dict().keys() == expected.keys()
    assert all(torch.equal(model.state_dict()[k], v) for k, v in expected.items())


def test_other_backbone_never_downloads_unasked():
    with pytest.raises(UserInputError) as err:
        create_backbone("resnet18")
    assert str(err.value) == (
        "backbone 'resnet18' has no offline weights: pass --weights FILE, or --download to fetch "
        "timm's pretrained weights"
    )


def test_unknown_backbone_is_one_line():
    with pytest.raises(UserInputError, match="^cannot create backbone 'no_such_net': "):
        create_backbone("no_such_net", pretrained=False)


def test_random_backbone_is_seeded():
    torch.manual_seed(1)
    first, _ = create_backbone("test_efficientnet", pretrained=False)
    torch.manual_seed(1)
    second, _ = create_backbone("test_efficientnet", pretrained=False)
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))
