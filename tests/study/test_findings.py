"""The paper's findings judged from intervals (docs/method.md#uncertainty-and-verdicts): the verdict rule at its
edges, every finding in both readings, near-constant models, and report.json's schema; hand-made numbers, no
study run."""
from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from harsanyi_lightning.study.report.bootstrap import Interval
from harsanyi_lightning.study.report.findings import FINDINGS, OUTPUTS, paper_findings, reading_agreement, verdict_counts
from harsanyi_lightning.study.report.readings import READINGS
from harsanyi_lightning.study.report.verdicts import HOLDS, INCONCLUSIVE, NOT_HOLD, NOT_MEASURABLE, verdict
from harsanyi_lightning.study.report.numbers import (
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
#: the regime of each role in these hand-made numbers
PAPER = {"pretrain": "probe", "finetune": "finetune", "scratch": "scratch"}


def judge(given: dict, weak: tuple = (), **kwargs) -> list:
    """:func:`paper_findings` of ``given`` intervals with the regimes of :data:`PAPER`."""
    return paper_findings(given, weak, PAPER, **kwargs)


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


def intervals(**changes: Interval) -> dict[str, Interval]:
    """An interval for every finding's number, each wholly on its finding's side (so every finding holds);
    ``changes`` replace intervals by key (``dense/ratio``, ``accuracy/finetune_minus_scratch``, ...)."""
    out = {}
    for spec in FINDINGS:
        t = spec.threshold
        iv = Interval(t + 0.2, t + 0.1, t + 0.3) if spec.direction == ">" else Interval(t - 0.2, t - 0.3, t - 0.1)
        keys = [spec.key] if spec.key.startswith(("accuracy/", "loss/")) else [f"{r}/{spec.key}" for r in READINGS]
        out.update({k: iv for k in keys})
    out.update(changes)
    return out


def find(found, fid: str, reading: str):
    return next(f for f in found if f.id == fid and f.reading == reading)


@pytest.mark.parametrize("low, high, direction, expected", [
    (2.01, 3.0, ">", HOLDS), (2.0, 3.0, ">", INCONCLUSIVE), (1.0, 2.0, ">", INCONCLUSIVE),
    (1.0, 1.99, ">", NOT_HOLD), (1.5, 2.5, ">", INCONCLUSIVE),
    (1.0, 1.99, "<", HOLDS), (1.0, 2.0, "<", INCONCLUSIVE), (2.0, 3.0, "<", INCONCLUSIVE), (2.01, 3.0, "<", NOT_HOLD),
    (math.nan, 3.0, ">", NOT_MEASURABLE),
])
def test_the_verdict_rule_at_its_edges(low, high, direction, expected):
    assert verdict(low, high, 2.0, direction) == expected


def test_the_verdict_rule_rejects_an_unknown_direction():
    with pytest.raises(ValueError, match="direction"):
        verdict(1.0, 2.0, 0.0, ">=")


def test_every_finding_is_judged_in_both_readings_and_follows_its_own_interval():
    found = judge(intervals())
    interaction = [s for s in FINDINGS if not s.key.startswith(("accuracy/", "loss/"))]
    assert len(found) == 2 * len(interaction) + 2
    assert {(f.id, f.reading) for f in found} == (
        {(s.id, r) for s in interaction for r in READINGS} | {("finetune_accuracy_above_scratch", OUTPUTS),
                                                              ("finetune_loss_falls_faster", OUTPUTS)})
    assert all(f.verdict == HOLDS for f in found), [(f.id, f.verdict) for f in found if f.verdict != HOLDS]
    assert verdict_counts(found) == {HOLDS: len(found), INCONCLUSIVE: 0, NOT_HOLD: 0, NOT_MEASURABLE: 0}
    for f in found:
        assert f.ci[0] <= f.estimate <= f.ci[1]
        assert f.verdict == verdict(f.ci[0], f.ci[1], f.threshold, f.direction)


def test_one_reading_can_hold_while_the_other_is_inconclusive():
    found = judge(intervals(**{"salient/discard_over_preserve": Interval(2.2, 1.9, 2.6)}))
    assert find(found, "discard_more_than_twice_preserve", "dense").verdict == HOLDS
    f = find(found, "discard_more_than_twice_preserve", "salient")
    assert f.verdict == INCONCLUSIVE and f.measured == "discarded / preserved = 2.20 [1.90, 2.60]"
    assert reading_agreement(found)["discard_more_than_twice_preserve"] == {"dense": HOLDS, "salient": INCONCLUSIVE}


def test_the_ratio_is_judged_on_both_ends_of_the_papers_range():
    found = judge(intervals(**{"dense/ratio": Interval(0.5, 0.47, 0.55),
                                        "salient/ratio": Interval(0.08, 0.05, 0.12)}))
    assert find(found, "ratio_low", "dense").verdict == NOT_HOLD
    assert find(found, "ratio_at_least_paper_low", "dense").verdict == HOLDS
    assert find(found, "ratio_low", "salient").verdict == HOLDS
    assert find(found, "ratio_at_least_paper_low", "salient").verdict == NOT_HOLD
    assert find(found, "ratio_low", "salient").measured == "Ratio = 8.0% [5.0%, 12.0%]"


@pytest.mark.parametrize("weak, unmeasurable", [
    (("scratch",), {"ratio_low", "ratio_at_least_paper_low", "jaccard_finetune_above_scratch_early",
                    "jaccard_scratch_slower", "jaccard_scratch_ups_and_downs"}),
    (("probe",), {"discard_more_than_twice_preserve", "discard_share_grows_with_order", "much_new_knowledge",
                  "new_knowledge_mostly_high_order", "ratio_low", "ratio_at_least_paper_low"}),
])
def test_a_near_constant_model_makes_the_findings_about_it_not_measurable(weak, unmeasurable):
    found = judge(intervals(), weak)
    assert {f.id for f in found if f.verdict == NOT_MEASURABLE} == unmeasurable
    for f in found:
        if f.verdict == NOT_MEASURABLE:
            assert f.why.startswith(f"{weak[0]} has < 1%")
        else:
            assert f.verdict == HOLDS and not f.why


def test_an_undefined_interval_is_not_measurable_and_written_n_a():
    found = judge(intervals(**{"accuracy/finetune_minus_scratch": Interval(0.05, math.nan, math.nan)}))
    f = find(found, "finetune_accuracy_above_scratch", OUTPUTS)
    assert f.verdict == NOT_MEASURABLE and f.measured == "val acc finetune - scratch = 5.0% [n/a, n/a]"


def test_per_seed_estimates_are_shown():
    found = judge(intervals(**{"dense/new_over_preserve": Interval(1.5, 1.2, 1.9, (1.3, 1.7))}))
    assert find(found, "much_new_knowledge", "dense").measured.endswith("; per seed 1.30, 1.70")
    assert find(found, "much_new_knowledge", "dense").per_seed == (1.3, 1.7)


def test_the_numbers_as_report_json_content():
    """``to_dict`` gives report.json's keys; epochs become strings, tuples lists, findings and intervals dicts."""
    found = tuple(judge(intervals()))
    num = replace(numbers(), findings=found, findings_verdicts=verdict_counts(found),
                  intervals={"dense/ratio": Interval(0.3, 0.2, 0.4), "dense/K_new": (Interval(1.0, 0.5, 1.5),)})
    d = num.to_dict()
    assert sorted(d) == sorted([
        "accuracy", "annotation_hash", "bootstrap", "budget", "data", "discard_over_preserve", "discard_share_by_order",
        "discard_share_vs_order_spearman", "estimator", "evaluations", "final_epoch", "findings", "findings_verdicts", "intervals",
        "jaccard", "jaccard_drops", "jaccard_first_at_level", "knowledge_by_order", "knowledge_by_order_salient",
        "knowledge_totals", "learned", "learned_rule", "loss", "model", "n", "new_high_order_share",
        "new_over_preserve", "new_share_by_order", "not_learned", "num_samples", "paper", "r2_heldout", "ratio",
        "ratio_by_order", "reading_agreement", "readings", "trade_off", "regime_findings",
        "regime_findings_left_out", "regime_findings_verdicts", "regimes",
        "scratch_vs_pretrain", "seeds",
        "strength_share", "strength_total", "study_dir", "two_phase", "two_phase_rule", "verdict_rule",
        "weak_models"])
    assert d["jaccard"]["finetune"] == {"0": 0.3, "1": 0.7, "2": 0.9, "3": 1.0}
    assert d["loss"]["scratch"]["train"] == {"1": 0.7, "2": 0.65, "3": 0.6}
    assert d["accuracy"]["finetune"] == {"val": 0.9, "test": 0.88}
    assert d["knowledge_by_order"]["new"] == [0.1, 0.2, 1.0, 2.0]
    assert d["intervals"]["dense/ratio"] == {"estimate": 0.3, "ci": [0.2, 0.4], "per_seed": []}
    assert d["intervals"]["dense/K_new"] == [{"estimate": 1.0, "ci": [0.5, 1.5], "per_seed": []}]
    first = d["findings"][0]
    assert {"id", "statement", "estimate", "ci", "threshold", "direction", "verdict", "reading"} <= set(first)
    assert first["needs"] == ["probe", "finetune"] and first["verdict"] == HOLDS and first["direction"] == ">"
    assert d["bootstrap"] == {"resamples": 1000, "seed": 0, "confidence": 0.95}
    assert (d["estimator"], d["budget"], d["r2_heldout"]) == ("exact", None, {})  # an exact study: nothing estimated
    assert json.loads(json.dumps(d)) == d
    assert num.title == "tiny-bert / TinyText" and replace(num, model=None, data=None).title == "tiny"


def test_sparse_estimates_leave_the_dense_reading_not_measurable_and_judge_the_salient_one():
    """docs/study.md#sparse-studies: a dense-reading finding of estimated dividends is not measurable (it needs every
    dividend), and so are the two about the spread over the orders; the other salient-reading findings and the
    outputs findings get the verdicts they get on exact dividends."""
    from harsanyi_lightning.study.report.findings import ESTIMATED_DENSE_WHY, ESTIMATED_ORDER_WHY, ORDER_SHAPE

    exact = judge(intervals())
    estimated = judge(intervals(), estimated=True)
    assert len(exact) == len(estimated)
    for e, s in zip(exact, estimated):
        if s.reading == "dense":
            assert s.verdict == NOT_MEASURABLE and s.why == ESTIMATED_DENSE_WHY
            assert s.estimate == e.estimate
        elif s.id in ORDER_SHAPE:
            assert s.verdict == NOT_MEASURABLE and s.why == ESTIMATED_ORDER_WHY and s.estimate == e.estimate
        else:
            assert s == e
    assert any(e.verdict != NOT_MEASURABLE for e in exact if e.reading == "dense")
