"""The findings about fine-tuning methods (docs/method.md#fine-tuning-methods): Biderman et al.'s "LoRA learns less
and forgets less" (TMLR 2024, arXiv 2405.09673), measured in knowledge.

A regime's forgetting ``F_r`` is its discarded / preserved knowledge and its learning ``L_r`` its new / preserved
knowledge, against the pre-trained reference (:mod:`~harsanyi_lightning.study.report.trade_off`). Each
LoRA regime (kind ``lora``) is compared with full fine-tuning (the first regime of kind ``finetune``):

- ``lora_forgets_less``: ``F_lora - F_full < 0``, in both readings;
- ``lora_learns_less``: ``L_lora - L_full < 0`` in both readings, and its accuracy part ``acc_lora - acc_full < 0``
  (reading ``outputs``);
- ``forgetting_grows_with_rank``: the Spearman correlation of the LoRA rank with ``F_r`` across the LoRA regimes
  ``> 0``, in both readings (needs :data:`MIN_RANKS` distinct ranks).

The knowledge differences are paired (the same seeds and samples in every resample); each is a
:class:`~harsanyi_lightning.study.report.findings.Finding` judged by the report's verdict rule. A finding the study
cannot measure because it lacks a regime is left out with a :class:`LeftOut` line saying why, never reported as
failed.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping, Sequence

from .findings import OUTPUTS, Finding, FindingSpec, judge
from .readings import READINGS
from .trade_off import FORGETTING, LEARNING, difference_key, rank_key

__all__ = ["FULL_KIND", "LORA_KIND", "MIN_RANKS", "RANK_OPTION", "LeftOut", "MethodRegimes", "method_regimes",
           "method_findings"]

#: the kinds the findings compare: LoRA against full fine-tuning
LORA_KIND, FULL_KIND = "lora", "finetune"
#: the option of a LoRA regime that is its rank (its ``summary.json``'s ``options``)
RANK_OPTION = "rank"
#: the distinct LoRA ranks a rank correlation needs (two points always correlate perfectly)
MIN_RANKS = 3
AGGREGATION = ("totals are sums of the order averages Σ_i K^(i) over orders 1..n (Fig. 2), against the pre-trained "
               "reference; the difference is paired over the same seeds and samples")


@dataclass(frozen=True)
class LeftOut:
    """A finding the study cannot measure, and why (``report.json``'s ``regime_findings_left_out``)."""

    id: str
    why: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class MethodRegimes:
    """What a study's regimes allow comparing: full fine-tuning (``full``), the LoRA regimes in training order and
    each one's rank (``ranks``)."""

    full: str | None
    lora: tuple[str, ...]
    ranks: Mapping[str, float]

    @property
    def pairs(self) -> list[tuple[str, str]]:
        """``(lora, full)`` for every LoRA regime, when the study has full fine-tuning."""
        return [(name, self.full) for name in self.lora] if self.full else []

    @property
    def ranked(self) -> dict[str, dict[str, float]]:
        """``{"rank": {lora: rank}}`` when the LoRA regimes have at least :data:`MIN_RANKS` distinct ranks."""
        return {RANK_OPTION: dict(self.ranks)} if len(set(self.ranks.values())) >= MIN_RANKS else {}


def method_regimes(kinds: Mapping[str, str], summaries: Mapping[str, Mapping[str, Any]]) -> MethodRegimes:
    """The :class:`MethodRegimes` of a study's regimes (``kinds``, in training order) from their summaries (each
    LoRA regime's ``options.rank``)."""
    full = next((name for name, kind in kinds.items() if kind == FULL_KIND), None)
    lora = tuple(name for name, kind in kinds.items() if kind == LORA_KIND)
    ranks = {name: float(rank) for name in lora
             if (rank := (summaries[name].get("options") or {}).get(RANK_OPTION)) is not None}
    return MethodRegimes(full=full, lora=lora, ranks=ranks)


def _spec(id: str, statement: str, key: str, direction: str, label: str, aggregation: str = AGGREGATION,
          fmt: str = ".3f") -> FindingSpec:
    return FindingSpec(id, statement, key, 0.0, direction, (), aggregation, label, fmt)


def method_findings(intervals: Mapping[str, Any], weak: Sequence[str] | Mapping[str, str], regimes: MethodRegimes, *,
                    estimated: bool = False) -> tuple[list[Finding], list[LeftOut]]:
    """The findings of this module's docstring, judged from ``intervals`` (the report's, with those of
    :func:`~harsanyi_lightning.study.report.trade_off.trade_off_intervals` and the accuracy differences
    of ``regimes.pairs``), and the :class:`LeftOut` lines of those the study's regimes do not allow. A finding
    about a regime in ``weak`` (near-constant, or ``{regime: why}``: a model that did not learn the task) is ``not
    measurable``, as the paper's findings are."""
    found: list[Finding] = []
    left: list[LeftOut] = []
    if not regimes.lora or not regimes.full:
        missing = (f"regime of kind {LORA_KIND} (LoRA)" if not regimes.lora
                   else f"regime of kind {FULL_KIND} (full fine-tuning)")
        for fid in ("lora_forgets_less", "lora_learns_less", "forgetting_grows_with_rank"):
            left.append(LeftOut(fid, f"the study has no {missing} to compare; add one to its regimes "
                                     "(docs/study.md#regimes-side-by-side)"))
        return found, left
    for lora, full in regimes.pairs:
        specs = [
            _spec("lora_forgets_less", f"{lora} (LoRA) forgets less than {full} (full fine-tuning): lower discarded / "
                  "preserved", difference_key(lora, full, FORGETTING), "<",
                  f"F_{lora} - F_{full} (discarded / preserved)"),
            _spec("lora_learns_less", f"{lora} (LoRA) learns less than {full} (full fine-tuning): lower new / preserved",
                  difference_key(lora, full, LEARNING), "<", f"L_{lora} - L_{full} (new / preserved)"),
        ]
        for spec in specs:
            for reading in READINGS:
                found.append(judge(spec, reading, intervals[f"{reading}/{spec.key}"], weak, (lora, full), estimated))
        accuracy = _spec("lora_learns_less", f"{lora} (LoRA) learns less than {full} (full fine-tuning): lower "
                         "validation accuracy", f"accuracy/{lora}_minus_{full}", "<",
                         f"val acc {lora} - {full}", "validation accuracy, each regime's examples resampled", "%")
        found.append(judge(accuracy, OUTPUTS, intervals[accuracy.key], weak, (lora, full)))
    ranked = regimes.ranked
    if not ranked:
        left.append(LeftOut("forgetting_grows_with_rank", f"needs LoRA regimes at {MIN_RANKS} or more distinct ranks; "
                            f"the study has {len(set(regimes.ranks.values()))} ({', '.join(regimes.lora)})"))
        return found, left
    members = list(ranked[RANK_OPTION])
    spec = _spec("forgetting_grows_with_rank", "forgetting grows with the LoRA rank: discarded / preserved rises with "
                 "the rank across the LoRA regimes", rank_key(RANK_OPTION, members), ">",
                 f"Spearman rho(rank, F) over {', '.join(members)}",
                 "Spearman rho of the LoRA rank against each regime's discarded / preserved, per resample", ".2f")
    for reading in READINGS:
        found.append(judge(spec, reading, intervals[f"{reading}/{spec.key}"], weak, tuple(members), estimated))
    return found, left
