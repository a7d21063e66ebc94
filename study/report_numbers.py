"""Every number of the study report, as one typed, frozen :class:`StudyNumbers` (docs/study.md, section
"Report"; the metrics of docs/method.md#knowledge-metrics).

:func:`compute_study` reads the final interaction artifacts of probe (``v_pretrain``), finetune
(``v_finetune``) and scratch (``v_random``), every stored epoch of finetune and scratch, the regimes'
summaries (accuracies) and their TensorBoard events (losses), and computes every number with
:mod:`harsanyi_lightning.interactions.metrics`. :meth:`StudyNumbers.to_dict` is the content of
``report.json`` (int epochs written as strings).
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from harsanyi_lightning.interactions import (
    AnnotatedSampleSet,
    knowledge_by_order,
    knowledge_totals,
    mean_jaccard,
    preserved_ratio,
)
from harsanyi_lightning.interactions.errors import DataError

# Finding and TwoPhaseCurve are field types of StudyNumbers: imported at run time so that
# typing.get_type_hints(StudyNumbers) resolves them
from .findings import JACCARD_LEVEL, Finding, paper_findings, verdict_counts
from .layout import ANNOTATION, STAGES, check_study, epoch_files, final_artifact, read_json, summary_path, tb_dir
from .report_inputs import load_dividends, read_losses
from .report_statistics import first_at_least, ratio_by_order, safe_div, spearman
from .two_phase import REGIMES as TWO_PHASE_REGIMES
from .two_phase import RULE as TWO_PHASE_RULE
from .two_phase import SOURCES as TWO_PHASE_SOURCES
from .two_phase import TwoPhaseCurve, compute_two_phase, epoch_strength

if TYPE_CHECKING:
    from torch import Tensor

__all__ = [
    "Accuracy", "DiscardOverPreserve", "KnowledgeByOrder", "KnowledgeTotals", "Losses", "Ratio", "RatioByOrder",
    "StudyNumbers", "compute_study", "json_ready", "weak_models",
]


@dataclass(frozen=True)
class Accuracy:
    """A regime's accuracies from its summary (``None`` when not measured)."""

    val: float | None
    test: float | None


@dataclass(frozen=True)
class KnowledgeByOrder:
    """``K^(i)`` for orders ``i = 1..n`` (index ``i - 1``) of each part of the knowledge split."""

    pretrain: tuple[float, ...]
    preserve: tuple[float, ...]
    discard: tuple[float, ...]
    new: tuple[float, ...]
    finetune: tuple[float, ...]


@dataclass(frozen=True)
class KnowledgeTotals:
    """The knowledge split summed over orders ``1..n``."""

    pretrain: float
    preserve: float
    discard: float
    new: float
    finetune: float


@dataclass(frozen=True)
class DiscardOverPreserve:
    """``K_discard / K_preserve`` overall and per order (NaN where nothing is preserved)."""

    overall: float
    by_order: tuple[float, ...]


@dataclass(frozen=True)
class Ratio:
    """Eq. 8 overall: the paper's mean over subsets, and its strength-weighted form."""

    ratio: float
    ratio_weighted: float


@dataclass(frozen=True)
class RatioByOrder:
    """Eq. 8 restricted to the subsets of each order ``1..n``."""

    ratio: tuple[float, ...]
    ratio_weighted: tuple[float, ...]


@dataclass(frozen=True)
class Losses:
    """A regime's loss per epochs trained (1 = after the first epoch)."""

    train: Mapping[int, float]
    val: Mapping[int, float]


