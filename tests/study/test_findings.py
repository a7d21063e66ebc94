"""The verdict rules of the paper's findings (docs/study.md, "The findings and their verdict rules"), on
hand-made numbers: each rule at its edges (holds / partly / does not hold / not measurable), no study run."""
from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from harsanyi_lightning.study.findings import (
    HOLDS,
    JACCARD_LEVEL,
    NOT_HOLD,
    NOT_MEASURABLE,
    PARTLY,
    SHARP_RISE,
    VERDICTS,
    paper_findings,
    verdict_counts,
)
from harsanyi_lightning.study.report_numbers import (
    Accuracy,
    DiscardOverPreserve,
    KnowledgeByOrder,
    KnowledgeTotals,
    Losses,
    Ratio,
    RatioByOrder,
    StudyNumbers,
)

REGIMES = ("probe", "finetune", "scratch")


def numbers(**changes) -> StudyNumbers:
    """A study's numbers made by hand (n = 4, three epochs), on which every finding holds; ``changes``
    replace fields."""
    base = StudyNumbers(
        study_dir="/studies/tiny", model="tiny-bert", data="TinyText", n=4, num_samples=2, annotation_hash="ab" * 32,
        accuracy={"probe": Accuracy(0.7, 0.7), "finetune": Accuracy(0.9, 0.88), "scratch": Accuracy(0.6, 0.61)},
        final_epoch={s: 3 for s in REGIMES},
        knowledge_by_order=KnowledgeByOrder(pretrain=(4.0, 3.0, 2.0, 1.0), preserve=(1.0, 0.5, 0.2, 0.1),
                                            discard=(3.0, 2.5, 1.8, 0.9), new=(0.1, 0.2, 1.0, 2.0),
                                            finetune=(1.1, 0.7, 1.2, 2.1)),
        knowledge_totals=KnowledgeTotals(pretrain=10.0, preserve=1.8, discard=8.2, new=3.3, finetune=5.1),
        discard_over_preserve=DiscardOverPreserve(overall=8.2 / 1.8, by_order=(3.0, 5.0, 9.0, 9.0)),
        new_over_preserve=3.3 / 1.8,
        discard_share_by_order=(0.75, 0.83, 0.9, 0.9),
        new_share_by_order=(0.09, 0.29, 0.83, 0.95),
        discard_share_vs_order_spearman=0.95,
        new_high_order_share=3.0 / 3.3,
        ratio=Ratio(ratio=0.3, ratio_weighted=0.25),
        ratio_by_order=RatioByOrder(ratio=(0.4, 0.3, 0.2, 0.1), ratio_weighted=(0.35, 0.25, 0.15, 0.05)),
        scratch_vs_pretrain=KnowledgeTotals(pretrain=10.0, preserve=1.0, discard=9.0, new=2.0, finetune=3.0),
        strength_total={"probe": 10.0, "finetune": 5.1, "scratch": 3.0},
        strength_share={"probe": 1.0, "finetune": 0.51, "scratch": 0.3},
        weak_models=(),
        jaccard={"finetune": {0: 0.3, 1: 0.7, 2: 0.9, 3: 1.0}, "scratch": {0: 0.1, 1: 0.3, 2: 0.2, 3: 1.0},
                 "probe": {0: 0.5, 1: 0.8, 2: 0.9, 3: 1.0}},
        jaccard_first_at_level={"finetune": 2, "scratch": 3},
        jaccard_drops={"finetune": 0, "scratch": 1, "probe": 0},
        loss={"probe": Losses(train={1: 0.7, 2: 0.6, 3: 0.5}, val={1: 0.7, 2: 0.6, 3: 0.5}),
              "finetune": Losses(train={1: 0.5, 2: 0.3, 3: 0.2}, val={1: 0.5, 2: 0.4, 3: 0.3}),
              "scratch": Losses(train={1: 0.7, 2: 0.65, 3: 0.6}, val={1: 0.7, 2: 0.68, 3: 0.66})},
    )
    return replace(base, **changes)


def finding(num: StudyNumbers, key: str, weak: tuple[str, ...] = ()):
    found = {f.key: f for f in paper_findings(num, weak)}
    return found.get(key)


def verdict(num: StudyNumbers, key: str, weak: tuple[str, ...] = ()) -> str:
    return finding(num, key, weak).verdict


