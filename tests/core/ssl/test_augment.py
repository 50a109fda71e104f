"""Batched SSL augmentations: shapes, determinism, per-op references, statistics, presets."""

from __future__ import annotations

import dataclasses
import inspect
import json

import PIL.Image
import pytest
import torch
import torch.nn.functional as F
from torchvision import transforms as T
from torchvision.transforms.v2 import functional as TF

from app.core.ssl import augment as A
from app.core.ssl.augment import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    PRESETS,
    AugmentConfig,
    BatchAugment,
    ViewConfig,
    preset,
    render_views,
)

PLAIN = {
    "crop_min_scale": 1.0,
    "crop_max_scale": 1.0,
    "crop_ratio": (1.0, 1.0),
    "hflip_prob": 0.0,
    "cj_prob": 0.0,
    "grayscale_prob": 0.0,
    "blur_prob": 0.0,
    "normalize": False,
}
MEAN = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
STD = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Small tensors: intra-op threads only add contention when the CPU is shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _images(batch: int, side: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (batch, 3, side, side), dtype=torch.uint8, generator=gen)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _single(view: ViewConfig, images: torch.Tensor, seed: int = 0) -> torch.Tensor:
    return BatchAugment(AugmentConfig(views=(view,)))(images, _gen(seed))[0]


def _plain(side: int, **changes) -> ViewConfig:
    return ViewConfig(size=side, **{**PLAIN, **changes})


@pytest.mark.parametrize("size", [16, 32, 224])
@pytest.mark.parametrize("method", PRESETS)
def test_every_preset_gives_normalised_float_views(method: str, size: int):
    config = preset(method, size)
    views = BatchAugment(config)(_images(2, size), _gen())
    assert len(views) == len(config.views)
    low, high = (0 - MEAN) / STD, (1 - MEAN) / STD
    for out, view in zip(views, config.views, strict=True):
        assert out.shape == (2, 3, view.size, view.size)
        assert out.dtype == torch.float32
        assert torch.all(out >= low - 1e-5) and torch.all(out <= high + 1e-5)


@pytest.mark.parametrize("method", ["dino", "swav"])
@pytest.mark.parametrize(("size", "local"), [(224, 96), (32, 14), (16, 8), (8, 8)])
def test_multi_crop_presets_have_two_global_and_six_local_views(method, size, local):
    sizes = [v.size for v in preset(method, size).views]
    assert sizes == [size] * 2 + [local] * 6


def test_normalisation_is_imagenet_mean_std_of_the_unit_range_output():
    images = _images(8, 32)
    raw = _single(preset("simclr", 32, normalize=False).views[0], images)
    normed = _single(preset("simclr", 32).views[0], images)
    assert raw.min() >= 0 and raw.max() <= 1
    torch.testing.assert_close(normed, (raw - MEAN) / STD, rtol=1e-5, atol=1e-5)


def test_same_seed_same_views_and_different_seed_different_views():
    augment = BatchAugment(preset("byol", 32))
    images = _images(16, 32)
    first, again, other = (augment(images, _gen(s)) for s in (1, 1, 2))
    for a, b, c in zip(first, again, other, strict=True):
        assert torch.equal(a, b)
        assert not torch.equal(a, c)


