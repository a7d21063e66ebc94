"""Every number of the study report, as one typed, frozen :class:`StudyNumbers` (docs/study.md, section
"Report"; the metrics of docs/method.md#knowledge-metrics).

:func:`compute_study` reads the final interaction artifacts of every regime (the paper's comparison reads the
regimes in the roles of probe ``v_pretrain``, finetune ``v_finetune`` and scratch ``v_random``), every stored
evaluation of the trained regimes, the regimes' summaries (accuracies, options, update ranks) and their TensorBoard
events (losses), and computes every number with :mod:`harsanyi_lightning.interactions.metrics`; every trained regime
is also compared with the reference, side by side (:mod:`~.trade_off`, :mod:`~.method_findings`). :meth:`StudyNumbers.to_dict` is the content of
``report.json`` (int epochs written as strings).
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import torch

from harsanyi_lightning.interactions import (
    AnnotatedSampleSet,
    estimator_class,
    knowledge_by_order,
    knowledge_totals,
    preserved_ratio,
    strength_by_order,
)
from harsanyi_lightning.interactions.errors import DataError

# Finding, Interval and TwoPhaseCurve are field types of StudyNumbers: imported at run time so that
# typing.get_type_hints(StudyNumbers) resolves them
from ..bootstrap_options import BootstrapOptions
from .bootstrap import Interval
from .findings import JACCARD_LEVEL, Finding, paper_findings, reading_agreement, verdict_counts
from ..layout import ANNOTATION, check_study, manifest_regimes, run_dirs, tb_dir
from .readings import DENSE, READINGS, SALIENT, jaccard_features, reading_dividends
from .intervals import common_epochs, study_intervals
from .method_findings import LeftOut, method_regimes, method_findings
from .trade_off import TradeOff, trade_offs, trade_off_intervals
from .task_learned import LEARNED_RULE, LearnedCheck, learned_checks, unmeasurable_reasons
from .statistics import first_at_least, ratio_by_order, safe_div, spearman
from .artifacts import StudyRun, load_run
from .two_phase import RULE as TWO_PHASE_RULE
from .two_phase import SOURCES as TWO_PHASE_SOURCES
from .two_phase import TwoPhaseCurve, compute_two_phase
from .verdicts import RULE as VERDICT_RULE

if TYPE_CHECKING:
    from torch import Tensor

    from ..regimes import StudyRegimes

__all__ = [
    "Accuracy", "DiscardOverPreserve", "KnowledgeByOrder", "KnowledgeTotals", "Losses", "Ratio", "RatioByOrder",
    "StudyNumbers", "compute_study", "heldout_r2", "json_ready", "weak_models",
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
    """Every number of one study's report; regime-keyed maps use the study's regime names. The paper's comparison
    (the knowledge split, the Ratio, the findings) reads the regimes in its three roles (``paper``)."""

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
    seeds: tuple[int | None, ...] = (None,)  #: the training seeds pooled (None: the study's one run)
    bootstrap: BootstrapOptions = BootstrapOptions()
    readings: Mapping[str, str] = dataclasses.field(default_factory=lambda: dict(READINGS))
    #: every interval of the report, keyed by path (report_intervals.study_intervals)
    intervals: Mapping[str, Interval | tuple[Interval, ...]] = dataclasses.field(default_factory=dict)
    knowledge_by_order_salient: KnowledgeByOrder | None = None  #: Fig. 2's numbers in the salient reading
    #: regime -> its evaluations in training order: step, epoch (fractional inside an epoch), Jaccard
    evaluations: Mapping[str, tuple[Mapping[str, Any], ...]] = dataclasses.field(default_factory=dict)
    #: finding id -> {reading: verdict}: which reading reproduces which finding
    reading_agreement: Mapping[str, Mapping[str, str]] = dataclasses.field(default_factory=dict)
    #: "exact" (all 2**n masks), or "sparse": the dividends are estimates (docs/study.md#sparse-studies)
    estimator: str = "exact"
    budget: int | None = None  #: a sparse study's forward passes per sample
    #: a sparse study: regime -> per evaluation its step, epoch and the median / min held-out R^2 over samples
    r2_heldout: Mapping[str, tuple[Mapping[str, Any], ...]] = dataclasses.field(default_factory=dict)
    #: every regime in training order: its kind and role (docs/study.md#regimes)
    regimes: Mapping[str, Mapping[str, str]] = dataclasses.field(default_factory=dict)
    #: role -> the regime in that role of the paper's comparison
    paper: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: every trained regime against the reference, side by side (docs/study.md#regimes-side-by-side)
    trade_off: Mapping[str, TradeOff] = dataclasses.field(default_factory=dict)
    #: the findings about fine-tuning methods (docs/method.md#fine-tuning-methods), and those left out, with why
    regime_findings: tuple[Finding, ...] = ()
    regime_findings_verdicts: Mapping[str, int] = dataclasses.field(default_factory=dict)
    regime_findings_left_out: tuple[LeftOut, ...] = ()
    #: regime -> whether it learned the task (docs/study.md#models-that-did-not-learn)
    learned: Mapping[str, LearnedCheck] = dataclasses.field(default_factory=dict)

    @property
    def trained(self) -> list[str]:
        """The regimes that train their backbone (every regime but the pre-trained reference), in training order."""
        return [s for s, regime in self.regimes.items() if regime["role"] != "pretrain"]

    @property
    def estimated(self) -> bool:
        """Whether the dividends are sparse estimates (docs/study.md#sparse-studies)."""
        return bool(estimator_class(self.estimator).result.estimated)

    @property
    def judged_reading(self) -> str:
        """The reading the findings are judged in: the salient one for sparse estimates, else the dense one
        (docs/study.md#sparse-studies)."""
        return SALIENT if self.estimated else DENSE

    @property
    def not_learned(self) -> list[str]:
        """The regimes that did not learn the task (:data:`LEARNED_RULE`), in training order."""
        return [s for s, c in self.learned.items() if not c.learned]

    @property
    def title(self) -> str:
        """``model / data`` (whichever is known), else the study folder's name."""
        parts = [p for p in (self.model, self.data) if p]
        return " / ".join(parts) if parts else Path(self.study_dir).name

    def to_dict(self) -> dict[str, Any]:
        """The content of ``report.json``: every field, epochs as strings, and the two-phase rule."""
        out = json_ready(self)
        out["two_phase_rule"] = TWO_PHASE_RULE
        out["verdict_rule"] = VERDICT_RULE
        out["learned_rule"] = LEARNED_RULE
        out["not_learned"] = self.not_learned
        return out

    def interval(self, key: str) -> Interval:
        """One interval by its path (``dense/ratio``, ``accuracy/finetune``, ...)."""
        value = self.intervals[key]
        if not isinstance(value, Interval):
            raise KeyError(f"{key} holds one interval per order or evaluation; index the tuple")
        return value


def json_ready(value: Any) -> Any:
    """``value`` as plain JSON data: dataclasses as dicts of their fields, tuples as lists, mapping keys as
    strings (epochs ``1`` -> ``"1"``)."""
    if isinstance(value, Interval):
        return {"estimate": value.estimate, "ci": [value.low, value.high], "per_seed": list(value.per_seed)}
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
    return tuple(s for s, v in strength_total.items() if top > 0 and v < 0.01 * top)


def _pooled(tables: list[Tensor]) -> Tensor:
    """``table[run * sample, column]``: one table per run, one after the other (a sparse run's ``[sample, slot]``
    tables padded with zeros to the widest: zero dividends, order 0)."""
    width = max(t.shape[1] for t in tables)
    return torch.cat([torch.nn.functional.pad(t, (0, width - t.shape[1])) for t in tables])


def heldout_r2(runs: list[StudyRun]) -> dict[str, tuple[dict[str, Any], ...]]:
    """A sparse study's held-out R^2: per regime and evaluation (the first run's schedule) its ``step``, ``epoch``
    and the ``median`` / ``min`` over the samples of every run (empty for an exact study)."""
    if not runs[0].estimated:
        return {}
    out = {}
    for s in runs[0].regimes:
        rows = []
        for v in runs[0].regimes[s].evaluations:
            r2 = torch.tensor([x for r in runs for e in r.regimes[s].evaluations if e.step == v.step
                               for x in e.r2_heldout], dtype=torch.float64)
            if r2.numel():
                rows.append({"step": v.step, "epoch": v.epoch, "median": float(r2.quantile(0.5)), "min": float(r2.min())})
        out[s] = tuple(rows)
    return out


def _jaccard_curves(runs: list[StudyRun]) -> dict[str, dict[int | float, float]]:
    """Each regime's Jaccard curve (dense reading): per evaluation epoch every run holds, the mean over the
    runs' samples of J with the run's own final evaluation."""
    out = {}
    for s in runs[0].regimes:
        grid = common_epochs(runs, (s,))
        per_sample = torch.cat([jaccard_features({i: r.regimes[s].curve()[e] for i, e in enumerate(grid)},
                                                 r.regimes[s].final) for r in runs])
        out[s] = {e: float(per_sample[:, i].nanmean()) for i, e in enumerate(grid)}
    return out


def _two_phase_strengths(runs: list[StudyRun], trained: list[str]) -> dict[str, dict[str, dict[int | float, Any]]]:
    """``[source][regime][epoch]`` salient strengths of the ``trained`` regimes, averaged over the runs (the same
    samples in each)."""
    out: dict[str, dict[str, dict[int | float, Any]]] = {src: {} for src in TWO_PHASE_SOURCES}
    for s in trained:
        for e in common_epochs(runs, (s,)):
            for src in TWO_PHASE_SOURCES:
                parts = [next(v for v in r.regimes[s].evaluations if v.epoch == e).strength.get(src) for r in runs]
                if any(p is None for p in parts):
                    continue
                out[src].setdefault(s, {})[e] = {sign: [sum(col) / len(parts) for col in zip(*(p[sign] for p in parts))]
                                                 for sign in ("positive", "negative")}
    return out


def _mean_of_runs(series: list[Mapping[int, float]]) -> dict[int, float]:
    """Per key every run holds, the mean over runs."""
    keys = set.intersection(*(set(s) for s in series)) if series else set()
    return {k: sum(s[k] for s in series) / len(series) for k in sorted(keys)}


def _accuracy(runs: list[StudyRun], regime: str, key: str) -> float | None:
    values = [r.regimes[regime].summary.get(key) for r in runs]
    return None if any(v is None for v in values) else sum(values) / len(values)


def _evaluations(runs: list[StudyRun], intervals: Mapping[str, Any]) -> dict[str, tuple[dict[str, Any], ...]]:
    """Each regime's evaluations of the first run (every seed follows the same schedule): step, epoch and,
    for a trained regime, the dense Jaccard with its interval."""
    out = {}
    for s in runs[0].regimes:
        grid = common_epochs(runs, (s,))
        jac = intervals.get(f"{DENSE}/jaccard/{s}")
        rows = []
        for v in runs[0].regimes[s].evaluations:
            row: dict[str, Any] = {"step": v.step, "epoch": v.epoch}
            if jac is not None and v.epoch in grid:
                iv = jac[grid.index(v.epoch)]
                row.update(jaccard=iv.estimate, jaccard_ci=[iv.low, iv.high])
            rows.append(row)
        out[s] = tuple(rows)
    return out


def compute_study(study_dir: str | os.PathLike, options: BootstrapOptions | None = None) -> StudyNumbers:
    """Every number of the report with its interval, computed from the stored artifacts of every run (seed)
    of the study (docs/method.md#knowledge-metrics and #uncertainty-and-verdicts).

    Raises :class:`DataError` naming what is missing when ``study_dir`` is not a
    complete study."""
    options = options or BootstrapOptions()
    study_dir = Path(study_dir)
    manifest = check_study(study_dir)
    regimes = manifest_regimes(manifest, study_dir / "study.json")
    runs = [load_run(root, regimes, seed) for seed, root in run_dirs(study_dir).items()]
    names, paper = regimes.names, regimes.paper
    summaries = {s: runs[0].regimes[s].summary for s in names}
    a, b, c = (_pooled([r.regimes[paper[role]].final for r in runs]) for role in ("pretrain", "finetune", "scratch"))
    if not (a.shape == b.shape == c.shape):
        raise DataError(f"the final artifacts of {study_dir} have different shapes {a.shape}, {b.shape}, {c.shape}")
    n = runs[0].n
    # a sparse study's tables are [sample, slot] with their orders (docs/study.md#sparse-studies)
    slots = dict(orders=_pooled([r.orders for r in runs]), n=n) if runs[0].estimated else {}
    pretrain_to_finetune = knowledge_by_order(a, b, **slots)
    by_order = {k: v[1:].tolist() for k, v in pretrain_to_finetune.items()}
    totals = knowledge_totals(pretrain_to_finetune)
    # how much of the scratch model's knowledge the pretrained one also has (symmetry check of the story)
    scratch_split = {k: v[1:].tolist() for k, v in knowledge_by_order(a, c, **slots).items()}
    salient = knowledge_by_order(*(reading_dividends(x, SALIENT) for x in (a, b)), **slots)
    jaccard = _jaccard_curves(runs)
    trained = list(regimes.trained)
    for r in runs:
        for s in trained:
            if not r.regimes[s].losses["train"] and not r.regimes[s].losses["val"]:
                raise DataError(
                    f"no train/loss or val/loss scalars in {tb_dir(r.root, s)}; the regime's TensorBoard logs are "
                    "missing or empty: delete the regime's summary.json and rerun the study"
                )
    losses = {s: {split: _mean_of_runs([r.regimes[s].losses[split] for r in runs]) for split in ("train", "val")}
              for s in names}

    def share(key: str, of: str) -> tuple[float, ...]:
        return tuple(safe_div(x, y) for x, y in zip(by_order[key], by_order[of]))

    discard_share = share("discard", "pretrain")
    high = [i for i in range(1, n + 1) if i > n / 2]
    strength_total = _strength_totals(runs, regimes, totals, scratch_split, slots)
    top = max(strength_total.values())
    weak = weak_models(strength_total)
    methods = method_regimes(regimes.kinds, summaries)
    intervals = study_intervals(runs, options, regimes, methods.pairs)
    intervals.update(trade_off_intervals(runs, options, regimes, methods.pairs, methods.ranked))
    sample_set = AnnotatedSampleSet.load(study_dir / ANNOTATION)
    learned = learned_checks(summaries, intervals, {s: losses[s]["train"] for s in names}, sample_set.labels)
    unmeasurable = unmeasurable_reasons(weak, learned)
    found = tuple(paper_findings(intervals, unmeasurable, paper, estimated=runs[0].estimated))
    method_found, left_out = method_findings(intervals, unmeasurable, methods, estimated=runs[0].estimated)
    return StudyNumbers(
        study_dir=str(study_dir),
        model=manifest.get("model") or summaries[paper["finetune"]].get("model"),
        data=manifest.get("data") or summaries[paper["finetune"]].get("dataset"),
        n=n,
        num_samples=int(runs[0].regimes[paper["pretrain"]].final.shape[0]),
        annotation_hash=sample_set.hash,
        accuracy={s: Accuracy(val=_accuracy(runs, s, "val_acc"), test=_accuracy(runs, s, "test_acc")) for s in names},
        final_epoch={s: summaries[s].get("final_epoch") for s in names},
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
        ratio_by_order=RatioByOrder(**{k: tuple(v) for k, v in ratio_by_order(a, b, c, **slots).items()}),
        scratch_vs_pretrain=KnowledgeTotals(**{k: sum(v) for k, v in scratch_split.items()}),
        strength_total=strength_total,
        strength_share={s: safe_div(v, top) for s, v in strength_total.items()},
        weak_models=weak,
        jaccard=jaccard,
        jaccard_first_at_level={s: first_at_least(jaccard[s], JACCARD_LEVEL) for s in trained},
        jaccard_drops={s: sum(1 for x, y in zip(list(c.values()), list(c.values())[1:]) if y < x)
                       for s, c in jaccard.items()},
        loss={s: Losses(train=losses[s]["train"], val=losses[s]["val"]) for s in names},
        two_phase=compute_two_phase(_two_phase_strengths(runs, trained), n, weak),
        findings=found,
        findings_verdicts=verdict_counts(found),
        seeds=tuple(r.seed for r in runs),
        bootstrap=options,
        intervals=intervals,
        knowledge_by_order_salient=KnowledgeByOrder(**{k: tuple(v[1:].tolist()) for k, v in salient.items()}),
        evaluations=_evaluations(runs, intervals),
        reading_agreement=reading_agreement(found),
        estimator=runs[0].estimator,
        budget=runs[0].budget,
        r2_heldout=heldout_r2(runs),
        regimes=regimes.record(),
        paper=paper,
        trade_off=trade_offs(runs, regimes, intervals, losses),
        regime_findings=tuple(method_found),
        regime_findings_verdicts=verdict_counts(method_found),
        regime_findings_left_out=tuple(left_out),
        learned=learned,
    )


def _strength_totals(runs: list[StudyRun], regimes: StudyRegimes, totals: Mapping[str, float],
                     scratch_split: Mapping[str, list[float]], slots: Mapping[str, Any]) -> dict[str, float]:
    """Each regime's interaction strength (the sum over orders of the mean ``|I(S)|``): the paper's three from the
    knowledge splits already computed, every other regime from its own final dividends."""
    paper = regimes.paper
    known = {paper["pretrain"]: totals["pretrain"], paper["finetune"]: totals["finetune"],
             paper["scratch"]: sum(scratch_split["finetune"])}
    out = {}
    for name in regimes.names:
        if name not in known:
            final = _pooled([r.regimes[name].final for r in runs])
            known[name] = sum(strength_by_order(final, **slots)[1:].tolist())
        out[name] = known[name]
    return out
