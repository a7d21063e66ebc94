"""The findings about fine-tuning methods (docs/method.md#fine-tuning-methods) on numbers with a known answer: the
paired bootstrap, the rank correlation across regimes, which findings a study's regimes allow, and the errors a
study with a bad kind, bad LoRA options or no peft stops with before any training."""
from __future__ import annotations

import math
import sys

import pytest
import torch

from harsanyi_lightning.study.bootstrap_options import BootstrapOptions
from harsanyi_lightning.study.report.bootstrap import bootstrap_statistics
from harsanyi_lightning.study.report.method_findings import MIN_RANKS, method_regimes, method_findings
from harsanyi_lightning.study.report.readings import spearman_rows
from harsanyi_lightning.study.report.trade_off import difference_key, rank_key
from harsanyi_lightning.study.report.bootstrap import Interval
from tests.reliability.harness import last_line, run_in_process
from tests.tiny_study import write_tiny_study

OPTIONS = BootstrapOptions(resamples=2000, seed=3)


def test_a_paired_difference_of_two_regimes_on_the_same_samples_has_the_interval_of_the_shift():
    """Regime B discards exactly 0.5 more per sample than regime A on the same samples (same preserved knowledge):
    the paired difference of discarded / preserved is 0.5 / preserved in every resample, so its interval is that
    one number, while each regime's own interval is wide (the samples vary a lot)."""
    gen = torch.Generator().manual_seed(0)
    preserve = torch.full((40,), 2.0, dtype=torch.float64)
    discard_a = torch.rand(40, generator=gen, dtype=torch.float64) * 10
    features = [{"A.discard": discard_a, "B.discard": discard_a + 0.5, "preserve": preserve}]

    def statistic(m):
        fa, fb = m["A.discard"] / m["preserve"], m["B.discard"] / m["preserve"]
        return {"A": fa, "B": fb, "B_minus_A": fb - fa}

    out = bootstrap_statistics(features, statistic, OPTIONS)
    diff = out["B_minus_A"]
    assert diff.estimate == pytest.approx(0.25) and diff.low == pytest.approx(0.25) and diff.high == pytest.approx(0.25)
    assert out["A"].high - out["A"].low > 0.5  # unpaired, the shift would be lost in this spread
    assert out["B"].estimate - out["A"].estimate == pytest.approx(0.25)


def test_a_paired_difference_across_seeds_resamples_seeds_first():
    """Two seeds whose differences are 1 and 3 on every sample: the pooled difference is 2 and the interval spans
    the two seeds' own differences, each recorded per seed."""
    runs = [{"x": torch.zeros(10, dtype=torch.float64), "y": torch.full((10,), float(d), dtype=torch.float64)}
            for d in (1, 3)]
    out = bootstrap_statistics(runs, lambda m: {"d": m["y"] - m["x"]}, OPTIONS)["d"]
    assert out.estimate == pytest.approx(2.0) and out.per_seed == pytest.approx((1.0, 3.0))
    assert out.low == pytest.approx(1.0) and out.high == pytest.approx(3.0)


def test_the_manifest_keeps_the_training_order_though_json_sorts_its_keys():
    """Full fine-tuning named after an adapter regime alphabetically is still the paper's fine-tuned model when the
    manifest is read back: the order is written out."""
    import json

    from harsanyi_lightning.study.regimes import StudyRegimes

    regimes = StudyRegimes({"probe": "probe", "zfull": "finetune", "adapter": "lora", "scratch": "scratch"})
    back = StudyRegimes.of(json.loads(json.dumps(regimes.record(), sort_keys=True)))
    assert back.names == ("probe", "zfull", "adapter", "scratch") and back.paper["finetune"] == "zfull"
    assert back.references("scratch") == {"pretrain": "probe", "finetune": "zfull"}


def test_spearman_rows_of_known_orderings():
    rows = torch.tensor([[0.1, 0.2, 0.3], [0.3, 0.2, 0.1], [0.1, 0.3, 0.2], [0.1, float("nan"), 0.2],
                         [1.0, 1.0, 1.0]], dtype=torch.float64)
    rho = spearman_rows([4, 16, 64], rows)
    assert rho[:3].tolist() == pytest.approx([1.0, -1.0, 0.5])
    assert math.isnan(rho[3]) and math.isnan(rho[4])  # a NaN, a constant row
    assert spearman_rows([1, 1, 2], rows[:1])[0] == pytest.approx(math.sqrt(3) / 2)  # tied ranks averaged


def _iv(estimate: float, low: float, high: float) -> Interval:
    return Interval(estimate, low, high)