def test_restoring_the_generator_state_replays_the_batch():
    augment = BatchAugment(preset("vicreg", 32))
    images, gen = _images(4, 32), _gen(3)
    augment(images, gen)
    state = gen.get_state()
    expected = augment(images, gen)
    gen.set_state(state)
    for a, b in zip(augment(images, gen), expected, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("batch", [1, 64])
def test_every_sample_gets_its_own_randomness(batch: int):
    images = _images(1, 32).expand(batch, -1, -1, -1)
    views = BatchAugment(preset("simclr", 32))(images, _gen())
    assert all(v.shape[0] == batch for v in views)
    flat = views[0].flatten(1)
    assert len({tuple(row.tolist()) for row in flat}) == batch


def test_plain_view_is_the_identity_at_the_input_size():
    images = _images(4, 24)
    out = _single(_plain(24), images)
    assert torch.equal((out * 255).round().to(torch.uint8), images)
    torch.testing.assert_close(out, images.float() / 255, rtol=0, atol=1e-5)


@pytest.mark.parametrize("size", [10, 24, 40])
def test_plain_view_equals_a_bilinear_resize(size: int):
    images = _images(4, 32)
    expected = F.interpolate(
        images.float() / 255, size=(size, size), mode="bilinear", align_corners=False
    )
    torch.testing.assert_close(_single(_plain(size), images), expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    ("changes", "reference"),
    [
        ({"hflip_prob": 1.0}, lambda x: torch.flip(x, [-1])),
        ({"vflip_prob": 1.0}, lambda x: torch.flip(x, [-2])),
        ({"rotation_prob": 1.0}, lambda x: TF.rotate(x, 90)),
        ({"hflip_prob": 1.0, "rotation_prob": 1.0}, lambda x: TF.rotate(torch.flip(x, [-1]), 90)),
        ({"grayscale_prob": 1.0}, lambda x: TF.rgb_to_grayscale(x, num_output_channels=3)),
        ({"solarize_prob": 1.0}, lambda x: TF.solarize(x, 0.5)),
        ({"solarize_prob": 1.0, "solarize_threshold": 0.3}, lambda x: TF.solarize(x, 0.3)),
    ],
)
def test_certain_ops_match_torchvision(changes, reference):
    images = _images(4, 16)
    expected = reference(images.float() / 255)
    torch.testing.assert_close(_single(_plain(16, **changes), images), expected, rtol=0, atol=1e-5)


def test_arbitrary_rotation_matches_torchvision_inside_and_blackens_corners():
    x = _images(4, 32).float() / 255
    boxes = torch.tensor([[0.0, 0.0, 32.0, 32.0]]).repeat(4, 1)
    no = torch.zeros(4, dtype=torch.bool)
    out = A.resample(x, boxes, no, no, torch.full((4,), 30.0), 32, black_corners=True)
    expected = TF.rotate(x, 30.0, interpolation=TF.InterpolationMode.BILINEAR)
    torch.testing.assert_close(out[..., 8:24, 8:24], expected[..., 8:24, 8:24], atol=1e-5, rtol=0)
    assert torch.all(out[..., 0, 0] == 0)


def test_rotation_degrees_view_keeps_shape_and_range():
    view = _plain(16, rotation_prob=1.0, rotation_degrees=45.0)
    out = _single(view, _images(64, 32))
    assert out.shape == (64, 3, 16, 16) and out.min() >= 0 and out.max() <= 1
    assert (out[:, :, 0, 0] == 0).all(dim=1).float().mean() > 0.7


def _factors(batch: int, low: float, high: float) -> torch.Tensor:
    return low + (high - low) * torch.rand(batch, generator=_gen(5))


@pytest.mark.parametrize(
    ("ours", "theirs", "low", "high", "atol"),
    [
        (A.adjust_brightness, TF.adjust_brightness, 0.0, 2.0, 1e-6),
        (A.adjust_contrast, TF.adjust_contrast, 0.0, 2.0, 1e-5),
        (A.adjust_saturation, TF.adjust_saturation, 0.0, 2.0, 1e-5),
        (A.adjust_hue, TF.adjust_hue, -0.5, 0.5, 1e-5),
    ],
)
def test_colour_ops_match_torchvision_per_sample(ours, theirs, low, high, atol):
    x = _images(12, 20).float() / 255
    x[0] = 0.5
    x[1, :, :4] = x[1, :1, :4]
    factors = _factors(12, low, high)
    expected = torch.stack([theirs(img, float(f)) for img, f in zip(x, factors, strict=True)])
    torch.testing.assert_close(ours(x, factors), expected, rtol=0, atol=atol)


def test_jitter_factors_follow_torchvision_ranges():
    view = ViewConfig(size=8, cj_strength=0.5, cj_bright=0.8, cj_contrast=2.4, cj_sat=0.4)
    factors = A.jitter_factors(torch.rand(4096, 4, generator=_gen()), view)
    lows, highs = factors.amin(dim=0), factors.amax(dim=0)
    expected_low, expected_high = [0.6, 0.0, 0.8, -0.1], [1.4, 2.2, 1.2, 0.1]
    torch.testing.assert_close(lows, torch.tensor(expected_low), atol=2e-3, rtol=0)
    torch.testing.assert_close(highs, torch.tensor(expected_high), atol=2e-3, rtol=0)


def test_blur_matches_torchvision_gaussian_blur_per_sample():
    x = _images(6, 24).float() / 255
    sigma = _factors(6, 0.1, 2.0)
    size = A.blur_kernel_size(2.0, 24)
    expected = torch.stack(
        [
            TF.gaussian_blur(img, [size, size], [float(s)] * 2)
            for img, s in zip(x, sigma, strict=True)
        ]
    )
    torch.testing.assert_close(A.gaussian_blur(x, sigma, size), expected, rtol=0, atol=1e-5)


def test_blur_kernel_is_odd_and_fits_tiny_images():
    assert A.blur_kernel_size(2.0, 224) == 13
    assert A.blur_kernel_size(2.0, 4) == 7
    out = _single(_plain(4, blur_prob=1.0), _images(3, 4))
    assert out.shape == (3, 3, 4, 4)


def test_colour_view_stays_in_unit_range_and_jitter_applies():
    images = _images(256, 16)
    out = _single(_plain(16, cj_prob=1.0), images)
    assert out.min() >= 0 and out.max() <= 1
    changed = (out - images.float() / 255).abs().flatten(1).amax(dim=1) > 1e-3
    assert changed.float().mean() > 0.95


def test_flip_fraction_matches_probability():
    ramp = torch.linspace(0, 255, 16).round().to(torch.uint8)
    images = ramp.view(1, 1, 1, 16).expand(4096, 3, 16, 16)
    out = _single(dataclasses.replace(preset("simclr", 8).views[0], **_no_colour()), images)
    flipped = out[..., :4].mean(dim=(1, 2, 3)) > out[..., -4:].mean(dim=(1, 2, 3))
    assert abs(flipped.float().mean().item() - 0.5) < 0.03


def _no_colour() -> dict:
    return {"cj_prob": 0.0, "grayscale_prob": 0.0, "normalize": False}


def test_grayscale_fraction_matches_probability():
    images = torch.zeros(4096, 3, 8, 8, dtype=torch.uint8)
    images[:, 0] = 255
    view = _plain(8, grayscale_prob=0.3)
    out = _single(view, images)
    gray = (out[:, 0] == out[:, 1]).flatten(1).all(dim=1)
    assert abs(gray.float().mean().item() - 0.3) < 0.03


@pytest.mark.parametrize(("low", "high"), [(0.08, 1.0), (0.05, 0.4), (0.4, 1.0)])
def test_crop_boxes_stay_in_scale_ratio_and_image(low: float, high: float):
    view = ViewConfig(size=8, crop_min_scale=low, crop_max_scale=high)
    boxes = A.sample_crop_boxes(torch.rand(4096, 22, generator=_gen()), 64, 64, view)
    x0, y0, w, h = boxes.unbind(dim=1)
    area = w * h / 64**2
    assert area.min() >= low - 1e-5 and area.max() <= high + 1e-5
    assert (w / h).min() >= 3 / 4 - 1e-5 and (w / h).max() <= 4 / 3 + 1e-5
    assert x0.min() >= 0 and y0.min() >= 0
    assert (x0 + w).max() <= 64 + 1e-4 and (y0 + h).max() <= 64 + 1e-4


def test_crop_area_and_ratio_distribution_matches_torchvision():
    view = ViewConfig(size=8)
    boxes = A.sample_crop_boxes(torch.rand(4096, 22, generator=_gen()), 64, 64, view)
    torch.manual_seed(0)
    image = torch.zeros(1, 64, 64)
    params = [
        T.RandomResizedCrop.get_params(image, [0.08, 1.0], [3 / 4, 4 / 3]) for _ in range(4096)
    ]
    theirs = torch.tensor([(w, h) for _, _, h, w in params], dtype=torch.float32)
    area, ref_area = boxes[:, 2:].prod(dim=1) / 64**2, theirs.prod(dim=1) / 64**2
    assert abs(area.mean() - ref_area.mean()) < 0.02
    assert abs(area.std() - ref_area.std()) < 0.02
    log_ratio = (boxes[:, 2] / boxes[:, 3]).log()
    ref_log_ratio = (theirs[:, 0] / theirs[:, 1]).log()
    assert abs(log_ratio.mean() - ref_log_ratio.mean()) < 0.02
    assert abs(log_ratio.std() - ref_log_ratio.std()) < 0.02


def test_crop_falls_back_to_torchvision_central_box():
    view = ViewConfig(size=8, crop_min_scale=0.9, crop_ratio=(3.0, 4.0))
    u = torch.rand(4096, 22, generator=_gen())
    boxes = A.sample_crop_boxes(u, 30, 30, view)
    fallback = torch.tensor([0.0, 10.0, 30.0, 10.0])
    assert (boxes == fallback).all()


def test_vicreg_solarises_before_blurring_like_lightly():
    assert all(v.solarize_before_blur for v in preset("vicreg", 224).views)
    assert not any(v.solarize_before_blur for v in preset("byol", 224).views)
    out = _single(
        _plain(16, solarize_prob=1.0, blur_prob=1.0, solarize_before_blur=True), _images(2, 16)
    )
    assert out.shape == (2, 3, 16, 16)


def test_small_images_drop_blur_and_halve_colour_jitter():
    for view in preset("byol", 32).views:
        assert view.blur_prob == 0.0 and view.cj_strength == 0.5
    assert preset("simclr", 64).views[0].blur_prob == 0.0
    assert preset("simclr", 65).views[0].blur_prob == 0.5
    big = preset("simclr", 32, small_images=False).views[0]
    assert big.blur_prob == 0.5 and big.cj_strength == 1.0


def test_overrides_apply_to_every_view():
    config = preset("dino", 224, blur_prob=0.0, vflip_prob=0.5)
    assert all(v.blur_prob == 0.0 and v.vflip_prob == 0.5 for v in config.views)


def test_unknown_override_and_preset_raise_value_error():
    with pytest.raises(ValueError, match="hflip_prob"):
        preset("simclr", 32, blurr_prob=0.0)
    with pytest.raises(ValueError, match="simclr"):
        preset("mae", 32)


def test_config_round_trips_through_json():
    for method in PRESETS:
        config = preset(method, 96, rotation_degrees=15.0, rotation_prob=0.3)
        text = json.dumps(config.to_dict())
        assert AugmentConfig.from_dict(json.loads(text)) == config


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"views": [{"size": 8, "colour": 1}]}, "colour"),
        ({"views": [{"size": 8}], "extra": 1}, "views"),
        ({"views": []}, "at least one"),
        ({"views": "nope"}, "list"),
        ({"views": [3]}, "mapping"),
        ({"views": [{"crop_min_scale": 0.5}]}, "size"),
        ({"views": [{"size": 8.5}]}, "integer"),
        ({"views": [{"size": 0}]}, "size"),
        ({"views": [{"size": 8, "hflip_prob": 1.5}]}, "hflip_prob"),
        ({"views": [{"size": 8, "cj_prob": "high"}]}, "cj_prob"),
        ({"views": [{"size": 8, "normalize": 1}]}, "normalize"),
        ({"views": [{"size": 8, "crop_ratio": [1.0]}]}, "crop_ratio"),
        ({"views": [{"size": 8, "crop_min_scale": 0.9, "crop_max_scale": 0.5}]}, "scale"),
        ({"views": [{"size": 8, "blur_sigma": [0.0, 1.0]}]}, "blur_sigma"),
        ({"views": [{"size": 8, "cj_hue": 0.6}]}, "hue"),
        ({"views": [{"size": 8, "cj_bright": float("nan")}]}, "finite"),
    ],
)
def test_from_dict_rejects_bad_input(data, message):
    with pytest.raises(ValueError, match=message):
        AugmentConfig.from_dict(data)


