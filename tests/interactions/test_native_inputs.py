"""Native inputs: images of any C x H x W on any patch grid, grouped features.

Every masker is checked against inputs built by hand, pixel by pixel or feature by feature,
and every ``compute_values`` against a brute-force ``v(x_T)``: the masked input built by hand
and passed through a tiny model one at a time. The paper protocol (224x224, 8x8 grid of 28x28,
n = 12 from the central 6x6) is checked against the implementation before grids were options:
the same annotation content (hashes recorded with that code) and the same masked pixels.
"""
from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from harsanyi_lightning.interactions import (
    AnnotatedSampleSet,
    AnnotationError,
    ConfigError,
    DataError,
    ImagePool,
    TextPool,
    build_feature_sample_set,
    build_image_sample_set,
    build_sample_set,
    compute_values,
    image_candidates,
    masker_for,
    save_artifact,
)


def log_odds(logits: torch.Tensor, label: int) -> float:
    """The paper's eq. 1 for one sample: ``z_true - logsumexp(z_j, j != true)``."""
    others = torch.cat([logits[:label], logits[label + 1:]])
    return float(logits[label] - torch.logsumexp(others, dim=0))


def brute_force_values(model: nn.Module, masked_inputs, labels) -> torch.Tensor:
    """``values[sample, mask]``: ``masked_inputs(sample, mask)`` built by hand, one forward each."""
    n_masks = None
    rows = []
    with torch.no_grad():
        for s, label in enumerate(labels):
            row = []
            for mask in itertools.count():
                x = masked_inputs(s, mask)
                if x is None:
                    break
                row.append(log_odds(model(x.unsqueeze(0))[0].double(), int(label)))
            n_masks = len(row) if n_masks is None else n_masks
            rows.append(row)
    return torch.tensor(rows, dtype=torch.float64)


