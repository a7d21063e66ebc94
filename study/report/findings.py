"""The paper's findings (docs/method.md#the-papers-findings), each measured with its interval and given a verdict by
the rule of :mod:`~harsanyi_lightning.study.report.verdicts` (docs/method.md#uncertainty-and-verdicts).

Every claim becomes one or more comparisons of a number with a threshold (:data:`FINDINGS`); a claim
with two parts ("much new knowledge, mostly of high order") or judged on a range (the Ratio's 13-45%)
is two entries. Each interaction finding is judged in both readings (``dense``, ``salient``;
:mod:`~harsanyi_lightning.study.report.readings`), the accuracy and loss findings once (reading ``outputs``).
:func:`paper_findings` takes the report's intervals
(:func:`~harsanyi_lightning.study.report.intervals.study_intervals`) and returns the :class:`Finding`
entries of ``report.json``. Nothing here assumes the paper's conclusion: a small run may show none of them.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Mapping, Sequence

from .bootstrap import Interval
from .number_format import interval_text, value_text
from .readings import DENSE, READINGS
from .verdicts import NOT_MEASURABLE, VERDICTS, verdict

__all__ = [
    "ESTIMATED_DENSE_WHY", "ESTIMATED_ORDER_WHY", "FINDINGS", "JACCARD_FALL", "JACCARD_LEVEL", "ORDER_SHAPE", "OUTPUTS",
    "PAPER_RATIO_RANGE", "SHARP_RISE", "WEAK_WHY", "Finding",
    "FindingSpec", "judge", "paper_findings", "reading_agreement", "verdict_counts",
]

PAPER_RATIO_RANGE = (0.13, 0.45)
#: the Jaccard level the report marks on the curves
JACCARD_LEVEL = 0.8
#: Jaccard_finetune "rises sharply early" when it is above this at the end of the first epoch
SHARP_RISE = 0.5
#: a Jaccard curve is smooth when no step between evaluations falls by more than this
JACCARD_FALL = 0.02
#: the reading of the findings about the models' outputs (accuracy, loss): no interactions involved
OUTPUTS = "outputs"
#: why a dense-reading finding of a sparse study is not judged (docs/study.md#sparse-studies)
ESTIMATED_DENSE_WHY = ("the dividends are sparse estimates and the dense reading needs every dividend: it sums every "
                       "subset, and an estimate keeps only the recovered ones, the rest counting 0 "
                       "(docs/method.md#sparse-estimation); the salient reading is judged")
#: findings about how knowledge spreads over the orders, which sparse estimates cannot judge in either reading
ORDER_SHAPE = ("discard_share_grows_with_order", "new_knowledge_mostly_high_order")
#: why an order-shape finding of a sparse study is not judged (docs/study.md#sparse-studies)
ESTIMATED_ORDER_WHY = ("the dividends are sparse estimates, which reach only the orders their budget can see (a random "
                       "mask holds a given k-subset with probability 2^-k), so how knowledge spreads over the orders is "
                       "not measured (docs/method.md#sparse-estimation)")
#: why a finding about a near-constant model is not judged (a regime in ``weak`` given without its own reason)
WEAK_WHY = "has < 1% of the strongest model's interaction strength"
ORDER_TOTAL = "totals are sums of the order averages Σ_i K^(i) over orders 1..n (Fig. 2)"


@dataclass(frozen=True)
class FindingSpec:
    """One comparison: the interval ``key`` (without the reading prefix), its threshold and direction."""

    id: str
    statement: str  #: what the paper reports
    key: str
    threshold: float
    direction: str
    needs: tuple[str, ...]  #: the roles of the models the claim is about (the paper's findings)
    aggregation: str
    label: str  #: the number's name in the report's text
    fmt: str = ".3f"  #: how the estimate is written; "%" for a share


FINDINGS = (
    FindingSpec("discard_more_than_twice_preserve", "discarded knowledge is more than twice the preserved knowledge",
                "discard_over_preserve", 2.0, ">", ("pretrain", "finetune"), ORDER_TOTAL, "discarded / preserved", ".2f"),
    FindingSpec("discard_share_grows_with_order",
                "the share of the pre-trained knowledge that is discarded grows with the order",
                "discard_share_spearman", 0.0, ">", ("pretrain", "finetune"),
                "Spearman rho of the order against K_discard^(i) / K_pretrain^(i)", "Spearman rho(order, discarded share)",
                ".2f"),
    FindingSpec("much_new_knowledge", "the fine-tuned model learns much new knowledge (at least as much as it "
                "preserves)", "new_over_preserve", 1.0, ">", ("pretrain", "finetune"), ORDER_TOTAL, "new / preserved", ".2f"),
    FindingSpec("new_knowledge_mostly_high_order", "the new knowledge is mostly of high order (above n/2)",
                "new_high_order_share", 0.5, ">", ("pretrain", "finetune"), "share of Σ_i K_new^(i) at orders i > n/2",
                "share of K_new above n/2", "%"),
    FindingSpec("ratio_low", f"Ratio (preserved knowledge a scratch model also learns, eq. 8) is low: at most "
                f"{PAPER_RATIO_RANGE[1]:.0%}", "ratio", PAPER_RATIO_RANGE[1], "<", ("pretrain", "finetune", "scratch"),
                "the paper's mean of ratio(S) over subsets with K_preserve(S) > 0, then over samples", "Ratio", "%"),
    FindingSpec("ratio_at_least_paper_low", f"Ratio is within the paper's range: at least {PAPER_RATIO_RANGE[0]:.0%}",
                "ratio", PAPER_RATIO_RANGE[0], ">", ("pretrain", "finetune", "scratch"),
                "the paper's mean of ratio(S) over subsets with K_preserve(S) > 0, then over samples", "Ratio", "%"),
    FindingSpec("jaccard_finetune_sharp_early_rise", "Jaccard_finetune rises sharply in early epochs",
                "jaccard/finetune_first_epoch", SHARP_RISE, ">", ("finetune",),
                "Jaccard with the final evaluation at the end of the first epoch, or the latest evaluation inside it, mean over "
                "samples", "J_finetune in the first epoch"),
    FindingSpec("jaccard_finetune_above_scratch_early", "Jaccard_finetune is above Jaccard_random early",
                "jaccard/finetune_minus_scratch_first_epoch", 0.0, ">", ("finetune", "scratch"),
                "finetune minus scratch at the end of the first epoch, or the latest evaluation inside it, paired over samples",
                "J_finetune - J_scratch in the first epoch"),
    FindingSpec("jaccard_scratch_slower", "Jaccard_random rises more slowly than Jaccard_finetune",
                "jaccard/finetune_minus_scratch_inside", 0.0, ">", ("finetune", "scratch"),
                "finetune minus scratch averaged over the evaluations strictly inside training",
                "mean J_finetune - J_scratch inside training"),
    FindingSpec("jaccard_finetune_smooth", "Jaccard_finetune then saturates smoothly",
                "jaccard/largest_fall_finetune", JACCARD_FALL, "<", ("finetune",),
                "the largest fall of the mean curve between consecutive evaluations", "largest fall of J_finetune"),
    FindingSpec("jaccard_scratch_ups_and_downs", "Jaccard_random rises with ups and downs",
                "jaccard/largest_fall_scratch", JACCARD_FALL, ">", ("scratch",),
                "the largest fall of the mean curve between consecutive evaluations", "largest fall of J_scratch"),
    FindingSpec("finetune_accuracy_above_scratch", "fine-tuned accuracy is above scratch accuracy (Table 1)",
                "accuracy/finetune_minus_scratch", 0.0, ">", (), "validation accuracy, finetune minus scratch",
                "val acc finetune - scratch", "%"),
    FindingSpec("finetune_loss_falls_faster", "the fine-tuned model's training loss falls faster (Fig. 5)",
                "loss/scratch_minus_finetune", 0.0, ">", (),
                "scratch minus finetune training loss, mean over the epochs both logged", "train loss scratch - finetune"),
)


@dataclass(frozen=True)
class Finding:
    """One claim of the paper, measured: ``report.json``'s entry (docs/study.md, section "Report")."""

    id: str
    statement: str  #: what the paper reports
    reading: str  #: dense | salient | outputs
    estimate: float
    ci: tuple[float, float]
    threshold: float
    direction: str  #: ">" or "<": the side of the threshold the claim is on
    verdict: str  #: holds | inconclusive | does not hold | not measurable
    measured: str  #: the estimate and interval in words
    aggregation: str  #: what the number is, and how its totals are formed
    needs: tuple[str, ...] = ()  #: the regimes whose interactions the claim is about
    per_seed: tuple[float, ...] = ()  #: each training seed's own estimate (several seeds only)
    why: str = ""  #: why a finding is not measurable

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _measured(spec: FindingSpec, iv: Interval) -> str:
    text = f"{spec.label} = {interval_text(iv, spec.fmt)}"
    if iv.per_seed:
        text += "; per seed " + ", ".join(value_text(v, spec.fmt) for v in iv.per_seed)
    return text