def test_every_finding_holds_on_numbers_made_to_show_them():
    found = paper_findings(numbers())
    assert [f.key for f in found] == [
        "discard_more_than_twice_preserve", "discard_share_grows_with_order", "much_new_knowledge_mostly_high_order",
        "ratio_low", "jaccard_finetune_sharp_then_saturates", "jaccard_scratch_slow_late_bumpy",
        "finetune_accuracy_above_scratch", "finetune_loss_falls_faster"]
    assert all(f.verdict == HOLDS for f in found), [(f.key, f.verdict) for f in found]
    assert verdict_counts(found) == {HOLDS: 8, PARTLY: 0, NOT_HOLD: 0, NOT_MEASURABLE: 0}


@pytest.mark.parametrize("overall, expected", [
    (2.0001, HOLDS), (2.0, PARTLY), (1.0001, PARTLY), (1.0, NOT_HOLD), (0.5, NOT_HOLD)])
def test_discard_more_than_twice_preserve_at_its_edges(overall, expected):
    num = numbers(discard_over_preserve=DiscardOverPreserve(overall=overall, by_order=(1.5, 2.0, 2.5, 3.0)))
    f = finding(num, "discard_more_than_twice_preserve")
    assert f.verdict == expected
    assert f"discarded / preserved = {overall:.2f} overall (1.50 at order 1, 3.00 at order 4)" in f.measured


@pytest.mark.parametrize("rho, shares, expected", [
    (0.5, (0.5, 0.6, 0.7, 0.8), HOLDS),          # rho at its threshold and the highest order above order 1
    (0.4999, (0.5, 0.6, 0.7, 0.8), PARTLY),      # grows, but the rank correlation is weak
    (1.0, (0.5, 0.6, 0.7, 0.5), NOT_HOLD),       # the highest order's share equals order 1's: not grown
    (-0.8, (0.8, 0.7, 0.6, 0.5), NOT_HOLD),
])
def test_discard_share_grows_with_order_at_its_edges(rho, shares, expected):
    num = numbers(discard_share_vs_order_spearman=rho, discard_share_by_order=shares)
    f = finding(num, "discard_share_grows_with_order")
    assert f.verdict == expected
    assert f"discarded share {100 * shares[0]:.1f}% at order 1, {100 * shares[-1]:.1f}% at order 4" in f.measured


@pytest.mark.parametrize("new_over_preserve, high, expected", [
    (1.0, 0.5001, HOLDS),      # new = preserved counts as much; just over half above n/2
    (1.0, 0.5, PARTLY),        # exactly half is not "mostly"
    (0.9999, 0.9, PARTLY),
    (0.9999, 0.5, NOT_HOLD),
])
def test_much_new_knowledge_mostly_high_order_at_its_edges(new_over_preserve, high, expected):
    num = numbers(new_over_preserve=new_over_preserve, new_high_order_share=high)
    f = finding(num, "much_new_knowledge_mostly_high_order")
    assert f.verdict == expected
    assert "orders above n/2 = 2" in f.measured


@pytest.mark.parametrize("ratio, expected, where", [
    (0.45, HOLDS, "inside"), (0.13, HOLDS, "inside"), (0.05, HOLDS, "below"), (0.4501, NOT_HOLD, "above")])
def test_ratio_low_at_its_edges(ratio, expected, where):
    f = finding(numbers(ratio=Ratio(ratio=ratio, ratio_weighted=0.2)), "ratio_low")
    assert f.verdict == expected
    assert f.measured.endswith(f"{where} the paper's range")
    assert f"Ratio = {100 * ratio:.1f}%" in f.measured and "strength-weighted: 20.0%" in f.measured


@pytest.mark.parametrize("curve, expected", [
    ({0: 0.2, 1: SHARP_RISE, 2: 0.9, 3: 1.0}, HOLDS),       # J(1) at the threshold, never falls
    ({0: 0.2, 1: 0.4999, 2: 0.9, 3: 1.0}, PARTLY),          # smooth but not sharp
    ({0: 0.2, 1: 0.9, 2: 0.8, 3: 1.0}, PARTLY),             # sharp but falls back once
    ({0: 0.2, 1: 0.3, 2: 0.25, 3: 1.0}, NOT_HOLD),
    ({0: 0.2, 2: 0.9, 3: 1.0}, PARTLY),                     # epoch 1 not evaluated: not sharp
])
def test_jaccard_finetune_sharp_then_saturates_at_its_edges(curve, expected):
    num = numbers(jaccard={**numbers().jaccard, "finetune": curve})
    assert verdict(num, "jaccard_finetune_sharp_then_saturates") == expected