def test_batch_shape_is_checked():
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        BatchAugment(preset("simclr", 8))(torch.zeros(3, 8, 8, dtype=torch.uint8), _gen())


def test_render_views_cycles_views_deterministically():
    image = PIL.Image.new("RGB", (40, 30), (200, 40, 90))
    image.paste((10, 220, 30), (0, 0, 20, 15))
    config = preset("dino", 32)
    views = render_views(image, config, n=10, seed=4)
    sizes = [v.size for v in config.views]
    assert [im.size for im in views] == [(sizes[i % 8],) * 2 for i in range(10)]
    assert all(im.mode == "RGB" for im in views)
    again = render_views(image, config, n=10, seed=4)
    other = render_views(image, config, n=10, seed=5)
    assert [im.tobytes() for im in views] == [im.tobytes() for im in again]
    assert [im.tobytes() for im in views] != [im.tobytes() for im in other]
    assert len(render_views(image, config, n=3)) == 3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_cuda_with_a_cuda_generator():
    images = _images(8, 32).cuda()
    augment = BatchAugment(preset("dino", 32, blur_prob=0.5))
    first = augment(images, torch.Generator(device="cuda").manual_seed(0))
    again = augment(images, torch.Generator(device="cuda").manual_seed(0))
    assert all(a.is_cuda and torch.equal(a, b) for a, b in zip(first, again, strict=True))