@dataclass(frozen=True)
class StudyNumbers:
    """Every number of one study's report; regime-keyed maps use ``probe``, ``finetune``, ``scratch``."""

    study_dir: str
    model: str | None
    data: str | None
    n: int  #: input variables
    num_samples: int
    annotation_hash: str
    accuracy: Mapping[str, Accuracy]
    final_epoch: Mapping[str, int | None]
    knowledge_by_order: KnowledgeByOrder
    knowledge_totals: KnowledgeTotals
    discard_over_preserve: DiscardOverPreserve
    new_over_preserve: float
    discard_share_by_order: tuple[float, ...]  #: K_discard / K_pretrain per order
    new_share_by_order: tuple[float, ...]  #: K_new / K_finetune per order
    discard_share_vs_order_spearman: float
    new_high_order_share: float  #: share of K_new at orders above n/2
    ratio: Ratio
    ratio_by_order: RatioByOrder
    scratch_vs_pretrain: KnowledgeTotals  #: the knowledge split of probe -> scratch
    strength_total: Mapping[str, float]  #: interaction strength of each regime's final model
    strength_share: Mapping[str, float]  #: of the strongest model's
    weak_models: tuple[str, ...]  #: regimes under 1% of the strongest model's strength
    jaccard: Mapping[str, Mapping[int, float]]  #: regime -> epoch -> Jaccard with the final epoch
    jaccard_first_at_level: Mapping[str, int | None]  #: first epoch with J >= JACCARD_LEVEL
    jaccard_drops: Mapping[str, int]  #: how often each curve falls
    loss: Mapping[str, Losses]
    two_phase: Mapping[str, Mapping[str, TwoPhaseCurve]] = dataclasses.field(default_factory=dict)
    findings: tuple[Finding, ...] = ()
    findings_verdicts: Mapping[str, int] = dataclasses.field(default_factory=dict)

    @property
    def title(self) -> str:
        """``model / data`` (whichever is known), else the study folder's name."""
        parts = [p for p in (self.model, self.data) if p]
        return " / ".join(parts) if parts else Path(self.study_dir).name

    def to_dict(self) -> dict[str, Any]:
        """The content of ``report.json``: every field, epochs as strings, and the two-phase rule."""
        out = json_ready(self)
        out["two_phase_rule"] = TWO_PHASE_RULE
        return out


def json_ready(value: Any) -> Any:
    """``value`` as plain JSON data: dataclasses as dicts of their fields, tuples as lists, mapping keys as
    strings (epochs ``1`` -> ``"1"``)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: json_ready(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value


def weak_models(strength_total: Mapping[str, float]) -> tuple[str, ...]:
    """Regimes whose interactions are under 1% of the strongest model's (near-constant output)."""
    top = max(strength_total.values())
    return tuple(s for s in STAGES if top > 0 and strength_total[s] < 0.01 * top)


def _epoch_curves(study_dir: Path, summaries: Mapping[str, Mapping[str, Any]], finals: Mapping[str, Tensor]
                  ) -> tuple[dict[str, dict[int, float]], dict[str, dict[str, dict[int, Any]]]]:
    """Each regime's Jaccard curve, and the two-phase strengths ``[source][regime][epoch]``, reading one
    stored epoch artifact at a time."""
    jaccard: dict[str, dict[int, float]] = {}
    strengths: dict[str, dict[str, dict[int, Any]]] = {src: {} for src in TWO_PHASE_SOURCES}
    for s in ("finetune", "scratch", "probe"):
        files = epoch_files(study_dir, s)
        final_e = summaries[s].get("final_epoch", max(files) if files else None)
        curve = {}
        for e, p in files.items():
            if final_e is not None and e > final_e:
                continue
            dividends, content = load_dividends(p)
            curve[e] = mean_jaccard(dividends, finals[s])
            if s in TWO_PHASE_REGIMES:
                for src in TWO_PHASE_SOURCES:
                    strengths[src].setdefault(s, {})[e] = epoch_strength(content, src)
        jaccard[s] = curve
    return jaccard, strengths


