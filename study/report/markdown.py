"""``report.md``: the findings with their verdicts, Table 1, the totals behind each figure and the
two-phase view, written from a study's :class:`~harsanyi_lightning.study.report.numbers.StudyNumbers`
(docs/study.md, section "Report")."""
from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence

from .findings import FINDINGS, OUTPUTS
from .task_learned import learned_markdown
from .number_format import MISSING, interval_text, number, percent
from .readings import READINGS
from .statistics import safe_div
from .verdicts import RULE as VERDICT_RULE
from .two_phase import RULE as TWO_PHASE_RULE
from .two_phase import SOURCES as TWO_PHASE_SOURCES
from .two_phase import statements as two_phase_statements

if TYPE_CHECKING:
    from .numbers import StudyNumbers
    from .two_phase import TwoPhaseCurve

__all__ = [
    "DENSE_ONLY_FIGURES", "FIGURES", "drawn_figures", "estimated_markdown", "findings_markdown", "observations",
    "readings_markdown", "regimes_markdown", "render_markdown", "salient_knowledge_markdown", "two_phase_markdown",
]

#: the report's figures, in the order report.md shows them (each ``<name>.png`` beside report.md)
FIGURES = ("knowledge_by_order", "ratio", "jaccard", "loss", "samples", "two_phase", "trade_off")
#: the figures that read a dense ``dividends[sample, mask]`` table (exact Shapley values of every word from all
#: ``2**n`` dividends): not drawn for a sparse study (docs/study.md#sparse-studies)
DENSE_ONLY_FIGURES = ("samples",)


def drawn_figures(num: StudyNumbers) -> tuple[str, ...]:
    """The :data:`FIGURES` drawn for this study: all of them, less :data:`DENSE_ONLY_FIGURES` for sparse estimates."""
    return tuple(f for f in FIGURES if not (num.estimated and f in DENSE_ONLY_FIGURES))


def estimated_markdown(num: StudyNumbers) -> list[str]:
    """For a sparse study (docs/study.md#sparse-studies): that the dividends are estimates, and the held-out R^2 of
    every regime at every evaluation (median and minimum over the samples); nothing for an exact study."""
    if not num.estimated:
        return []
    L = ["", f"**Estimated dividends.** The dividends are sparse estimates from {num.budget} forward passes per "
         "sample (`estimator: sparse`, docs/method.md#sparse-estimation), not the exact transform of all 2^n "
         "masks; a subset an estimate did not recover counts 0. The findings are judged in the salient reading; "
         "those of the dense reading are not measurable (it needs every dividend). How well each estimate "
         "reproduces its model's outputs on masks it was not fitted on (held-out R^2):", "",
         "| regime | step | epoch | median R^2 | min R^2 |", "|---|---|---|---|---|"]
    for s in num.regimes:
        for row in num.r2_heldout.get(s, ()):
            L.append(f"| {s} | {row['step']} | {row['epoch']} | {number(row['median'], '.4f')} | "
                     f"{number(row['min'], '.4f')} |")
    return L



def observations(num: StudyNumbers) -> list[str]:
    """What the findings table does not say: interaction strength of each model, and the caution when a
    model is near-constant (its Ratio and Jaccard numbers would measure noise)."""
    st, share = num.strength_total, num.strength_share
    line = ("Interaction strength (sum over orders of the mean |I(S)|): "
            + ", ".join(f"{s} {number(st[s], '.3g')} ({percent(share[s])} of the strongest)" for s in num.regimes) + ".")
    weak = num.weak_models
    if weak:
        line += (" " + " and ".join(weak) + f" {'has' if len(weak) == 1 else 'have'} less than 1% of the strongest "
                 "model's interactions: its output hardly depends on the input variables (a near-constant "
                 "predictor that has not learned the task), so the Ratio and Jaccard numbers involving it measure "
                 "numerical noise rather than knowledge; train it longer or with another learning rate.")
    out = [line]
    finals = ", ".join(f"{s}: epoch {num.final_epoch[s]}" for s in num.trained)
    out.append(f"The final epoch's Jaccard is 1 by definition ({finals}), so the curves are read at the epochs "
               "before it.")
    return out