def judge(spec: FindingSpec, reading: str, iv: Interval, weak: Sequence[str] | Mapping[str, str],
          needs: Sequence[str], estimated: bool = False) -> Finding:
    """One :class:`Finding`: ``spec`` judged in ``reading`` from its interval ``iv`` by the verdict rule, about the
    regimes ``needs``; ``not measurable`` (with its ``why``) when one of them is in ``weak`` (a list, or ``{regime:
    why}``), when ``estimated`` dividends cannot judge it (the dense reading; the spread over the orders), or when
    ``iv`` is undefined."""
    needs = tuple(needs)
    hit = [s for s in needs if s in weak]
    reasons = weak if isinstance(weak, Mapping) else {s: WEAK_WHY for s in weak}
    why = ""
    if estimated and reading == DENSE:
        found, why = NOT_MEASURABLE, ESTIMATED_DENSE_WHY
    elif estimated and spec.id in ORDER_SHAPE:
        found, why = NOT_MEASURABLE, ESTIMATED_ORDER_WHY
    elif hit:
        found, why = NOT_MEASURABLE, "; ".join(f"{s} {reasons[s]}" for s in hit)
    elif not math.isfinite(iv.estimate) or not (math.isfinite(iv.low) and math.isfinite(iv.high)):
        found, why = NOT_MEASURABLE, "the number or its interval is undefined: nothing to compare, or not recorded"
    else:
        found = verdict(iv.low, iv.high, spec.threshold, spec.direction)
    return Finding(id=spec.id, statement=spec.statement, reading=reading, estimate=iv.estimate, ci=iv.ci,
                   threshold=spec.threshold, direction=spec.direction, verdict=found,
                   measured=_measured(spec, iv), aggregation=spec.aggregation, needs=needs,
                   per_seed=iv.per_seed, why=why)