def compute_study(study_dir: str | os.PathLike) -> StudyNumbers:
    """Every number of the report, computed from the stored artifacts (docs/method.md#knowledge-metrics).

    Raises :class:`DataError` naming what is missing when ``study_dir`` is not a
    complete study."""
    study_dir = Path(study_dir)
    manifest = check_study(study_dir)
    summaries = {s: read_json(summary_path(study_dir, s)) for s in STAGES}
    finals = {s: load_dividends(final_artifact(study_dir, s))[0] for s in STAGES}
    a, b, c = finals["probe"], finals["finetune"], finals["scratch"]
    if not (a.shape == b.shape == c.shape):
        raise DataError(f"the final artifacts of {study_dir} have different shapes {a.shape}, {b.shape}, {c.shape}")
    n = a.shape[1].bit_length() - 1
    by_order = {k: v[1:].tolist() for k, v in knowledge_by_order(a, b).items()}
    totals = knowledge_totals(knowledge_by_order(a, b))
    # how much of the scratch model's knowledge the pretrained one also has (symmetry check of the story)
    scratch_split = {k: v[1:].tolist() for k, v in knowledge_by_order(a, c).items()}
    jaccard, strengths = _epoch_curves(study_dir, summaries, finals)
    losses = {s: read_losses(tb_dir(study_dir, s)) for s in STAGES}
    for s in ("finetune", "scratch"):
        if not losses[s]["train"] and not losses[s]["val"]:
            raise DataError(
                f"no train/loss or val/loss scalars in {tb_dir(study_dir, s)}; the stage's TensorBoard logs are "
                "missing or empty: delete the stage's summary.json and rerun the study"
            )

    def share(key: str, of: str) -> tuple[float, ...]:
        return tuple(safe_div(x, y) for x, y in zip(by_order[key], by_order[of]))

    discard_share = share("discard", "pretrain")
    high = [i for i in range(1, n + 1) if i > n / 2]
    strength_total = {"probe": totals["pretrain"], "finetune": totals["finetune"],
                      "scratch": sum(scratch_split["finetune"])}
    top = max(strength_total.values())
    weak = weak_models(strength_total)
    numbers = StudyNumbers(
        study_dir=str(study_dir),
        model=manifest.get("model") or summaries["finetune"].get("model"),
        data=manifest.get("data") or summaries["finetune"].get("dataset"),
        n=n,
        num_samples=int(a.shape[0]),
        annotation_hash=AnnotatedSampleSet.load(study_dir / ANNOTATION).hash,
        accuracy={s: Accuracy(val=summaries[s].get("val_acc"), test=summaries[s].get("test_acc")) for s in STAGES},
        final_epoch={s: summaries[s].get("final_epoch") for s in STAGES},
        knowledge_by_order=KnowledgeByOrder(**{k: tuple(v) for k, v in by_order.items()}),
        knowledge_totals=KnowledgeTotals(**totals),
        discard_over_preserve=DiscardOverPreserve(
            overall=safe_div(totals["discard"], totals["preserve"]),
            by_order=tuple(safe_div(d, p) for d, p in zip(by_order["discard"], by_order["preserve"])),
        ),
        new_over_preserve=safe_div(totals["new"], totals["preserve"]),
        discard_share_by_order=discard_share,
        new_share_by_order=share("new", "finetune"),
        discard_share_vs_order_spearman=spearman(range(1, n + 1), discard_share),
        new_high_order_share=safe_div(sum(by_order["new"][i - 1] for i in high), totals["new"]),
        ratio=Ratio(**preserved_ratio(a, b, c)),
        ratio_by_order=RatioByOrder(**{k: tuple(v) for k, v in ratio_by_order(a, b, c).items()}),
        scratch_vs_pretrain=KnowledgeTotals(**{k: sum(v) for k, v in scratch_split.items()}),
        strength_total=strength_total,
        strength_share={s: safe_div(v, top) for s, v in strength_total.items()},
        weak_models=weak,
        jaccard=jaccard,
        jaccard_first_at_level={s: first_at_least(jaccard[s], JACCARD_LEVEL) for s in ("finetune", "scratch")},
        jaccard_drops={s: sum(1 for x, y in zip(list(c.values()), list(c.values())[1:]) if y < x)
                       for s, c in jaccard.items()},
        loss={s: Losses(train=losses[s]["train"], val=losses[s]["val"]) for s in STAGES},
        two_phase=compute_two_phase(strengths, n, weak),
    )
    found = tuple(paper_findings(numbers, weak))
    return dataclasses.replace(numbers, findings=found, findings_verdicts=verdict_counts(found))