def pixel_reference(image, baseline, patches, mask, grid, background="keep"):
    """The masked image, pixel by pixel: pixel (h, w) lies in patch ``(h // ph) * cols + w // pw``."""
    rows, cols = grid
    _, height, width = image.shape
    ph, pw = height // rows, width // cols
    out = image.clone()
    for h in range(height):
        for w in range(width):
            p = (h // ph) * cols + w // pw
            if p in patches:
                keep = mask >> patches.index(p) & 1
            else:
                keep = background == "keep"
            if not keep:
                out[:, h, w] = baseline[:, h, w]
    return out


def patterned(count: int, channels: int, height: int, width: int, offset: int) -> torch.Tensor:
    """Deterministic images, identical on every platform (no random generator involved)."""
    return ((torch.arange(count * channels * height * width) * 7 + offset) % 251).float().view(
        count, channels, height, width) / 251


# ----------------------------------------------------------------- the paper protocol, unchanged

def legacy_224_masker(sample_set: AnnotatedSampleSet):
    """``ImagePatchMasker`` as it was before grids became an option (224x224, 8x8 grid of 28x28)."""
    from harsanyi_lightning.interactions.maskers import keep_units

    rows = torch.arange(224) // 28
    patch_of_pixel = (rows.view(-1, 1) * 8 + rows.view(1, -1)).view(-1)

    def mask(sample_idx, masks):
        keep = keep_units(sample_set.unit_variable[sample_idx], masks)
        keep = keep[:, patch_of_pixel].view(-1, 1, 224, 224)
        return torch.where(keep, sample_set.inputs["pixels"][sample_idx], sample_set.baseline)

    return mask


def test_paper_protocol_annotation_is_the_same_as_before():
    """Hashes recorded with the code before native inputs: the default 224 / 8x8 / central-6x6 protocol writes
    exactly the same annotation content (so earlier annotation files and references stay comparable)."""
    images = patterned(3, 3, 224, 224, 0)
    baseline = patterned(1, 3, 224, 224, 5)[0] - 0.5
    direct = build_image_sample_set(images, [0, 1, 1], baseline, n=12, seed=0)
    assert direct.meta["patches"][0] == [11, 20, 22, 25, 28, 29, 41, 42, 43, 46, 50, 53]
    assert "grid" not in direct.meta and direct.grid == (8, 8)
    assert direct.hash == "359258826fd3baddddcc8799281ec45c093222f2552d1979dcdf400f09442f5a"
    bg = build_image_sample_set(images, [0, 1, 1], "zeros", n=5, seed=3, background="baseline")
    assert bg.hash == "cfd0a73d957ae5ce1fe0abce3b006a7a5acbf584ea7edcf2abf3ca0e04a5f84a"
    pool = ImagePool(images=[(patterned(1, 3, 224, 224, 11 * i)[0], i % 2) for i in range(6)],
                     train_images=[(patterned(1, 3, 224, 224, 3 + i)[0], 0) for i in range(4)], num_classes=2)
    assert build_sample_set(pool).hash == "1c1907a5551b4fd38bbe1652573d9eb5c27e675dd8f56a566818dabc787f074a"
    # the explicit spelling of the default is the default
    assert build_image_sample_set(images, [0, 1, 1], baseline, n=12, seed=0, grid=8, region=6).hash == direct.hash


@pytest.mark.parametrize("background", ["keep", "baseline"])
def test_paper_protocol_masker_is_the_previous_one(background):
    images = patterned(2, 3, 224, 224, 1)
    baseline = -patterned(1, 3, 224, 224, 2)[0]
    ss = build_image_sample_set(images, [0, 1], baseline, n=12, seed=4, background=background)
    new, old = masker_for(ss), legacy_224_masker(ss)
    g = torch.Generator().manual_seed(0)
    sample_idx = torch.tensor([0, 1, 0, 1, 1, 0])
    masks = torch.cat([torch.tensor([0, 4095]), torch.randint(0, 4096, (4,), generator=g)])
    out = new(sample_idx, masks)
    assert torch.equal(out, old(sample_idx, masks))
    for k in (0, 1, 2, 5):  # and pixel by pixel
        s, m = int(sample_idx[k]), int(masks[k])
        assert torch.equal(out[k], pixel_reference(images[s], baseline, ss.meta["patches"][s], m, (8, 8), background))


def test_annotation_file_without_grid_still_loads(tmp_path):
    """A file as written before grids were options (no ``meta['grid']``) loads, has the 8x8 grid and masks
    the same pixels; a file whose patch units fit no grid is refused as corrupt."""
    images = patterned(2, 3, 224, 224, 9)
    ss = build_image_sample_set(images, [1, 0], "zeros", n=4, seed=2)
    content = ss.content()
    assert "grid" not in content["meta"]
    save_artifact(tmp_path / "old.pt", "annotation", content)
    loaded = AnnotatedSampleSet.load(tmp_path / "old.pt")
    assert loaded.grid == (8, 8) and loaded.hash == ss.hash
    idx, masks = torch.tensor([0, 1]), torch.tensor([5, 10])
    assert torch.equal(masker_for(loaded)(idx, masks), legacy_224_masker(ss)(idx, masks))
    bad = dict(content, unit_variable=torch.full((2, 50), -1, dtype=torch.long))
    save_artifact(tmp_path / "bad.pt", "annotation", bad)
    with pytest.raises(AnnotationError, match="corrupt"):
        AnnotatedSampleSet.load(tmp_path / "bad.pt")


# ----------------------------------------------------------------- native grids


class TinyConv(nn.Module):
    """A tiny float64 CNN for any channel count: conv over the whole image, then a linear head."""

    def __init__(self, channels: int, classes: int = 3):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(channels, 6, 3, padding=1)
        self.head = nn.Linear(6 * 4, classes)
        self.double()

    def forward(self, x):
        return self.head(nn.functional.adaptive_avg_pool2d(torch.tanh(self.conv(x)), 2).flatten(1))


@pytest.mark.parametrize("shape, grid, region, expected_patch", [
    ((3, 32, 32), 4, None, (8, 8)),    # CIFAR-10 at 32x32, 4x4 grid of 8x8 patches, whole grid
    ((1, 28, 28), 4, None, (7, 7)),    # MNIST 28x28x1, 4x4 grid of 7x7 patches
    ((1, 28, 28), 4, 2, (7, 7)),       # ... variables from the central 2x2 only
    ((3, 24, 32), (3, 4), None, (8, 8)),  # a rectangular image and grid
])
def test_native_grid_masker_and_values_match_brute_force(shape, grid, region, expected_patch):
    channels, height, width = shape
    rows, cols = (grid, grid) if isinstance(grid, int) else grid
    assert (height // rows, width // cols) == expected_patch
    images = patterned(2, channels, height, width, 3).double() + 1.0      # in [1, 2)
    baseline = -patterned(1, channels, height, width, 8)[0].double()     # in (-1, 0]: never a pixel value
    labels = [2, 0]
    n = 4
    ss = build_image_sample_set(images, labels, baseline, n=n, seed=5, grid=grid, region=region)
    assert ss.grid == (rows, cols) and ss.unit_variable.shape == (2, rows * cols)
    allowed = set(image_candidates(grid, region))
    assert len(allowed) == (4 if region == 2 else rows * cols)
    assert all(len(p) == n and set(p) <= allowed for p in ss.meta["patches"])
    # masker = pixel-by-pixel reference, for every mask of sample 1 and a few of sample 0
    masker = masker_for(ss)
    for s, masks in ((0, [0, 5, 15]), (1, range(16))):
        out = masker(torch.full((len(masks),), s), torch.tensor(list(masks)))
        for k, m in enumerate(masks):
            assert torch.equal(out[k], pixel_reference(images[s], baseline, ss.meta["patches"][s], m, (rows, cols)))
    # values = brute-force v(x_T) on a tiny model, any chunk size, channels_last too
    model = TinyConv(channels)

    def by_hand(s, mask):
        return None if mask >= 2 ** n else pixel_reference(images[s], baseline, ss.meta["patches"][s], mask, (rows, cols))

    expected = brute_force_values(model, by_hand, labels)
    for bs in (7, 64):
        torch.testing.assert_close(compute_values(model, ss, batch_size=bs), expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(compute_values(model, ss, batch_size=9, channels_last=True), expected, rtol=0, atol=1e-12)


def test_region_and_candidates_choose_the_variable_patches():
    assert image_candidates(4, 2) == [5, 6, 9, 10]
    assert image_candidates(8) == image_candidates(8, 6) and len(image_candidates(8)) == 36
    assert image_candidates(4) == list(range(16))  # any grid but the paper's: the whole grid
    assert image_candidates((3, 4), (1, 2)) == [5, 6]
    images = patterned(3, 1, 28, 28, 0)
    ss = build_image_sample_set(images, [0, 1, 0], "zeros", n=3, grid=4, candidates=[0, 3, 12, 15])
    assert all(set(p) <= {0, 3, 12, 15} for p in ss.meta["patches"])
    assert ss.meta["grid"] == [4, 4] and ss.meta["candidates"] == [0, 3, 12, 15]
    again = build_image_sample_set(images, [0, 1, 0], "zeros", n=3, grid=4, candidates=[0, 3, 12, 15])
    assert again.hash == ss.hash  # seeded


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(grid=5), DataError, r"28x28 cannot be cut into a 5x5 grid"),
    (dict(grid=0), ConfigError, "at least one patch"),
    (dict(grid="4"), ConfigError, "patches per side"),
    (dict(grid=4, region=5), ConfigError, "does not fit the 4x4"),
    (dict(grid=4, region="2"), ConfigError, "region='2' must be patches per side"),
    (dict(grid=4, region=2, n=5), ConfigError, "n=5 is more than the 4 candidate patches"),
    (dict(grid=4, region=2, candidates=[0, 1]), ConfigError, "not both"),
    (dict(grid=4, candidates=[0, 16]), ConfigError, "out of range"),
    (dict(grid=4, candidates=[]), ConfigError, "empty"),
])
def test_bad_image_options_name_the_fix(kwargs, error, match):
    kwargs.setdefault("n", 3)
    with pytest.raises(error, match=match):
        build_image_sample_set(patterned(1, 1, 28, 28, 0), [0], "zeros", **kwargs)


