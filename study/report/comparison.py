"""Several studies compared: ``cli.py report A B ...`` writes one comparison folder (docs/study.md#comparing-studies).

The folder (``--out``, else ``comparison/`` in the studies' common parent folder) holds

- ``comparison.md``: the studies, the multi-study table (:mod:`~harsanyi_lightning.study.report.summary`) and the
  headline numbers with their intervals side by side (:data:`HEADLINE`, one row per number, one column per study),
  and which models did not learn;
- ``comparison.json``: the same numbers at full precision;
- ``headline.png``: each headline number with its interval, one panel per number, one point per study;
- ``jaccard.png``: the Jaccard curves of every study's trained regimes overlaid (one colour per study, one line
  style per role), with their 95% bands.

Every number comes from :func:`~harsanyi_lightning.study.report.numbers.compute_study` of each study; the studies'
own ``report/`` folders are neither read nor written here (``cli.py report --study_reports true`` also rewrites
them). A study of sparse estimates is compared in its salient reading, the one its findings are judged in.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from harsanyi_lightning.interactions.artifacts import atomic_write_bytes, errno_name, probe_writable, write_error
from harsanyi_lightning.interactions.errors import ConfigError

from ..layout import MANIFEST
from .bootstrap import Interval
from .number_format import interval_text
from .summary import summary_table
from .verdicts import HOLDS

if TYPE_CHECKING:
    from .numbers import StudyNumbers

__all__ = ["COMPARISON", "HEADLINE", "Headline", "comparison_folder", "comparison_markdown", "headline_intervals",
           "study_names", "write_comparison"]

#: the comparison folder's name inside the studies' common parent folder
COMPARISON = "comparison"


@dataclass(frozen=True)
class Headline:
    """One headline number: its interval key (``{reading}`` and ``{pretrain}`` / ``{finetune}`` / ``{scratch}``, the
    regimes in the paper's roles, filled in per study), its label and how it is written."""

    key: str
    label: str
    fmt: str


#: the numbers compared, in the order the table and ``headline.png`` show them
HEADLINE = (
    Headline("accuracy/{pretrain}", "val acc v_pretrain", "%"),
    Headline("accuracy/{finetune}", "val acc v_finetune", "%"),
    Headline("accuracy/{scratch}", "val acc v_random", "%"),
    Headline("{reading}/discard_over_preserve", "discarded / preserved", ".2f"),
    Headline("{reading}/new_over_preserve", "new / preserved", ".2f"),
    Headline("{reading}/ratio", "Ratio", "%"),
    Headline("{reading}/ratio_weighted", "Ratio (weighted)", "%"),
    Headline("{reading}/jaccard/finetune_first_epoch", "J_finetune in the first epoch", ".3f"),
    Headline("{reading}/jaccard/finetune_minus_scratch_first_epoch", "J_finetune - J_scratch, first epoch", ".3f"),
    Headline("accuracy/finetune_minus_scratch", "val acc finetune - scratch", "%"),
    Headline("loss/scratch_minus_finetune", "train loss scratch - finetune", ".3f"),
)


def study_names(study_dirs: Sequence[str | os.PathLike]) -> list[str]:
    """A short, unique name per study: its folder's name, with as many parent folders as it takes to tell them
    apart (``a/seed``, ``b/seed``)."""
    paths = [Path(d).resolve() for d in study_dirs]
    for depth in range(1, max(len(p.parts) for p in paths) + 1):
        names = ["/".join(p.parts[-depth:]) for p in paths]
        if len(set(names)) == len(names):
            return names
    return [str(p) for p in paths]


def comparison_folder(study_dirs: Sequence[str | os.PathLike], out: str | os.PathLike | None = None) -> Path:
    """Where the comparison goes: ``out``, else ``comparison/`` in the studies' common parent folder. A
    :class:`ConfigError`, before any work, when that folder is a study folder, lies inside one's ``report/``, is a
    file or cannot be written."""
    studies = [Path(d).resolve() for d in study_dirs]
    if out is None:
        common = Path(os.path.commonpath([str(p) for p in studies]))
        if common in studies:  # one study inside another (or the same one twice): beside it, not inside
            common = common.parent
        folder = common / COMPARISON
        fix = "give another folder with --out"
    else:
        folder = Path(out).resolve()
        fix = "give another --out"
    if (folder / MANIFEST).is_file() or folder in studies:
        raise ConfigError(f"the comparison folder {folder} is a study folder; {fix}")
    inside = next((s for s in studies if folder == s / "report" or s / "report" in folder.parents), None)
    if inside is not None:
        raise ConfigError(f"the comparison folder {folder} is inside the report of {inside}, which a comparison leaves "
                          f"as it is; {fix}")
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"the comparison folder {folder} is a file, not a folder; {fix}")
    _check_writable(folder)
    return folder