def findings_markdown(num: StudyNumbers) -> list[str]:
    """The table of the paper's findings (docs/method.md#the-papers-findings): the claim, the reading, the estimate
    with its interval, the threshold, the verdict; then the rule and which reading reproduces which finding."""
    counts = num.findings_verdicts
    b = num.bootstrap
    seeds = [s for s in num.seeds if s is not None]
    lines = [", ".join(f"{k}: {v}" for k, v in counts.items() if v) + f" (of {len(num.findings)}).", "",
             f"Intervals: {b.confidence:.0%} percentile bootstrap, {b.resamples} resamples (seed {b.seed}), over the "
             f"{num.num_samples} samples" + (f" within the {len(seeds)} training seeds {seeds}, seeds resampled first"
                                             if seeds else " (one training seed)") + ".",
             f"Verdict rule: {VERDICT_RULE}.", "",
             "| finding (paper) | reading | measured [95% interval] | threshold | verdict |", "|---|---|---|---|---|"]
    for f in num.findings:
        lines.append(f"| {f.statement} | {f.reading} | {f.measured} | {f.direction} {number(f.threshold, '.3g')} | "
                     f"**{f.verdict}**{' (' + f.why + ')' if f.why else ''} |")
    lines += ["", "What each number is: " + "; ".join(
        f"*{spec.id}*: {spec.aggregation}" for spec in FINDINGS) + "."]
    return lines


def readings_markdown(num: StudyNumbers) -> list[str]:
    """Which reading reproduces which finding, and the aggregation table of discarded / preserved."""
    L = ["## Readings: all subsets or salient interactions (docs/method.md#knowledge-metrics)", ""]
    L += [f"- **{r}**: {what}" for r, what in READINGS.items()]
    L += ["", "| finding | " + " | ".join(READINGS) + " |", "|---|" + "---|" * len(READINGS)]
    for fid, verdicts in num.reading_agreement.items():
        if OUTPUTS in verdicts:
            continue
        L.append(f"| {fid} | " + " | ".join(verdicts.get(r, "n/a") for r in READINGS) + " |")
    reproduced = {fid: [r for r, v in vs.items() if v == "holds"] for fid, vs in num.reading_agreement.items()
                  if OUTPUTS not in vs}
    L += ["", "Reproduced (holds) in: " + "; ".join(
        f"{fid}: {', '.join(rs) if rs else 'neither reading'}" for fid, rs in reproduced.items()) + ".", ""]
    iv = num.intervals
    if iv:
        L += ["Discarded / preserved and new / preserved by aggregation of the totals:", "",
              "| number | aggregation | " + " | ".join(READINGS) + " |", "|---|---|" + "---|" * len(READINGS)]
        for key, label in (("discard_over_preserve", "discarded / preserved"), ("new_over_preserve", "new / preserved")):
            for suffix, agg in (("", "sum of the order averages Σ_i K^(i) (the report's total, Fig. 2)"),
                                ("_subsets", "sum over subsets Σ_S K(S), mean over samples")):
                L.append(f"| {label} | {agg} | " + " | ".join(
                    interval_text(iv.get(f"{r}/{key}{suffix}"), ".2f") for r in READINGS) + " |")
        L.append("")
    return L


