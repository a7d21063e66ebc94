"""The study report: writes ``<study_dir>/report/`` from a study's stored artifacts (docs/study.md,
section "Report").

:func:`write_report` computes the numbers (:func:`~harsanyi_lightning.study.report.numbers.compute_study`),
draws the figures (:mod:`~harsanyi_lightning.study.report.figures`,
:mod:`~harsanyi_lightning.study.report.sample_figures`) and writes, each file atomically:
``knowledge_by_order.png`` (Fig. 2), ``ratio.png`` (Fig. 3), ``jaccard.png`` (Fig. 4), ``loss.png``
(Fig. 5), ``samples.png`` (not for sparse estimates: it needs every dividend), ``two_phase.png``,
``trade_off.png`` (every regime's learning and forgetting), ``report.md``
(:mod:`~harsanyi_lightning.study.report.markdown`), ``report.json`` (the same numbers at full
precision) and ``tb/`` (the figures for TensorBoard). :func:`write_summary`
(:mod:`~harsanyi_lightning.study.report.summary`) puts several studies in one table.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from harsanyi_lightning.interactions.artifacts import atomic_write_bytes, errno_name, probe_writable, write_error
from harsanyi_lightning.interactions.errors import ConfigError

from ..bootstrap_options import BootstrapOptions
from ..layout import write_json
from .markdown import FIGURES, drawn_figures, render_markdown
from .numbers import compute_study
from .summary import write_summary

if TYPE_CHECKING:
    from .numbers import StudyNumbers

__all__ = ["check_report_folder", "compute_study", "draw_figures", "write_report", "write_summary"]


def check_report_folder(out: Path) -> None:
    """Fail before any work (:class:`ConfigError` naming the folder and the errno) when the report folder
    ``out`` (or, while it does not exist, the study folder it goes into) cannot be written."""
    target = out if out.is_dir() else out.parent if out.parent.is_dir() else None
    if target is None:
        return  # not a study folder at all: compute_study says so
    try:
        probe_writable(target)
    except OSError as err:
        raise ConfigError(
            f"the report folder {out} cannot be written ({target} is not writable: {errno_name(err)}); make it "
            f"writable for this user (chmod -R u+w {target}), or copy the study folder somewhere writable and "
            "report on the copy"
        ) from None


def draw_figures(study_dir: Path, num: StudyNumbers) -> dict[str, bytes]:
    """``{name: PNG bytes}`` of the report's :data:`~.markdown.FIGURES` drawn for this study (:func:`drawn_figures`).
    The figure modules are imported here, when a report draws its figures."""
    from .figures import (
        figure_bytes,
        figure_jaccard,
        figure_knowledge_by_order,
        figure_loss,
        figure_ratio,
        figure_trade_off,
        figure_two_phase,
        regime_color,
    )
    from .sample_figures import figure_samples

    draw = {
        "knowledge_by_order": (lambda: figure_knowledge_by_order(num)),
        "ratio": (lambda: figure_ratio(num)),
        "jaccard": (lambda: figure_jaccard(num)),
        "loss": (lambda: figure_loss(num)),
        "samples": (lambda: figure_samples(study_dir, {s: regime_color(num, s) for s in num.paper.values()})),
        "two_phase": (lambda: figure_two_phase(num.two_phase, num.n, num.title,
                                               {s: regime_color(num, s) for s in num.regimes})),
        "trade_off": (lambda: figure_trade_off(num)),
    }
    return {name: figure_bytes(draw[name]()) for name in drawn_figures(num)}


def write_report(study_dir: str | os.PathLike, *, tensorboard: bool = True,
                 bootstrap: BootstrapOptions | None = None, numbers: StudyNumbers | None = None,
                 figures: bool = True) -> Path:
    """Write ``<study_dir>/report/`` (figures, ``report.md``, ``report.json``, ``tb/``); return that folder.

    ``bootstrap`` sets the intervals' resamples, seed and confidence (docs/method.md#uncertainty-and-verdicts);
    ``numbers``: the study's numbers when already computed with them; ``figures=False``: no PNG (and no figure
    in ``tb/``), report.json and report.md alone (docs/study.md#report).
    Every file is written atomically. Raises :class:`DataError` naming the
    missing paths when ``study_dir`` is not a complete study, :class:`ConfigError` before any work when
    the report folder cannot be written, :class:`StorageError` naming the file when a write fails."""
    study_dir = Path(study_dir)
    out = study_dir / "report"
    check_report_folder(out)
    num = numbers if numbers is not None else compute_study(study_dir, bootstrap)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise write_error(out, err) from err
    pngs = draw_figures(study_dir, num) if figures else {}
    for name, png in pngs.items():
        atomic_write_bytes(out / f"{name}.png", png)
    for name in set(FIGURES) - set(pngs):  # not drawn this time: no stale figure of an earlier report
        (out / f"{name}.png").unlink(missing_ok=True)
    md = render_markdown(num, figures)
    if tensorboard:
        from torch.utils.tensorboard import SummaryWriter

        tb = out / "tb"
        try:
            if tb.is_dir():
                shutil.rmtree(tb)  # one report's events, not every rerun's
            writer = SummaryWriter(log_dir=str(tb))
            for name, png in pngs.items():  # the PNG as drawn once, not drawn again by add_figure
                from .figures import png_pixels

                writer.add_image(f"report/{name}", png_pixels(png), global_step=0, dataformats="HWC")
            writer.add_text("report/report.md", md, global_step=0)
            writer.close()
        except OSError as err:
            raise write_error(err.filename or tb, err) from err
    write_json(out / "report.json", num.to_dict())
    atomic_write_bytes(out / "report.md", md.encode())
    return out