def test_which_findings_a_study_allows_and_why_the_others_are_left_out():
    three = {"probe": "probe", "finetune": "finetune", "scratch": "scratch"}
    comparison = method_regimes(three, {})
    found, left = method_findings({}, (), comparison)
    assert found == [] and {x.id for x in left} == {"lora_forgets_less", "lora_learns_less",
                                                   "forgetting_grows_with_rank"}
    assert all(x.why.startswith("the study has no regime of kind lora (LoRA) to compare") for x in left)

    kinds = {**three, "lora_r4": "lora", "lora_r16": "lora"}
    summaries = {"lora_r4": {"options": {"rank": 4}}, "lora_r16": {"options": {"rank": 16}}}
    comparison = method_regimes(kinds, summaries)
    assert comparison.pairs == [("lora_r4", "finetune"), ("lora_r16", "finetune")] and comparison.ranked == {}
    intervals = {}
    for lora, _ in comparison.pairs:
        for reading in ("dense", "salient"):
            intervals[f"{reading}/{difference_key(lora, 'finetune', 'discard_over_preserve')}"] = _iv(-1, -2, -0.5)
            intervals[f"{reading}/{difference_key(lora, 'finetune', 'new_over_preserve')}"] = _iv(-1, -2, 0.5)
        intervals[f"accuracy/{lora}_minus_finetune"] = _iv(0.01, 0.005, 0.02)
    found, left = method_findings(intervals, (), comparison)
    verdicts = {(f.id, f.reading, f.needs[0]): f.verdict for f in found}
    assert verdicts[("lora_forgets_less", "dense", "lora_r4")] == "holds"
    assert verdicts[("lora_learns_less", "salient", "lora_r16")] == "inconclusive"
    assert verdicts[("lora_learns_less", "outputs", "lora_r4")] == "does not hold"
    assert [x.id for x in left] == ["forgetting_grows_with_rank"] and f"{MIN_RANKS} or more" in left[0].why

    no_full = method_regimes({"probe": "probe", "lora_r4": "lora", "scratch": "scratch"}, summaries)
    found, left = method_findings({}, (), no_full)
    assert found == [] and all("kind finetune (full fine-tuning)" in x.why for x in left)


def test_the_rank_finding_reads_the_spearman_interval_of_three_ranks():
    kinds = {"probe": "probe", "finetune": "finetune", "a": "lora", "b": "lora", "c": "lora", "scratch": "scratch"}
    summaries = {name: {"options": {"rank": r}} for name, r in (("a", 4), ("b", 16), ("c", 64))}
    comparison = method_regimes(kinds, summaries)
    assert comparison.ranked == {"rank": {"a": 4.0, "b": 16.0, "c": 64.0}}
    intervals = {f"{r}/{difference_key(x, 'finetune', k)}": _iv(0, -1, 1) for r in ("dense", "salient")
                 for x in "abc" for k in ("discard_over_preserve", "new_over_preserve")}
    intervals.update({f"accuracy/{x}_minus_finetune": _iv(0, -1, 1) for x in "abc"})
    intervals["dense/" + rank_key("rank", ["a", "b", "c"])] = _iv(1.0, 0.5, 1.0)
    intervals["salient/" + rank_key("rank", ["a", "b", "c"])] = _iv(0.5, -0.5, 1.0)
    found, left = method_findings(intervals, ("c",), comparison)
    rank = {f.reading: f for f in found if f.id == "forgetting_grows_with_rank"}
    assert left == [] and rank["dense"].verdict == "not measurable" and "c has < 1%" in rank["dense"].why
    found, _ = method_findings(intervals, (), comparison)
    rank = {f.reading: f.verdict for f in found if f.id == "forgetting_grows_with_rank"}
    assert rank == {"dense": "holds", "salient": "inconclusive"}


@pytest.mark.parametrize("kind, overrides, words", [
    ("lorra", "{}", ["regimes.extra.kind='lorra' is not a kind of regime", "lora (", "partial ("]),
    ("lora", "{model: {init_args: {rank: 0}}}", ["regime 'extra' (kind 'lora')", "rank"]),
    ("partial", "{model: {init_args: {frozen_layers: -1}}}", ["regime 'extra' (kind 'partial')", "frozen_layers"]),
])
def test_a_bad_kind_or_bad_kind_options_stop_the_study_before_any_training(tmp_path, kind, overrides, words):
    cfg = write_tiny_study(tmp_path / "configs", tmp_path / "study", more_regimes={"extra": (kind, overrides)})
    rc, out, err = run_in_process("study", "--config", str(cfg))
    line = last_line(err)
    assert rc == 2 and line.startswith("error (ConfigError)"), err[-2000:]
    for word in words:
        assert word in line, line
    assert not (tmp_path / "study" / "probe").exists()  # nothing trained


def test_a_lora_regime_without_peft_names_the_extra_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "peft", None)  # as if peft were not installed
    cfg = write_tiny_study(tmp_path / "configs", tmp_path / "study",
                           more_regimes={"lora_r4": ("lora", "{model: {init_args: {rank: 4}}}")})
    rc, out, err = run_in_process("study", "--config", str(cfg))
    line = last_line(err)
    assert rc == 2 and line.startswith("error (ConfigError)") and 'pip install "harsanyi-lightning[lora]"' in line, line
    assert not (tmp_path / "study" / "probe").exists()