def test_bad_image_shapes_and_baselines():
    with pytest.raises(DataError, match=r"\[sample, C, H, W\].*unsqueeze"):
        build_image_sample_set(torch.zeros(2, 28, 28), [0, 1], grid=4, n=3)
    with pytest.raises(DataError, match=r"baseline image has shape \(3, 28, 28\), expected \[1, 28, 28\]"):
        build_image_sample_set(torch.zeros(2, 1, 28, 28), [0, 1], torch.zeros(3, 28, 28), grid=4, n=3)


def test_image_pool_options_and_text_pool_refusal():
    pool = ImagePool(images=[(patterned(1, 1, 28, 28, i)[0], i % 2) for i in range(6)],
                     train_images=[(patterned(1, 1, 28, 28, 50 + i)[0], 0) for i in range(3)], num_classes=2)
    ss = build_sample_set(pool, n=4, per_class=2, grid=4, region=3)
    assert ss.grid == (4, 4) and ss.inputs["pixels"].shape == (4, 1, 28, 28) and ss.baseline.shape == (1, 28, 28)
    assert all(set(p) <= set(image_candidates(4, 3)) for p in ss.meta["patches"])
    mean = torch.stack([img for img, _ in pool.train_images]).mean(0)
    torch.testing.assert_close(ss.baseline, mean)
    with pytest.raises(ConfigError, match="n=12 variables but only 9 candidate patches"):
        build_sample_set(pool, grid=4, region=3)  # checked before any image is read
    with pytest.raises(ConfigError, match="image pools only"):
        build_sample_set(TextPool(["a b"], [0], tokenizer=None), n=2, num_samples=1, grid=4)