def scratch_case(scratch: dict[int, float], first_finetune: int | None, first_scratch: int | None) -> StudyNumbers:
    base = numbers()
    return replace(base, jaccard={**base.jaccard, "scratch": scratch},
                   jaccard_first_at_level={"finetune": first_finetune, "scratch": first_scratch})


@pytest.mark.parametrize("scratch, fe, se, expected", [
    ({0: 0.1, 1: 0.3, 2: 0.2, 3: 1.0}, 2, 3, HOLDS),        # below finetune (0.7, 0.9), later, falls once
    ({0: 0.1, 1: 0.3, 2: 0.2, 3: 1.0}, 2, None, HOLDS),     # never reaching the level counts as late
    ({0: 0.1, 1: 0.3, 2: 0.4, 3: 1.0}, 2, 3, PARTLY),       # slow and late, but never falls
    ({0: 0.1, 1: 0.7, 2: 0.2, 3: 1.0}, 2, 3, PARTLY),       # equal to finetune at epoch 1: not slower
    ({0: 0.1, 1: 0.3, 2: 0.2, 3: 1.0}, 2, 2, PARTLY),       # reaches the level with finetune: not later
    ({0: 0.1, 1: 0.8, 2: 0.95, 3: 1.0}, 2, 2, NOT_HOLD),    # above finetune at epoch 1 and as early
])
def test_jaccard_scratch_slow_late_bumpy_at_its_edges(scratch, fe, se, expected):
    f = finding(scratch_case(scratch, fe, se), "jaccard_scratch_slow_late_bumpy")
    assert f.verdict == expected
    assert f"reaches {JACCARD_LEVEL} at epoch {se} of 3 (finetune: {fe})" in f.measured


def test_jaccard_scratch_is_not_slower_without_an_epoch_before_the_last():
    base = numbers()
    num = replace(base, final_epoch={**base.final_epoch, "scratch": 1},
                  jaccard={**base.jaccard, "scratch": {0: 0.1, 1: 1.0}},
                  jaccard_first_at_level={"finetune": 2, "scratch": 1})
    f = finding(num, "jaccard_scratch_slow_late_bumpy")
    assert f.verdict == NOT_HOLD and "below finetune in 0 of 0 epochs before the last" in f.measured


@pytest.mark.parametrize("finetune, scratch, expected", [
    (0.61, 0.6, HOLDS), (0.6, 0.6, NOT_HOLD), (0.5, 0.6, NOT_HOLD)])
def test_finetune_accuracy_above_scratch_at_its_edges(finetune, scratch, expected):
    base = numbers()
    num = replace(base, accuracy={**base.accuracy, "finetune": Accuracy(finetune, None),
                                  "scratch": Accuracy(scratch, None)})
    f = finding(num, "finetune_accuracy_above_scratch")
    assert f.verdict == expected
    assert f"({100 * (finetune - scratch):+.1f} points)" in f.measured


def test_accuracy_finding_is_left_out_without_a_validation_accuracy():
    base = numbers()
    num = replace(base, accuracy={**base.accuracy, "scratch": Accuracy(None, 0.6)})
    assert finding(num, "finetune_accuracy_above_scratch") is None


@pytest.mark.parametrize("finetune, expected", [
    ({1: 0.5, 2: 0.3, 3: 0.2, 4: 0.1}, HOLDS),     # lower in every common epoch (4 is not common)
    ({1: 0.5, 2: 0.3, 3: 0.6}, PARTLY),            # lower in 2 of 3
    ({1: 0.5, 2: 0.7, 3: 0.6, 4: 0.1}, NOT_HOLD),  # lower in 1 of 3
    ({1: 0.5, 2: 0.65, 3: 0.6}, NOT_HOLD),         # equal is not lower: 1 of 3
])
def test_finetune_loss_falls_faster_at_its_edges(finetune, expected):
    base = numbers()  # scratch's training loss: 0.7, 0.65, 0.6
    num = replace(base, loss={**base.loss, "finetune": Losses(train=finetune, val={})})
    f = finding(num, "finetune_loss_falls_faster")
    assert f.verdict == expected
    assert f.measured.startswith("training loss after epoch 1: finetune 0.500, scratch 0.700; after epoch 3")