def _check_writable(folder: Path) -> None:
    target = next((p for p in (folder, *folder.parents) if p.exists()), None)
    try:
        if target is not None:
            probe_writable(target)
    except OSError as err:
        raise ConfigError(f"the comparison folder {folder} cannot be written ({target} is not writable: "
                          f"{errno_name(err)}); give a writable folder with --out") from None


def headline_intervals(num: StudyNumbers) -> dict[str, Interval | None]:
    """``{label: interval}`` of :data:`HEADLINE` for one study (``None`` where the study has no such number)."""
    fill = {"reading": num.judged_reading, **num.paper}
    out = {}
    for h in HEADLINE:
        value = num.intervals.get(h.key.format(**fill))
        out[h.label] = value if isinstance(value, Interval) else None
    return out


def comparison_markdown(names: Sequence[str], nums: Sequence[StudyNumbers]) -> str:
    """``comparison.md``: the studies, the multi-study table, the headline numbers side by side, the figures."""
    L = [f"# Comparison of {len(nums)} studies", "",
         "Every number is computed from each study's stored artifacts, as its own report computes it "
         "(docs/study.md#report); intervals are each study's own 95% bootstrap intervals.", "",
         "| study | folder | model / data | seeds | findings holding | models that did not learn |",
         "|---|---|---|---|---|---|"]
    for name, num in zip(names, nums):
        seeds = [s for s in num.seeds if s is not None]
        L.append(f"| {name} | `{num.study_dir}` | {num.title} | {', '.join(map(str, seeds)) or 'one'} | "
                 f"{num.findings_verdicts.get(HOLDS, 0)}/{len(num.findings)} | {', '.join(num.not_learned) or 'none'} |")
    L += ["", "## Headline numbers [95% interval]", "",
          "| number | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    tables = [headline_intervals(num) for num in nums]
    for h in HEADLINE:
        L.append(f"| {h.label} | " + " | ".join(interval_text(t[h.label], h.fmt) for t in tables) + " |")
    if any(num.estimated for num in nums):
        L += ["", "A study of sparse estimates is compared in its salient reading (docs/study.md#sparse-studies)."]
    if any(num.not_learned for num in nums):
        L += ["", "A study with a model that did not learn the task compares numbers of an untrained network "
              "(docs/study.md#models-that-did-not-learn): read its columns as a smoke test."]
    L += ["", "## The multi-study table", "", summary_table(nums, names).rstrip("\n"), "",
          "## Figures", "", "![headline](headline.png)", "![jaccard](jaccard.png)", ""]
    return "\n".join(L)


def _json(name: str, num: StudyNumbers) -> dict[str, Any]:
    ivs = headline_intervals(num)
    return {"name": name, "study_dir": num.study_dir, "title": num.title, "estimator": num.estimator,
            "seeds": list(num.seeds), "findings_verdicts": dict(num.findings_verdicts), "not_learned": num.not_learned,
            "headline": {h.label: None if ivs[h.label] is None else
                         {"estimate": ivs[h.label].estimate, "ci": [ivs[h.label].low, ivs[h.label].high]}
                         for h in HEADLINE}}


def write_comparison(folder: Path, study_dirs: Sequence[str | os.PathLike], nums: Sequence[StudyNumbers]) -> Path:
    """Write the comparison of the studies ``study_dirs`` (their numbers ``nums``, in the same order) into ``folder``
    (:func:`comparison_folder`); return it. Each file is written atomically; the studies' own folders are not
    touched."""
    from .comparison_figures import figure_comparison_jaccard, figure_headline
    from .figures import figure_bytes

    names = study_names(study_dirs)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise write_error(folder, err) from err
    chances = [c.chance for num in nums for c in num.learned.values() if c.chance]
    figure = figure_headline(names, HEADLINE, [headline_intervals(num) for num in nums], chances)
    atomic_write_bytes(folder / "headline.png", figure_bytes(figure))
    atomic_write_bytes(folder / "jaccard.png", figure_bytes(figure_comparison_jaccard(names, nums)))
    payload = {"studies": [_json(name, num) for name, num in zip(names, nums)], "headline": [h.label for h in HEADLINE]}
    atomic_write_bytes(folder / "comparison.json", (json.dumps(payload, indent=2) + "\n").encode())
    atomic_write_bytes(folder / "comparison.md", comparison_markdown(names, nums).encode())
    return folder
