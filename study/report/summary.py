"""Several studies in one markdown table, one row per study (model / data set), like the paper's grid
(docs/study.md, section "Report")."""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from harsanyi_lightning.interactions.artifacts import atomic_write_bytes

from .number_format import interval_text, number, percent
from .numbers import compute_study
from .verdicts import HOLDS

if TYPE_CHECKING:
    from ..bootstrap_options import BootstrapOptions
    from .numbers import StudyNumbers

__all__ = ["SUMMARY_COLUMNS", "summary_row", "summary_table", "write_summary"]

#: the columns; the paper's three models by their symbols (the regimes in the roles pretrain, finetune, scratch)
SUMMARY_COLUMNS = ("study", "model", "data", "acc v_pretrain", "acc v_finetune", "acc v_random", "K preserve",
                   "K discard", "K new", "discard/preserve", "Ratio", "Ratio (weighted)", "J>=0.8 v_finetune",
                   "J>=0.8 v_random", "findings holding")


def _with_interval(num: StudyNumbers, key: str, fmt: str) -> str:
    """The estimate and its 95% interval, ``0.94 [0.60, 1.32]``."""
    return interval_text(num.intervals.get(key), fmt)


def summary_row(num: StudyNumbers, name: str | None = None) -> list[str]:
    """One study's cells of :data:`SUMMARY_COLUMNS` (validation accuracies; K totals sum orders 1..n); a study of
    sparse estimates says so beside its name, and its ratios are the salient reading's, the one its findings are
    judged in (docs/study.md#sparse-studies)."""
    t = num.knowledge_totals
    acc = num.accuracy
    reading = num.judged_reading
    name = (name or Path(num.study_dir).name) + (f" (sparse estimates, budget {num.budget}; ratios in the salient "
                                                 "reading)" if num.estimated else "")
    pretrain, finetune, scratch = (num.paper[role] for role in ("pretrain", "finetune", "scratch"))
    return [name, str(num.model or ""), str(num.data or ""),
            percent(acc[pretrain].val), percent(acc[finetune].val), percent(acc[scratch].val),
            number(t.preserve), number(t.discard), number(t.new), _with_interval(num, f"{reading}/discard_over_preserve", ".3g"),
            _with_interval(num, f"{reading}/ratio", "%"), _with_interval(num, f"{reading}/ratio_weighted", "%"),
            str(num.jaccard_first_at_level[finetune]), str(num.jaccard_first_at_level[scratch]),
            f"{num.findings_verdicts[HOLDS]}/{len(num.findings)}"]


def summary_table(nums: Sequence[StudyNumbers], names: Sequence[str] | None = None) -> str:
    """The markdown table of the studies' numbers ``nums``, one row per study (named ``names``, default each study
    folder's name)."""
    rows = [summary_row(num, name) for num, name in zip(nums, names or [None] * len(nums))]
    lines = ["| " + " | ".join(SUMMARY_COLUMNS) + " |", "|" + "---|" * len(SUMMARY_COLUMNS)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def write_summary(study_dirs: Sequence[str | os.PathLike], path: str | os.PathLike | None = None,
                  bootstrap: BootstrapOptions | None = None, nums: Sequence[StudyNumbers] | None = None) -> str:
    """One markdown table, one row per study (model / data set), like the paper's grid; written
    atomically to ``path`` when given. Accuracies are validation accuracies; K totals sum orders 1..n. ``nums``:
    the studies' numbers when already computed."""
    if nums is None:
        nums = [compute_study(d, bootstrap) for d in study_dirs]
    text = summary_table(nums)
    if path is not None:
        atomic_write_bytes(path, text.encode())
    return text