def two_phase_markdown(two_phase: Mapping[str, Mapping[str, TwoPhaseCurve]], n: int,
                       from_scratch: Sequence[str] = ()) -> list[str]:
    """The two-phase section: the statements, the rule, and per model and source a table of the numbers."""
    if not two_phase:
        return []
    L = ["## Two-phase view (two_phase.png; docs/method.md#beyond-the-paper, Zhang et al. 2024)", ""]
    L += [f"- {s}" for s in two_phase_statements(two_phase, from_scratch)]
    L += ["", f"Rule: {TWO_PHASE_RULE}.", "",
          "Each table: per evaluated epoch, the salient strength Σ|I(S)| (mean over samples) of each order, "
          "positive / negative, its total over orders and the mean order m_e.", ""]
    for src, curves in two_phase.items():
        for regime, c in curves.items():
            L += [f"**{regime}, {TWO_PHASE_SOURCES[src]}**", "",
                  "| epoch | total | mean order | " + " | ".join(f"order {k}" for k in range(1, n + 1)) + " |",
                  "|" + "---|" * (n + 3)]
            for i, e in enumerate(c.epochs):
                cells = [f"{number(p, '.3g')} / {number(q, '.3g')}" for p, q in zip(c.positive[i], c.negative[i])]
                L.append(f"| {e} | {number(c.total[i], '.3g')} | {number(c.mean_order[i], '.2f')} | "
                         + " | ".join(cells) + " |")
            L.append("")
    return L


def salient_knowledge_markdown(num: StudyNumbers) -> list[str]:
    """Fig. 2's numbers in the salient reading, beside the dense table above."""
    k = num.knowledge_by_order_salient
    if k is None:
        return []
    L = ["Salient reading (each model's dividends with |I| <= 0.05 max|I| of that sample set to 0 first):", "",
         "| order | K_pretrain | K_preserve | K_discard | K_new | K_finetune | discard/preserve |",
         "|---|---|---|---|---|---|---|"]
    for i in range(num.n):
        L.append(f"| {i + 1} | {number(k.pretrain[i])} | {number(k.preserve[i])} | {number(k.discard[i])} | "
                 f"{number(k.new[i])} | {number(k.finetune[i])} | {number(safe_div(k.discard[i], k.preserve[i]), '.3g')} |")
    L.append(f"| total | {number(sum(k.pretrain))} | {number(sum(k.preserve))} | {number(sum(k.discard))} | "
             f"{number(sum(k.new))} | {number(sum(k.finetune))} | "
             f"{number(safe_div(sum(k.discard), sum(k.preserve)), '.3g')} |")
    return L


def _options_text(options: Mapping[str, object]) -> str:
    return ", ".join(f"{k}={v}" for k, v in options.items() if v is not None) or "-"


def _ranks_text(ranks: Mapping[str, float] | None) -> str:
    if not ranks:
        return MISSING
    return ", ".join(f"{m} {number(v, '.3g')}" for m, v in ranks.items())


def regimes_markdown(num: StudyNumbers) -> list[str]:
    """Every regime side by side against the reference (trade_off.png; docs/method.md#fine-tuning-methods): a row per
    regime with its kind, options, accuracy, last training loss, forgetting and learning in both readings, the
    Ratio of its preserved knowledge a scratch model learns, and the effective rank of its update; then the
    findings about fine-tuning methods and those left out."""
    reference = num.paper["pretrain"]
    L = ["## Regimes side by side (trade_off.png; docs/method.md#fine-tuning-methods)", "",
         f"Every trained regime against the pre-trained reference `{reference}`: forgetting F = discarded / preserved, "
         "learning L = new / preserved (totals as the sum of the order averages), the Ratio of its preserved "
         f"knowledge that `{num.paper['scratch']}` also learns (eq. 8), 95% intervals; update rank: the effective "
         "rank of its weight change from the pre-trained weights, median over layers per matrix type "
         "(docs/training.md#the-rank-of-an-update).", "",
         "| regime | kind | options | val acc [95%] | last train loss | F, all subsets | L, all subsets | "
         "F, salient | L, salient | Ratio (scratch learns of it) | update rank |",
         "|---|---|---|---|---|---|---|---|---|---|---|"]
    a = num.accuracy.get(reference)
    L.append(f"| {reference} | {num.regimes[reference]['kind']} (reference) | - | "
             f"{interval_text(num.intervals.get(f'accuracy/{reference}'), '%') if a else MISSING} | - | 0 | 0 | 0 | 0 | "
             "- | 0 |")
    dense, salient = READINGS
    for name, c in num.trade_off.items():
        L.append(f"| {name} | {c.kind} | {_options_text(c.options)} | {interval_text(c.accuracy, '%')} | "
                 f"{number(c.final_train_loss, '.4f')} | {interval_text(c.forgetting[dense], '.2f')} | "
                 f"{interval_text(c.learning[dense], '.2f')} | {interval_text(c.forgetting[salient], '.2f')} | "
                 f"{interval_text(c.learning[salient], '.2f')} | {interval_text(c.ratio.get(dense), '%')} | "
                 f"{_ranks_text(c.update_ranks)} |")
    L += ["", "### Findings about fine-tuning methods (Biderman et al. 2024, measured in knowledge)", ""]
    if num.regime_findings:
        counts = num.regime_findings_verdicts
        L += [", ".join(f"{k}: {v}" for k, v in counts.items() if v) + f" (of {len(num.regime_findings)}); the "
              "verdict rule above.", "",
              "| finding | reading | measured [95% interval] | threshold | verdict |", "|---|---|---|---|---|"]
        for f in num.regime_findings:
            L.append(f"| {f.statement} | {f.reading} | {f.measured} | {f.direction} {number(f.threshold, '.3g')} | "
                     f"**{f.verdict}**{' (' + f.why + ')' if f.why else ''} |")
        L.append("")
    L += [f"- *{left.id}* is left out: {left.why}." for left in num.regime_findings_left_out]
    return L + [""]