def _lightly_ops(transform) -> list:
    """The leaf transforms of a lightly multi-view or view transform, in order."""
    lightly_tv = pytest.importorskip("lightly.transforms.torchvision_v2_compatibility")
    if isinstance(transform, lightly_tv.torchvision_transforms.RandomApply):
        return [transform]
    for attr in ("transforms", "transform"):
        inner = getattr(transform, attr, None)
        if inner is not None and not inspect.ismethod(inner):
            items = inner if isinstance(inner, (list, tuple)) else [inner]
            return [op for item in items for op in _lightly_ops(item)]
    return [transform]


def _lightly_view(view_transform) -> dict:
    """The parameters of one lightly view that ViewConfig models."""
    found = {"solarize_prob": 0.0, "solarize_before_blur": False}
    for op in _lightly_ops(view_transform):
        name = type(op).__name__
        if name == "RandomResizedCrop":
            found.update(size=op.size[0], scale=tuple(op.scale), ratio=tuple(op.ratio))
        elif name in ("RandomHorizontalFlip", "RandomVerticalFlip", "RandomGrayscale"):
            found[name] = op.p
        elif name == "RandomRotate":
            found.update(rotation_prob=op.prob, angle=op.angle)
        elif name == "RandomApply":
            jitter = op.transforms[0]
            ranges = (jitter.brightness, jitter.contrast, jitter.saturation, jitter.hue)
            found.update(cj_prob=op.p, jitter=tuple(tuple(r) for r in ranges))
        elif name == "GaussianBlur":
            found.update(blur_prob=op.prob, blur_sigma=tuple(op.sigmas))
        elif name == "RandomSolarization":
            found.update(solarize_prob=op.prob, solarize_before_blur="blur_prob" not in found)
        elif name == "Normalize":
            found.update(mean=tuple(op.mean), std=tuple(op.std))
    return found