def paper_findings(intervals: Mapping[str, Any], weak: Sequence[str] | Mapping[str, str], paper: Mapping[str, str], *,
                   estimated: bool = False) -> list[Finding]:
    """Every finding of :data:`FINDINGS` judged from ``intervals`` (keys as
    :func:`~harsanyi_lightning.study.report.intervals.study_intervals` gives them): the interaction findings
    once per reading, the others once. ``paper`` names the regime of each role. A claim about a model in ``weak``
    (near-constant output; or ``{regime: why}``, e.g. a model that did not learn the task,
    :mod:`~harsanyi_lightning.study.report.task_learned`) is ``not measurable``, the why naming the model and the reason:
    its numbers would measure noise. With ``estimated`` (sparse estimates) every dense-reading
    finding is ``not measurable`` (:data:`ESTIMATED_DENSE_WHY`), and so are the two about the spread over the
    orders (:data:`ORDER_SHAPE`, :data:`ESTIMATED_ORDER_WHY`); the other salient-reading ones are judged as usual."""
    out = []
    for spec in FINDINGS:
        needs = [paper[role] for role in spec.needs]
        if spec.key.startswith(("accuracy/", "loss/")):
            out.append(judge(spec, OUTPUTS, intervals[spec.key], weak, needs))
            continue
        for reading in READINGS:
            out.append(judge(spec, reading, intervals[f"{reading}/{spec.key}"], weak, needs, estimated))
    return out


def verdict_counts(findings: Sequence[Finding]) -> dict[str, int]:
    """How many findings got each verdict."""
    out = {v: 0 for v in VERDICTS}
    for f in findings:
        out[f.verdict] += 1
    return out


def reading_agreement(findings: Sequence[Finding]) -> dict[str, dict[str, str]]:
    """``{finding id: {reading: verdict}}``: which reading reproduces which finding of the paper."""
    out: dict[str, dict[str, str]] = {}
    for f in findings:
        out.setdefault(f.id, {})[f.reading] = f.verdict
    return out