def test_half_the_epochs_lower_is_not_most():
    base = numbers()
    num = replace(base, loss={**base.loss, "finetune": Losses(train={1: 0.5, 2: 0.9}, val={}),
                              "scratch": Losses(train={1: 0.7, 2: 0.65}, val={})})
    assert verdict(num, "finetune_loss_falls_faster") == NOT_HOLD


def test_loss_finding_is_left_out_without_common_epochs():
    base = numbers()
    num = replace(base, loss={**base.loss, "finetune": Losses(train={}, val={1: 0.5})})
    assert finding(num, "finetune_loss_falls_faster") is None


@pytest.mark.parametrize("weak, unmeasurable", [
    (("scratch",), {"ratio_low", "jaccard_scratch_slow_late_bumpy"}),
    (("probe",), {"discard_more_than_twice_preserve", "discard_share_grows_with_order",
                  "much_new_knowledge_mostly_high_order", "ratio_low"}),
    (("finetune",), {"discard_more_than_twice_preserve", "discard_share_grows_with_order",
                     "much_new_knowledge_mostly_high_order", "ratio_low", "jaccard_finetune_sharp_then_saturates",
                     "jaccard_scratch_slow_late_bumpy"}),
])
def test_a_claim_about_a_near_constant_model_is_not_measurable(weak, unmeasurable):
    found = paper_findings(numbers(), weak)
    assert {f.key for f in found if f.verdict == NOT_MEASURABLE} == unmeasurable
    for f in found:
        if f.key in unmeasurable:
            assert f.rule.startswith(f"{weak[0]} has < 1% of the strongest model's interaction strength; ")
        else:  # the accuracy and loss findings need no interactions
            assert f.verdict == HOLDS and "< 1%" not in f.rule
    counts = verdict_counts(found)
    assert list(counts) == list(VERDICTS) and counts[NOT_MEASURABLE] == len(unmeasurable)
    assert sum(counts.values()) == len(found)


def test_two_near_constant_models_are_both_named():
    f = finding(numbers(), "ratio_low", weak=("finetune", "scratch"))
    assert f.verdict == NOT_MEASURABLE and f.rule.startswith("finetune and scratch has < 1%")


def test_undefined_numbers_are_written_n_a():
    num = numbers(discard_share_vs_order_spearman=math.nan, new_high_order_share=math.nan)
    assert "Spearman rho(order, share) = n/a" in finding(num, "discard_share_grows_with_order").measured
    assert "n/a of the new knowledge" in finding(num, "much_new_knowledge_mostly_high_order").measured


def test_the_numbers_as_report_json_content():
    """``to_dict`` gives report.json's keys; epochs become strings, tuples lists, findings dicts."""
    num = replace(numbers(), findings=tuple(paper_findings(numbers())))
    d = num.to_dict()
    assert sorted(d) == sorted([
        "accuracy", "annotation_hash", "data", "discard_over_preserve", "discard_share_by_order",
        "discard_share_vs_order_spearman", "final_epoch", "findings", "findings_verdicts", "jaccard", "jaccard_drops",
        "jaccard_first_at_level", "knowledge_by_order", "knowledge_totals", "loss", "model", "n",
        "new_high_order_share", "new_over_preserve", "new_share_by_order", "num_samples", "ratio", "ratio_by_order",
        "scratch_vs_pretrain", "strength_share", "strength_total", "study_dir", "two_phase", "two_phase_rule",
        "weak_models"])
    assert d["jaccard"]["finetune"] == {"0": 0.3, "1": 0.7, "2": 0.9, "3": 1.0}
    assert d["loss"]["scratch"]["train"] == {"1": 0.7, "2": 0.65, "3": 0.6}
    assert d["accuracy"]["finetune"] == {"val": 0.9, "test": 0.88}
    assert d["knowledge_by_order"]["new"] == [0.1, 0.2, 1.0, 2.0]
    assert d["findings"][0]["needs"] == ["probe", "finetune"] and d["findings"][0]["verdict"] == HOLDS
    assert json.loads(json.dumps(d)) == d
    assert num.title == "tiny-bert / TinyText" and replace(num, model=None, data=None).title == "tiny"
