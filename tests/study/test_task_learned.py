"""Models that did not learn the task (docs/study.md#models-that-did-not-learn): the rule on hand-made numbers, the
findings that need such a model become not measurable with the reason, and report.md says so at its top."""
from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from harsanyi_lightning.study.report.bootstrap import Interval
from harsanyi_lightning.study.report.findings import OUTPUTS, paper_findings
from harsanyi_lightning.study.report.task_learned import (
    learned_checks,
    learned_markdown,
    not_learned,
    unmeasurable_reasons,
)
from harsanyi_lightning.study.report.markdown import render_markdown
from harsanyi_lightning.study.report.verdicts import HOLDS, NOT_MEASURABLE
from tests.study.test_findings import PAPER, intervals, numbers

#: a training loss that falls well below ln 2
FALLS = {1: 0.6, 2: 0.4}


def study(learned) -> object:
    """The hand-made numbers of tests/study/test_findings.py with the paper's regimes in their roles and ``learned``."""
    roles = {regime: {"kind": regime, "role": role} for role, regime in PAPER.items()}
    return replace(numbers(), paper=PAPER, regimes=roles, learned=learned)


def check(accuracy: Interval | None, loss: dict, classes: int | None = 2, labels=None):
    summary = {"num_classes": classes} if classes else {}
    given = {"accuracy/m": accuracy} if accuracy is not None else {}
    return learned_checks({"m": summary}, given, {"m": loss}, labels)["m"]


@pytest.mark.parametrize("accuracy, loss, learned, words", [
    (Interval(0.80, 0.74, 0.86), FALLS, True, None),
    (Interval(0.50, 0.25, 0.69), FALLS, False, "validation accuracy 50.0% [25.0%, 69.0%] not above chance (50.0%, 2 classes)"),
    (Interval(0.56, 0.50, 0.62), FALLS, False, "not above chance"),  # touching chance is not above it
    (Interval(0.30, 0.20, 0.40), FALLS, False, "not above chance"),  # below chance
    (Interval(0.80, 0.74, 0.86), {1: 0.70, 2: 0.71}, False, "training loss did not fall (0.7000 in epoch 1, 0.7100 in epoch 2), not below ln 2"),
    (Interval(0.80, 0.74, 0.86), {1: 0.30, 2: 0.31}, True, None),  # fell in epoch 1, then flat: learned
    (Interval(0.80, 0.74, 0.86), {1: 0.90, 2: 0.75}, True, None),  # above ln 2 but falling: still learning
    (Interval(0.80, 0.74, 0.86), {1: 0.70}, False, "training loss 0.7000 after one epoch, not below ln 2"),
    (None, {1: 0.70}, False, "training loss 0.7000 after one epoch"),  # no accuracy interval: the loss rule alone
    (Interval(0.80, math.nan, math.nan), FALLS, True, None),  # an undefined interval: the loss rule alone
])
def test_the_rule(accuracy, loss, learned, words):
    c = check(accuracy, loss)
    assert c.learned is learned and c.chance == 0.5 and c.num_classes == 2 and c.classes_from == "summary"
    assert (c.why == "") if learned else (words in c.why), c.why


def test_chance_follows_the_number_of_classes():
    assert check(Interval(0.45, 0.40, 0.50), FALLS, classes=10).learned  # 10 classes: chance is 10%
    assert check(Interval(0.45, 0.40, 0.50), {1: 2.40, 2: 2.35}, classes=10).learned  # above ln 10, but falling
    c = check(Interval(0.45, 0.40, 0.50), {1: 2.40, 2: 2.45}, classes=10)
    assert not c.learned and f"not below ln 10 = {math.log(10):.4f}" in c.why


def test_a_summary_without_num_classes_takes_the_sample_sets_labels():
    c = check(Interval(0.40, 0.36, 0.50), FALLS, classes=None, labels=torch.tensor([0, 2, 1, 2]))
    assert (c.num_classes, c.classes_from, c.chance) == (3, "sample set", 1 / 3) and c.learned
    unknown = check(Interval(0.40, 0.30, 0.50), FALLS, classes=None)
    assert unknown.num_classes is None and unknown.chance is None and unknown.learned  # nothing to compare with


def test_the_findings_that_need_a_model_that_did_not_learn_are_not_measurable_with_the_reason():
    checks = learned_checks({s: {"num_classes": 2} for s in PAPER.values()},
                             {"accuracy/probe": Interval(0.8, 0.75, 0.85), "accuracy/finetune": Interval(0.9, 0.85, 0.95),
                              "accuracy/scratch": Interval(0.5, 0.4, 0.6)},
                             {s: FALLS for s in PAPER.values()})
    assert list(not_learned(checks)) == ["scratch"]
    found = paper_findings(intervals(), unmeasurable_reasons((), checks), PAPER)
    for f in found:
        if "scratch" in f.needs:
            assert f.verdict == NOT_MEASURABLE
            assert f.why.startswith("scratch did not learn the task: validation accuracy 50.0% [40.0%, 60.0%]"), f.why
        else:  # the claims about the other models, and the accuracy and loss findings (about the outputs)
            assert f.verdict == HOLDS and not f.why
    assert {f.id for f in found if f.reading == OUTPUTS and f.verdict == HOLDS} == {
        "finetune_accuracy_above_scratch", "finetune_loss_falls_faster"}


def test_a_near_constant_model_that_did_not_learn_gives_both_reasons():
    checks = {"scratch": replace(check(Interval(0.5, 0.4, 0.6), FALLS), regime="scratch")}
    assert unmeasurable_reasons(("scratch", "probe"), checks) == {
        "scratch": "has < 1% of the strongest model's interaction strength and did not learn the task: "
                   "validation accuracy 50.0% [40.0%, 60.0%] not above chance (50.0%, 2 classes)",
        "probe": "has < 1% of the strongest model's interaction strength"}


def test_report_md_warns_at_its_top_and_calls_a_study_of_models_at_chance_a_smoke_test():
    at_chance = {s: {"num_classes": 2} for s in PAPER.values()}
    chance_iv = {f"accuracy/{s}": Interval(0.5, 0.25, 0.75) for s in PAPER.values()}
    none = learned_checks(at_chance, chance_iv, {s: FALLS for s in PAPER.values()})
    md = render_markdown(study(none))
    head = md.split("## The paper's findings")[0]
    assert "> **Warning: no model learned the task.**" in head and "**This study is a smoke test**" in head
    for s in PAPER.values():
        assert f"> - **{s}**: validation accuracy 50.0% [25.0%, 75.0%] not above chance" in head
    one = learned_checks(at_chance, {**chance_iv, "accuracy/probe": Interval(0.9, 0.85, 0.95),
                                      "accuracy/finetune": Interval(0.9, 0.85, 0.95)}, {s: FALLS for s in PAPER.values()})
    head = render_markdown(study(one)).split("## The paper's findings")[0]
    assert "> **Warning: scratch did not learn the task.**" in head and "smoke test" not in head
    assert "> - **scratch**: validation accuracy" in head and "> - **probe**" not in head
    every = learned_checks(at_chance, {f"accuracy/{s}": Interval(0.9, 0.85, 0.95) for s in PAPER.values()},
                            {s: FALLS for s in PAPER.values()})
    assert learned_markdown(every) == [] and "Warning" not in render_markdown(study(every))
