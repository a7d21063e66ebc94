"""``report.md``: the findings with their verdicts, Table 1, the totals behind each figure and the
two-phase view, written from a study's :class:`~harsanyi_lightning.study.report_numbers.StudyNumbers`
(docs/study.md, section "Report")."""
from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from .layout import STAGES
from .number_format import number, percent
from .report_statistics import safe_div
from .two_phase import RULE as TWO_PHASE_RULE
from .two_phase import SOURCES as TWO_PHASE_SOURCES
from .two_phase import statements as two_phase_statements

if TYPE_CHECKING:
    from .report_numbers import StudyNumbers
    from .two_phase import TwoPhaseCurve

__all__ = ["FIGURES", "findings_markdown", "observations", "render_markdown", "two_phase_markdown"]

#: the report's figures, in the order report.md shows them (each ``<name>.png`` beside report.md)
FIGURES = ("knowledge_by_order", "ratio", "jaccard", "loss", "samples", "two_phase")


def observations(num: StudyNumbers) -> list[str]:
    """What the findings table does not say: interaction strength of each model, and the caution when a
    model is near-constant (its Ratio and Jaccard numbers would measure noise)."""
    st, share = num.strength_total, num.strength_share
    line = ("Interaction strength (sum over orders of the mean |I(S)|): "
            + ", ".join(f"{s} {number(st[s], '.3g')} ({percent(share[s])} of the strongest)" for s in STAGES) + ".")
    weak = num.weak_models
    if weak:
        line += (" " + " and ".join(weak) + f" {'has' if len(weak) == 1 else 'have'} less than 1% of the strongest "
                 "model's interactions: its output hardly depends on the input variables (a near-constant "
                 "predictor that has not learned the task), so the Ratio and Jaccard numbers involving it measure "
                 "numerical noise rather than knowledge; train it longer or with another learning rate.")
    out = [line]
    out.append(f"The final epoch's Jaccard is 1 by definition (finetune: epoch {num.final_epoch['finetune']}, "
               f"scratch: epoch {num.final_epoch['scratch']}), so the curves are read at the epochs before it.")
    return out


def findings_markdown(num: StudyNumbers) -> list[str]:
    """The table of the paper's findings (docs/method.md#the-papers-findings): the paper's claim, the
    measured numbers, the verdict."""
    counts = num.findings_verdicts
    lines = [", ".join(f"{k}: {v}" for k, v in counts.items() if v) + f" (of {len(num.findings)}).", "",
             "| finding (paper) | measured here | verdict |", "|---|---|---|"]
    for f in num.findings:
        lines.append(f"| {f.paper} | {f.measured} | **{f.verdict}** |")
    lines += ["", "Verdict rules: " + "; ".join(f"*{f.key}*: {f.rule}" for f in num.findings) + "."]
    return lines


def two_phase_markdown(two_phase: Mapping[str, Mapping[str, TwoPhaseCurve]], n: int) -> list[str]:
    """The two-phase section: the statements, the rule, and per model and source a table of the numbers."""
    if not two_phase:
        return []
    L = ["## Two-phase view (two_phase.png; docs/method.md#beyond-the-paper, Zhang et al. 2024)", ""]
    L += [f"- {s}" for s in two_phase_statements(two_phase)]
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


def render_markdown(num: StudyNumbers) -> str:
    """``report.md``: Table 1, the totals behind each figure, and the observations."""
    n = num.n
    k = num.knowledge_by_order
    L = [f"# Study report: {num.title}", ""]
    L.append(f"Study folder `{num.study_dir}`; {num.num_samples} annotated samples, n = {n} input variables, "
             f"annotation {num.annotation_hash[:12]}. Every number below is computed from the stored interaction "
             "artifacts (final epochs of probe = v_pretrain, finetune = v_finetune, scratch = v_random) with "
             "`harsanyi_lightning.interactions.metrics` (docs/method.md#knowledge-metrics); K^(i) averages over all "
             "subsets of order i, totals sum orders 1..n.")
    L += ["", "## The paper's findings (docs/method.md#the-papers-findings), measured", ""]
    L += findings_markdown(num)
    L += ["", "## Other observations", ""]
    L += [f"- {o}" for o in observations(num)]
    L += ["", "## Table 1: accuracy", "", "| model | final epoch | val acc | test acc |", "|---|---|---|---|"]
    for s in STAGES:
        a = num.accuracy[s]
        L.append(f"| {s} | {num.final_epoch[s]} | {percent(a.val)} | {percent(a.test)} |")
    L += ["", "## Knowledge by order (knowledge_by_order.png, paper Fig. 2)", "",
          "| order | K_pretrain | K_preserve | K_discard | K_new | K_finetune | discard/preserve | discarded share | "
          "new share |", "|---|---|---|---|---|---|---|---|---|"]
    dp = num.discard_over_preserve
    for i in range(n):
        L.append(f"| {i + 1} | {number(k.pretrain[i])} | {number(k.preserve[i])} | {number(k.discard[i])} | "
                 f"{number(k.new[i])} | {number(k.finetune[i])} | {number(dp.by_order[i], '.3g')} "
                 f"| {percent(num.discard_share_by_order[i])} | {percent(num.new_share_by_order[i])} |")
    t = num.knowledge_totals
    L.append(f"| total | {number(t.pretrain)} | {number(t.preserve)} | {number(t.discard)} | {number(t.new)} | "
             f"{number(t.finetune)} | {number(dp.overall, '.3g')} | "
             f"{percent(safe_div(t.discard, t.pretrain))} | {percent(safe_div(t.new, t.finetune))} |")
    r = num.ratio_by_order
    L += ["", "## Ratio of preserved knowledge learned from scratch (ratio.png, paper Fig. 3)", "",
          f"Overall: Ratio = {percent(num.ratio.ratio)} (mean of ratio(S) over subsets with K_preserve(S) > 0, "
          f"the paper's reading); strength-weighted Σ min(|c|, K_preserve) / Σ K_preserve = "
          f"{percent(num.ratio.ratio_weighted)}.", "", "| order | Ratio | Ratio (weighted) |", "|---|---|---|"]
    for i in range(n):
        L.append(f"| {i + 1} | {percent(r.ratio[i])} | {percent(r.ratio_weighted[i])} |")
    L += ["", "## Jaccard similarity with the final epoch (jaccard.png, paper Fig. 4)", "",
          "| epoch | finetune | scratch |", "|---|---|---|"]
    for e in sorted({e for s in ("finetune", "scratch") for e in num.jaccard[s]}):
        L.append(f"| {e} | {number(num.jaccard['finetune'].get(e), '.4f')} | "
                 f"{number(num.jaccard['scratch'].get(e), '.4f')} |")
    L += [""] + two_phase_markdown(num.two_phase, n)
    L += ["## Loss per epoch (loss.png, paper Fig. 5; from the stages' TensorBoard events)", "",
          "| epochs trained | finetune train | scratch train | finetune val | scratch val | probe train | probe val |",
          "|---|---|---|---|---|---|---|"]
    for e in sorted({e for s in STAGES for series in (num.loss[s].train, num.loss[s].val) for e in series}):
        cells = [number(getattr(num.loss[s], split).get(e), ".4f") for split, s in (
            ("train", "finetune"), ("train", "scratch"), ("val", "finetune"), ("val", "scratch"),
            ("train", "probe"), ("val", "probe"))]
        L.append("| " + " | ".join([str(e)] + cells) + " |")
    L += ["", "## Figures", ""] + [f"![{f}]({f}.png)" for f in FIGURES] + [""]
    return "\n".join(L)