# ----------------------------------------------------------------- grouped features


class TinyMLP(nn.Module):
    def __init__(self, d: int):
        super().__init__()
        torch.manual_seed(1)
        self.net = nn.Sequential(nn.Linear(d, 16), nn.GELU(), nn.Linear(16, 3)).double()

    def forward(self, x):
        return self.net(x)


def test_grouped_features_match_brute_force():
    groups = [[0, 1], [2], [5, 6, 7]]  # features 3, 4 and 8 belong to no variable: always kept
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 9, generator=g, dtype=torch.float64)
    baseline = torch.randn(9, generator=g, dtype=torch.float64)
    labels = [0, 2, 1]
    ss = build_feature_sample_set(x, labels, baseline, groups=groups)
    assert ss.n == 3 and ss.meta["groups"] == groups
    assert ss.unit_variable[0].tolist() == [0, 0, 1, -1, -1, 2, 2, 2, -1]

    def by_hand(s, mask):
        if mask >= 2 ** len(groups):
            return None
        out = x[s].clone()
        for i, group in enumerate(groups):
            if not mask >> i & 1:
                out[group] = baseline[group]
        return out

    model = TinyMLP(9)
    torch.testing.assert_close(masker_for(ss)(torch.tensor([1, 1]), torch.tensor([0b101, 0b010])),
                               torch.stack([by_hand(1, 0b101), by_hand(1, 0b010)]), rtol=0, atol=0)
    expected = brute_force_values(model, by_hand, labels)
    torch.testing.assert_close(compute_values(model, ss, batch_size=5), expected, rtol=0, atol=1e-12)
    # one-feature groups are the plain ``variables`` form
    single = build_feature_sample_set(x, labels, baseline, groups=[[0], [2], [5]])
    plain = build_feature_sample_set(x, labels, baseline, variables=[0, 2, 5])
    assert torch.equal(single.unit_variable, plain.unit_variable)


@pytest.mark.parametrize("kwargs, match", [
    (dict(groups=[[0, 1], [1, 2]]), r"feature\(s\) \[1\] in more than one group"),
    (dict(groups=[[0, 9]]), "out of range"),
    (dict(groups=[[0], []]), "non-empty"),
    (dict(groups=[0, 1]), "list of feature index lists"),
    (dict(groups=[[0]], variables=[1]), "not both"),
])
def test_bad_groups_name_the_fix(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        build_feature_sample_set(torch.zeros(2, 9), [0, 1], torch.zeros(9), **kwargs)


# ----------------------------------------------------------------- the study report's samples figure


def test_report_samples_figure_draws_the_sample_sets_own_grid():
    from tests.tiny_study import REGIMES
    from harsanyi_lightning.study.report.sample_figures import samples_image

    images = patterned(2, 1, 28, 28, 4)
    ss = build_image_sample_set(images, [0, 1], "zeros", n=3, seed=1, grid=4)
    g = torch.Generator().manual_seed(0)
    finals = {s: torch.randn(2, 8, generator=g, dtype=torch.float64) for s in REGIMES}
    fig = samples_image(ss, finals, [0, 1], {s: "#1f77b4" for s in REGIMES}, top=1)
    try:
        axes = fig.axes
        per_row = 1 + len(REGIMES) * 2  # the input, then per model its Shapley values and top=1 interaction
        assert len(axes) == 2 * per_row
        for row, sample in enumerate((0, 1)):
            want = sorted(((p % 4) * 7, (p // 4) * 7, 7, 7) for p in ss.meta["patches"][sample])
            # the variables' outlines on the input, and each model's Shapley value on every variable patch
            for col in [0] + [1 + 2 * j for j in range(len(REGIMES))]:
                boxes = axes[row * per_row + col].patches
                assert sorted((r.get_x(), r.get_y(), r.get_width(), r.get_height()) for r in boxes) == want, col
        assert axes[0].images[0].get_array().shape == (28, 28)  # a single channel shown as grey
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)
