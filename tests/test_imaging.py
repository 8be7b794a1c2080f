"""Reading PNG/JPEG/TIFF of every bit depth and layout into RGB uint8 thumbnails."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image

from napari_tsne_label.imaging import (
    ImageReadError,
    crop_thumbnails,
    fit_thumbnail,
    image_size,
    is_image_file,
    read_image,
    stretch_to_uint8,
    thumbnails_from_file,
    to_rgb8,
)

RNG = np.random.default_rng(7)
RGB = RNG.integers(0, 256, size=(6, 9, 3), dtype=np.uint8)


def test_png_grey_rgb_rgba_are_exact(tmp_path):
    grey = RGB[:, :, 0]
    Image.fromarray(grey).save(tmp_path / "grey.png")
    Image.fromarray(RGB).save(tmp_path / "rgb.png")
    rgba = np.dstack([RGB, np.full((6, 9), 17, np.uint8)])
    Image.fromarray(rgba).save(tmp_path / "rgba.PNG")
    np.testing.assert_array_equal(read_image(tmp_path / "grey.png"), np.dstack([grey] * 3))
    np.testing.assert_array_equal(read_image(tmp_path / "rgb.png"), RGB)
    out = read_image(tmp_path / "rgba.PNG")
    assert out.shape == (6, 9, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, RGB)


def test_palette_png_is_converted_to_rgb(tmp_path):
    Image.fromarray(RGB).convert("P", palette=Image.Palette.ADAPTIVE, colors=4).save(
        tmp_path / "p.png"
    )
    out = read_image(tmp_path / "p.png")
    assert out.shape == (6, 9, 3)
    assert len(np.unique(out.reshape(-1, 3), axis=0)) <= 4


def test_jpeg_reads_close_to_the_original(tmp_path):
    smooth = np.repeat(np.linspace(0, 255, 32, dtype=np.uint8)[None, :, None], 16, axis=0)
    image = np.concatenate([smooth, 255 - smooth, smooth // 2], axis=2)
    Image.fromarray(image).save(tmp_path / "a.jpg", quality=95)
    out = read_image(tmp_path / "a.jpg")
    assert out.shape == (16, 32, 3)
    assert np.abs(out.astype(int) - image).mean() < 3


def test_sixteen_bit_png_is_stretched_by_percentiles_not_by_a_hot_pixel(tmp_path):
    ramp = np.linspace(1000, 2000, 400).reshape(20, 20).astype(np.uint16)
    ramp[0, 0] = 65535
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    out = read_image(tmp_path / "deep.png")
    assert out.dtype == np.uint8 and out.shape == (20, 20, 3)
    assert out[0, 0, 0] == 255
    assert out[0, 1, 0] == 0
    assert 120 <= np.median(out[..., 0]) <= 136
    np.testing.assert_array_equal(out[..., 0], out[..., 2])


def test_stretch_known_values_and_constant_and_nan_channels():
    data = np.zeros((1, 201, 3))
    data[0, :, 0] = np.arange(201)
    data[0, :, 1] = 5.0
    data[0, :, 2] = np.nan
    out = stretch_to_uint8(data, low=0, high=100)
    np.testing.assert_array_equal(out[0, [0, 100, 200], 0], [0, 128, 255])
    assert not out[..., 1:].any()


def test_tiff_channel_stack_with_metadata_maps_first_channels_to_rgb(tmp_path):
    stack = np.zeros((4, 8, 10), np.uint16)
    for c in range(4):
        stack[c, :, c + 1 :] = 1000 * (c + 1)
    tifffile.imwrite(tmp_path / "cyx.tif", stack, imagej=True, metadata={"axes": "CYX"})
    out = read_image(tmp_path / "cyx.tif")
    assert out.shape == (8, 10, 3)
    np.testing.assert_array_equal(
        out[0, :4], [[0, 0, 0], [255, 0, 0], [255, 255, 0], [255, 255, 255]]
    )


def test_tiff_z_stack_is_max_projected(tmp_path):
    stack = np.zeros((5, 2, 6, 6), np.uint8)
    for z in range(5):
        stack[z, 0, z, z] = 200
        stack[z, 1, z, 0] = 100
    tifffile.imwrite(tmp_path / "zcyx.tif", stack, imagej=True, metadata={"axes": "ZCYX"})
    out = read_image(tmp_path / "zcyx.tif")
    np.testing.assert_array_equal(np.diagonal(out[..., 0])[:5], [200] * 5)
    np.testing.assert_array_equal(out[:5, 0, 1], [100] * 5)
    assert not out[..., 2].any()


@pytest.mark.parametrize(
    "shape, expected_rgb",
    [
        ((5, 6, 7), (0, 1, 2)),  # channels first, no metadata: first three of five
        ((6, 7, 5), (0, 1, 2)),  # channels last, five of them
        ((6, 7, 2), (0, 1, None)),  # two channels: blue stays black
    ],
)
def test_tiff_without_axes_metadata_guesses_channels(tmp_path, shape, expected_rgb):
    data = np.zeros(shape, np.uint8)
    channel_axis = 0 if shape[0] == 5 else 2
    for c in range(shape[channel_axis]):
        np.moveaxis(data, channel_axis, 0)[c] = 10 * (c + 1)
    tifffile.imwrite(tmp_path / "raw.tif", data, photometric="minisblack")
    out = read_image(tmp_path / "raw.tif")
    assert out.shape == (6, 7, 3)
    assert [int(out[0, 0, k]) for k in range(3)] == [
        0 if c is None else 10 * (c + 1) for c in expected_rgb
    ]


def test_tiff_long_stack_without_metadata_is_a_z_projection(tmp_path):
    stack = np.zeros((30, 6, 6), np.uint16)
    stack[:, 2, 3] = np.arange(30)
    stack[7, 0, 0] = 500
    tifffile.imwrite(tmp_path / "z.tif", stack, photometric="minisblack")
    out = read_image(tmp_path / "z.tif")
    assert out.shape == (6, 6, 3)
    assert out[0, 0, 0] == 255 and out[2, 3, 0] > 0 and out[5, 5, 0] == 0


def test_float_and_rgb_tiffs(tmp_path):
    tifffile.imwrite(tmp_path / "rgb.tif", RGB, photometric="rgb")
    np.testing.assert_array_equal(read_image(tmp_path / "rgb.tif"), RGB)
    values = np.linspace(-1.0, 1.0, 100, dtype=np.float32).reshape(10, 10)
    tifffile.imwrite(tmp_path / "f.tif", values)
    out = read_image(tmp_path / "f.tif")
    assert out[0, 0, 0] == 0 and out[-1, -1, 0] == 255


def test_to_rgb8_with_explicit_axes_and_bool():
    data = np.zeros((3, 4, 5), np.uint8)
    data[1] = 9
    np.testing.assert_array_equal(to_rgb8(data, "CYX")[0, 0], [0, 9, 0])
    np.testing.assert_array_equal(to_rgb8(data, "ZYX")[0, 0], [9, 9, 9])
    np.testing.assert_array_equal(to_rgb8(np.eye(2, dtype=bool))[:, :, 1], [[255, 0], [0, 255]])


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("empty.png", b"", "empty file"),
        ("junk.png", b"this is not a png", "unreadable image (cannot identify image file"),
        ("junk.tif", b"II*\x00garbage", "TIFF holds no image"),
        ("text.tiff", b"plain text", "unreadable image (not a TIFF file"),
    ],
)
def test_unreadable_files_raise_with_a_reason(tmp_path, name, content, reason):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ImageReadError) as err:
        read_image(tmp_path / name)
    assert err.value.reason.startswith(reason)
    assert err.value.path == str(tmp_path / name)


def test_truncated_jpeg_is_reported(tmp_path):
    Image.fromarray(RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "t.jpg")
    data = (tmp_path / "t.jpg").read_bytes()
    (tmp_path / "t.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="truncated"):
        read_image(tmp_path / "t.jpg")


def test_decompression_bomb_is_reported(tmp_path, monkeypatch):
    Image.fromarray(RGB).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10)
    with pytest.raises(
        ImageReadError, match="unreadable image \\(Image size \\(54 pixels\\) exceeds"
    ):
        read_image(tmp_path / "big.png")


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(ImageReadError, match="unreadable image"):
        read_image(tmp_path / "gone.png")


def test_fit_thumbnail_keeps_aspect_and_pads_centred():
    out = fit_thumbnail(np.full((10, 20, 3), 255, np.uint8), 8)
    assert out.shape == (8, 8, 3) and out.dtype == np.uint8
    assert (out[2:6] == 255).all()
    assert not out[[0, 1, 6, 7]].any()
    tall = fit_thumbnail(np.full((30, 3, 3), 200, np.uint8), 10)
    assert (tall[:, 4] == 200).all() and not tall[:, :4].any() and not tall[:, 5:].any()


def test_crop_thumbnails_clip_boxes_and_refuse_empty_ones():
    image = np.zeros((10, 10, 3), np.uint8)
    image[:5, :5] = 255
    out = crop_thumbnails(image, [[0, 0, 5, 5], [5, 5, 20, 20]], 4)
    assert out.shape == (2, 4, 4, 3)
    assert (out[0] == 255).all() and not out[1].any()
    with pytest.raises(ValueError, match="box 0 is empty inside a 10x10 image"):
        crop_thumbnails(image, [[12, 0, 15, 5]], 4)


def test_thumbnails_from_file_and_image_size(tmp_path):
    Image.fromarray(RGB).save(tmp_path / "rgb.png")
    whole, shape = thumbnails_from_file(tmp_path / "rgb.png", None, 9)
    assert whole.shape == (1, 9, 9, 3) and shape == (6, 9)
    np.testing.assert_array_equal(whole[0, 1:7], RGB)
    crops, _ = thumbnails_from_file(tmp_path / "rgb.png", np.array([[0, 0, 3, 3], [3, 3, 6, 6]]), 3)
    np.testing.assert_array_equal(crops[1], RGB[3:6, 3:6])
    assert image_size(tmp_path / "rgb.png") == (9, 6)
    with pytest.raises(ImageReadError, match="box 0 is empty"):
        thumbnails_from_file(tmp_path / "rgb.png", np.array([[20, 20, 30, 30]]), 3)
    assert is_image_file("A.TIFF") and is_image_file("b.jpeg") and not is_image_file("c.xml")