def render_markdown(num: StudyNumbers, figures: bool = True) -> str:
    """``report.md``: Table 1, the totals behind each figure, and the observations."""
    n = num.n
    k = num.knowledge_by_order
    L = [f"# Study report: {num.title}", ""]
    L += learned_markdown(num.learned)  # first: models that did not learn the task
    L.append(f"Study folder `{num.study_dir}`; {num.num_samples} annotated samples, n = {n} input variables, "
             f"annotation {num.annotation_hash[:12]}. Every number below is computed from the stored interaction "
             f"artifacts (final epochs of {num.paper['pretrain']} = v_pretrain, {num.paper['finetune']} = v_finetune, "
             f"{num.paper['scratch']} = v_random) with "
             "`harsanyi_lightning.interactions.metrics` (docs/method.md#knowledge-metrics); K^(i) averages over all "
             "subsets of order i, totals sum orders 1..n.")
    L += estimated_markdown(num)
    L += ["", "## The paper's findings (docs/method.md#the-papers-findings), measured", ""]
    L += findings_markdown(num)
    L += [""] + readings_markdown(num)
    L += ["## Other observations", ""]
    L += [f"- {o}" for o in observations(num)]
    L += ["", "## Table 1: accuracy", "", "| model | final epoch | val acc | test acc | val acc [95% interval] |",
          "|---|---|---|---|---|"]
    for s in num.regimes:
        a = num.accuracy[s]
        L.append(f"| {s} | {num.final_epoch[s]} | {percent(a.val)} | {percent(a.test)} | "
                 f"{interval_text(num.intervals.get(f'accuracy/{s}'), '%')} |")
    L += ["", "## Knowledge by order (knowledge_by_order.png, paper Fig. 2)", "",
          "| order | K_pretrain | K_preserve | K_discard | K_new | K_finetune | discard/preserve | discarded share | "
          "new share | discard/preserve [95%] |", "|---|---|---|---|---|---|---|---|---|---|"]
    dp = num.discard_over_preserve
    by_order = num.intervals.get("dense/discard_over_preserve_by_order") or (None,) * n
    for i in range(n):
        L.append(f"| {i + 1} | {number(k.pretrain[i])} | {number(k.preserve[i])} | {number(k.discard[i])} | "
                 f"{number(k.new[i])} | {number(k.finetune[i])} | {number(dp.by_order[i], '.3g')} "
                 f"| {percent(num.discard_share_by_order[i])} | {percent(num.new_share_by_order[i])} | "
                 f"{interval_text(by_order[i], '.3g')} |")
    t = num.knowledge_totals
    L.append(f"| total | {number(t.pretrain)} | {number(t.preserve)} | {number(t.discard)} | {number(t.new)} | "
             f"{number(t.finetune)} | {number(dp.overall, '.3g')} | "
             f"{percent(safe_div(t.discard, t.pretrain))} | {percent(safe_div(t.new, t.finetune))} | "
             f"{interval_text(num.intervals.get('dense/discard_over_preserve'), '.3g')} |")
    L += ["", "Totals are sums of the order averages over orders 1..n (dense reading: all subsets).", ""]
    L += salient_knowledge_markdown(num)
    r = num.ratio_by_order
    L += ["", "## Ratio of preserved knowledge learned from scratch (ratio.png, paper Fig. 3)", "",
          f"Overall: Ratio = {percent(num.ratio.ratio)} (mean of ratio(S) over subsets with K_preserve(S) > 0, "
          f"the paper's reading); strength-weighted Σ min(|c|, K_preserve) / Σ K_preserve = "
          f"{percent(num.ratio.ratio_weighted)}.", "", *[
              f"- {r}: Ratio {interval_text(num.intervals.get(f'{r}/ratio'), '%')}, strength-weighted "
              f"{interval_text(num.intervals.get(f'{r}/ratio_weighted'), '%')}" for r in READINGS if num.intervals],
          "", "| order | Ratio | Ratio (weighted) |", "|---|---|---|"]
    for i in range(n):
        L.append(f"| {i + 1} | {percent(r.ratio[i])} | {percent(r.ratio_weighted[i])} |")
    curves = num.trained
    L += ["", "## Jaccard similarity with the final evaluation (jaccard.png, paper Fig. 4)", "",
          "Each evaluation at its epoch (fractional inside an epoch) and global training step; dense reading, "
          "95% intervals.", "",
          "| epoch | " + " | ".join(curves) + " | " + " | ".join(f"{s} [95%]" for s in curves) + " | step |",
          "|---|" + "---|" * (2 * len(curves) + 1)]
    steps = {row["epoch"]: row["step"] for s in curves for row in num.evaluations.get(s, ())}
    for e in sorted({e for s in curves for e in num.jaccard[s]}):
        cells = []
        for s in curves:
            row = next((r for r in num.evaluations.get(s, ()) if r["epoch"] == e and "jaccard_ci" in r), None)
            cells.append(f"[{number(row['jaccard_ci'][0], '.3f')}, {number(row['jaccard_ci'][1], '.3f')}]"
                         if row else "n/a")
        L.append(f"| {e} | " + " | ".join(number(num.jaccard[s].get(e), ".4f") for s in curves) + " | "
                 + " | ".join(cells) + f" | {steps.get(e, 'n/a')} |")
    L += [""] + two_phase_markdown(num.two_phase, n, [s for s in curves if num.regimes[s]["role"] == "scratch"])
    columns = [(split, s) for split in ("train", "val") for s in curves] + [
        (split, s) for s in num.regimes if s not in curves for split in ("train", "val")]
    L += ["## Loss per epoch (loss.png, paper Fig. 5; from the regimes' TensorBoard events)", "",
          "| epochs trained | " + " | ".join(f"{s} {split}" for split, s in columns) + " |",
          "|---|" + "---|" * len(columns)]
    for e in sorted({e for s in num.regimes for series in (num.loss[s].train, num.loss[s].val) for e in series}):
        cells = [number(getattr(num.loss[s], split).get(e), ".4f") for split, s in columns]
        L.append("| " + " | ".join([str(e)] + cells) + " |")
    L += [""] + regimes_markdown(num)
    L += ["## Figures", ""]
    if not figures:
        return "\n".join(L + ["Not drawn (`figures: false`); `python cli.py report <study_dir>` draws them.", ""])
    L += [f"![{f}]({f}.png)" for f in drawn_figures(num)]
    L += [f"- `{f}.png` is not drawn: it needs every dividend of a sample, and these are sparse estimates "
          "(docs/study.md#sparse-studies)" for f in FIGURES if f not in drawn_figures(num)] + [""]
    return "\n".join(L)
