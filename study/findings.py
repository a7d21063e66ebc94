"""The paper's findings (docs/method.md#the-papers-findings), each measured on a study and given a verdict.

:func:`paper_findings` takes the numbers :func:`harsanyi_lightning.study.report_numbers.compute_study` computed
from the artifacts (a :class:`~harsanyi_lightning.study.report_numbers.StudyNumbers`) and returns one
:class:`Finding` per claim of the paper: what the paper says, what this run measured (the numbers), and
a verdict (``holds``, ``partly``, ``does not hold``, or ``not measurable`` when a model the claim needs
is near-constant). Thresholds are stated in each finding's ``rule``, so a reader can check the verdict
against the numbers. Nothing here assumes the paper's conclusion: a small run may show none of them.
The rules are listed in docs/study.md, section "The findings and their verdict rules".
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from .number_format import number, percent

if TYPE_CHECKING:
    from .report_numbers import StudyNumbers

__all__ = [
    "HOLDS", "JACCARD_LEVEL", "NOT_HOLD", "NOT_MEASURABLE", "PAPER_RATIO_RANGE", "PARTLY", "SHARP_RISE", "VERDICTS",
    "Finding", "paper_findings", "verdict_counts",
]

HOLDS, PARTLY, NOT_HOLD, NOT_MEASURABLE = "holds", "partly", "does not hold", "not measurable"
#: every verdict, in the order the report counts them
VERDICTS = (HOLDS, PARTLY, NOT_HOLD, NOT_MEASURABLE)
PAPER_RATIO_RANGE = (0.13, 0.45)
JACCARD_LEVEL = 0.8
#: a Jaccard curve "rises sharply early" when one epoch takes it at least this far towards the final epoch
SHARP_RISE = 0.5


@dataclass(frozen=True)
class Finding:
    """One claim of the paper (docs/method.md#the-papers-findings), measured."""

    key: str
    paper: str  #: what the paper reports
    measured: str  #: what this run shows, with the numbers
    verdict: str  #: holds | partly | does not hold | not measurable
    rule: str  #: how the verdict follows from the numbers
    needs: tuple[str, ...] = ()  #: the models the claim is about

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _drops(curve: Mapping[int, float]) -> int:
    values = [curve[e] for e in sorted(curve)]
    return sum(1 for x, y in zip(values, values[1:]) if y < x)


def _knowledge_findings(num: StudyNumbers) -> list[Finding]:
    n = num.n
    dp = num.discard_over_preserve
    overall = dp.overall
    out = [Finding(
        "discard_more_than_twice_preserve",
        "discarded knowledge is more than twice the preserved knowledge",
        f"discarded / preserved = {number(overall, '.2f')} overall ({number(dp.by_order[0], '.2f')} at order 1, "
        f"{number(dp.by_order[-1], '.2f')} at order {n}); {number(overall / 2, '.2f')}x the paper's threshold of 2",
        HOLDS if overall > 2 else (PARTLY if overall > 1 else NOT_HOLD),
        "holds: > 2; partly: more discarded than preserved (> 1) but not twice; else does not hold",
        ("probe", "finetune"),
    )]
    ds, rho = num.discard_share_by_order, num.discard_share_vs_order_spearman
    grows = ds[-1] > ds[0]
    out.append(Finding(
        "discard_share_grows_with_order",
        "the share of the pre-trained knowledge that is discarded grows with the order",
        f"discarded share {percent(ds[0])} at order 1, {percent(ds[-1])} at order {n}; Spearman rho(order, share) = "
        f"{number(rho, '.2f')}",
        HOLDS if rho >= 0.5 and grows else (PARTLY if grows else NOT_HOLD),
        "holds: rho >= 0.5 and the highest order's share above order 1's; partly: only the latter",
        ("probe", "finetune"),
    ))
    new_ratio, high = num.new_over_preserve, num.new_high_order_share
    much, mostly_high = new_ratio >= 1, high > 0.5
    out.append(Finding(
        "much_new_knowledge_mostly_high_order",
        "the fine-tuned model learns much new knowledge, mostly of high order",
        f"new / preserved = {number(new_ratio, '.2f')}; {percent(high)} of the new knowledge lies at orders above "
        f"n/2 = {n / 2:g}",
        HOLDS if much and mostly_high else (PARTLY if much or mostly_high else NOT_HOLD),
        "much: new >= preserved; mostly high order: > 50% of K_new above n/2; holds: both, partly: one",
        ("probe", "finetune"),
    ))
    return out


def _ratio_finding(num: StudyNumbers) -> Finding:
    r, rw = num.ratio.ratio, num.ratio.ratio_weighted
    lo, hi = PAPER_RATIO_RANGE
    where = "inside" if lo <= r <= hi else ("below" if r < lo else "above")
    return Finding(
        "ratio_low",
        f"Ratio (preserved knowledge a scratch model also learns, eq. 8) is low: {lo:.0%} to {hi:.0%}",
        f"Ratio = {percent(r)} (mean over subsets, the paper's reading; strength-weighted: {percent(rw)}), {where} "
        "the paper's range",
        HOLDS if r <= hi else NOT_HOLD,
        f"holds: Ratio <= {hi:.0%} (low; below {lo:.0%} is lower still than the paper saw)",
        ("probe", "finetune", "scratch"),
    )


def _jaccard_findings(num: StudyNumbers) -> list[Finding]:
    jf, js = num.jaccard["finetune"], num.jaccard["scratch"]
    fe, se = num.jaccard_first_at_level["finetune"], num.jaccard_first_at_level["scratch"]
    final_f, final_s = num.final_epoch["finetune"], num.final_epoch["scratch"]
    f1, s1 = jf.get(1), js.get(1)
    drops_f, drops_s = _drops(jf), _drops(js)
    sharp = f1 is not None and f1 >= SHARP_RISE
    smooth = drops_f == 0
    out = [Finding(
        "jaccard_finetune_sharp_then_saturates",
        "Jaccard_finetune rises sharply in early epochs, then saturates smoothly",
        f"finetune: J = {number(f1, '.3f')} after epoch 1, reaches {JACCARD_LEVEL} at epoch {fe} of {final_f}, "
        f"falls back {drops_f} times",
        HOLDS if sharp and smooth else (PARTLY if sharp or smooth else NOT_HOLD),
        f"sharp: J(1) >= {SHARP_RISE}; smooth: the curve never falls; holds: both, partly: one",
        ("finetune",),
    )]
    before = sorted(e for e in set(jf) & set(js) if 0 < e < min(final_f, final_s))
    below = sum(1 for e in before if js[e] < jf[e])
    slower = bool(before) and below == len(before)
    later = se is None or (fe is not None and se > fe)
    out.append(Finding(
        "jaccard_scratch_slow_late_bumpy",
        "Jaccard_random rises slowly, late, and with ups and downs",
        f"scratch: J = {number(s1, '.3f')} after epoch 1 (finetune {number(f1, '.3f')}); below finetune in {below} "
        f"of {len(before)} epochs before the last; reaches {JACCARD_LEVEL} at epoch {se} of {final_s} (finetune: "
        f"{fe}); falls back {drops_s} times",
        HOLDS if slower and later and drops_s > 0 else (PARTLY if slower or later else NOT_HOLD),
        f"slow: below finetune at every epoch before the last; late: reaches {JACCARD_LEVEL} after finetune; holds: "
        "slow, late and at least one fall; partly: slow or late",
        ("finetune", "scratch"),
    ))
    return out


def _training_findings(num: StudyNumbers) -> list[Finding]:
    fa, sa = num.accuracy["finetune"].val, num.accuracy["scratch"].val
    out = []
    if fa is not None and sa is not None:
        out.append(Finding(
            "finetune_accuracy_above_scratch",
            "fine-tuned accuracy is above scratch accuracy (Table 1)",
            f"validation accuracy: finetune {percent(fa)}, scratch {percent(sa)} ({100 * (fa - sa):+.1f} points)",
            HOLDS if fa > sa else NOT_HOLD,
            "holds: finetune's validation accuracy above scratch's",
        ))
    lf, ls = num.loss["finetune"].train, num.loss["scratch"].train
    common = sorted(set(lf) & set(ls))
    if common:
        lower = sum(1 for e in common if lf[e] < ls[e])
        out.append(Finding(
            "finetune_loss_falls_faster",
            "the fine-tuned model's training loss falls faster (Fig. 5)",
            f"training loss after epoch {common[0]}: finetune {number(lf[common[0]], '.3f')}, scratch "
            f"{number(ls[common[0]], '.3f')}; after epoch {common[-1]}: {number(lf[common[-1]], '.3f')} vs "
            f"{number(ls[common[-1]], '.3f')}; finetune lower in {lower} of {len(common)} epochs",
            HOLDS if lower == len(common) else (PARTLY if 2 * lower > len(common) else NOT_HOLD),
            "holds: lower in every epoch; partly: in most",
        ))
    return out


def paper_findings(num: StudyNumbers, weak: Sequence[str] = ()) -> list[Finding]:
    """Every finding of docs/method.md#the-papers-findings measured on ``num`` (the report's numbers). A
    claim about a model in ``weak`` (near-constant output: interactions under 1% of the strongest
    model's) is ``not measurable``: its numbers would measure noise."""
    found = _knowledge_findings(num) + [_ratio_finding(num)] + _jaccard_findings(num) + _training_findings(num)
    out = []
    for f in found:
        hit = [s for s in f.needs if s in weak]
        if hit:
            f = replace(f, verdict=NOT_MEASURABLE,
                        rule=f"{' and '.join(hit)} has < 1% of the strongest model's interaction strength; " + f.rule)
        out.append(f)
    return out


def verdict_counts(findings: Sequence[Finding]) -> dict[str, int]:
    """How many findings got each verdict."""
    out = {v: 0 for v in VERDICTS}
    for f in findings:
        out[f.verdict] += 1
    return out