def _our_view(view: ViewConfig) -> dict:
    b, c, s, h = view.jitter
    return {
        "size": view.size,
        "scale": (view.crop_min_scale, view.crop_max_scale),
        "ratio": view.crop_ratio,
        "RandomHorizontalFlip": view.hflip_prob,
        "RandomVerticalFlip": view.vflip_prob,
        "RandomGrayscale": view.grayscale_prob,
        "rotation_prob": view.rotation_prob,
        "angle": 90,
        "cj_prob": view.cj_prob,
        "jitter": tuple((max(0.0, 1 - f), 1 + f) for f in (b, c, s)) + ((-h, h),),
        "blur_prob": view.blur_prob,
        "blur_sigma": view.blur_sigma,
        "solarize_prob": view.solarize_prob,
        "solarize_before_blur": view.solarize_before_blur and view.solarize_prob > 0,
        "mean": IMAGENET_MEAN,
        "std": IMAGENET_STD,
    }


def _lightly_transform(method: str):
    transforms = pytest.importorskip("lightly.transforms")
    makers = {
        "simclr": lambda: transforms.SimCLRTransform(input_size=224),
        "nnclr": lambda: transforms.SimCLRTransform(input_size=224),
        "moco": lambda: transforms.MoCoV2Transform(input_size=224),
        "simsiam": lambda: transforms.SimSiamTransform(input_size=224),
        "byol": transforms.BYOLTransform,
        "barlowtwins": transforms.BYOLTransform,
        "vicreg": lambda: transforms.VICRegTransform(input_size=224),
        "dino": lambda: transforms.DINOTransform(global_crop_size=224, local_crop_size=96),
        "swav": lambda: transforms.SwaVTransform(crop_sizes=(224, 96)),
    }
    return makers[method]()


@pytest.mark.parametrize("method", PRESETS)
def test_presets_equal_lightly_defaults(method: str):
    pytest.importorskip("lightly")
    theirs = [_lightly_view(t) for t in _lightly_transform(method).transforms]
    ours = [_our_view(v) for v in preset(method, 224, small_images=False).views]
    assert len(ours) == len(theirs)
    for mine, expected in zip(ours, theirs, strict=True):
        assert _flat(mine) == pytest.approx(_flat(expected))


def _flat(params: dict) -> dict:
    """Nested tuples of numbers flattened to one key per number, for pytest.approx."""
    flat = {}
    for key, value in params.items():
        if isinstance(value, tuple):
            for i, item in enumerate(value):
                flat.update(_flat({f"{key}[{i}]": item}))
        else:
            flat[key] = value
    return flat
