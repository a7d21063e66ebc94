"""The ``Trainer`` whose method signatures are the ``study`` and ``report`` subcommands of ``cli.py`` (docs/study.md)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import pytorch_lightning as pl

from harsanyi_lightning.interactions.errors import ConfigError

from .bootstrap_options import BootstrapOptions
from .regimes import RegimeSpec
from .run.plan import InteractionSpec, SampleSetSpec

__all__ = ["StudyTrainer"]


class StudyTrainer(pl.Trainer):
    """A ``Trainer`` that also offers the ``study`` and ``report`` subcommands of ``cli.py``."""

    def study(
        self,
        model: Optional[pl.LightningModule] = None,
        datamodule: Optional[pl.LightningDataModule] = None,
        study_dir: str = "studies/study",
        shared: Optional[dict] = None,
        seeds: Optional[list[int]] = None,
        regimes: Optional[dict[str, RegimeSpec]] = None,
        configs: Optional[list[str]] = None,
        sample_set: SampleSetSpec = SampleSetSpec(),
        interactions: InteractionSpec = InteractionSpec(),
        test: bool = True,
        force: bool = False,
        report: bool = True,
        figures: bool = True,
        bootstrap: BootstrapOptions = BootstrapOptions(),
    ) -> None:
        """Train the study's regimes one after another on one annotated sample set, then write the report.

        Args:
            study_dir: where every regime and the report go (``<study_dir>/<regime>/``, ``<study_dir>/report/``).
            shared: LightningCLI settings every regime gets (``data``, ``model.init_args.backbone``,
                ``trainer``, ``seed_everything``), applied after the regime's own config files. A dotted
                override (``--shared.trainer.max_epochs 1``) merges into it, as into a regime's
                ``overrides`` and ``interactions`` (``--regimes.scratch.overrides.trainer.max_epochs 3``).
            seeds: run every regime once per seed (``seeds: [0, 1, 2]``), each seed's regimes with
                ``seed_everything: <seed>`` in ``<study_dir>/seed_<seed>/<regime>/``, all on the one sample
                set (docs/study.md#seeds). ``None`` (the default): one run in ``<study_dir>/<regime>/``,
                seeded by ``shared.seed_everything``.
            regimes: the regimes by name, each with its ``kind`` (``probe``, ``finetune``, ``scratch``: its role
                follows from it), its ``configs`` files, ``overrides`` and ``interactions`` settings
                (docs/study.md#regimes; ``--regimes.help`` lists the fields). They train in the order of their roles:
                the pre-trained reference first, then those trained from its weights, then those from scratch.
            configs: config files every regime gets after its own files (a data set and a model: ``configs/data``,
                ``configs/model``; docs/study.md#composed-configs).
            sample_set: the one annotated sample set (docs/method.md#the-annotated-sample-set).
            interactions: evaluation settings of the interaction callback (docs/method.md#precision-and-budget)
                and its options beyond the paper (docs/method.md#beyond-the-paper: attributions, and_or,
                and_or_solver, and_or_noise_bound).
            test: also report test accuracy when the data module has a test split.
            force: redo every regime (and rebuild the sample set) even when complete.
            report: write ``<study_dir>/report/`` at the end.
            figures: draw the report's figures (``<name>.png`` and their TensorBoard images). ``false``: report.json
                and report.md alone, a few seconds sooner (``python cli.py report <study_dir>`` draws them later).
            bootstrap: the report's intervals: ``resamples`` (1,000), ``seed`` (0), ``confidence`` (0.95)
                (docs/method.md#uncertainty-and-verdicts).
        """
        raise ConfigError("StudyTrainer.study runs through the command line: `python cli.py study --config <yaml>`")

    def report(self, study_dirs: list[str], summary: Optional[str] = None,
               bootstrap: BootstrapOptions = BootstrapOptions(), out: Optional[str] = None, study_reports: bool = False,
               figures: bool = True, model: Optional[pl.LightningModule] = None,
               datamodule: Optional[pl.LightningDataModule] = None) -> None:
        """Write the report of one study; compare several in one folder. Print one table with a row per study.

        Args:
            study_dirs: study folders written by ``python cli.py study``. One: its report, ``<study_dir>/report/``.
                Several: one comparison folder (the headline numbers with their intervals side by side, the Jaccard
                curves overlaid; docs/study.md#comparing-studies), the studies' own reports left as they are.
            summary: also write the table (markdown) to this file.
            bootstrap: the intervals' ``resamples``, ``seed`` and ``confidence`` (``--bootstrap.resamples 2000``).
            out: the comparison folder of several studies (default: ``comparison/`` in their common parent folder).
            study_reports: with several studies, also (re)write each study's own ``<study_dir>/report/``.
            figures: draw each study report's figures (``false``: report.json and report.md alone).
        """
        from .report.comparison import comparison_folder, write_comparison
        from .report.numbers import compute_study
        from .report.writer import check_report_folder, write_report, write_summary

        if not study_dirs:
            raise ConfigError("report needs at least one study folder: `python cli.py report <study_dir> [...]`")
        compare = len(study_dirs) > 1
        if out is not None and not compare:
            raise ConfigError(f"--out {out} names a comparison folder, and one study is not compared; its report goes "
                              f"to {study_dirs[0]}/report (give several study folders to compare them)")
        folder = comparison_folder(study_dirs, out) if compare else None  # checked before any work
        for d in study_dirs if study_reports or not compare else ():
            check_report_folder(Path(d) / "report")
        nums = [compute_study(d, bootstrap) for d in study_dirs]
        for d, num in zip(study_dirs, nums):
            if study_reports or not compare:
                print(f"[report] {write_report(d, bootstrap=bootstrap, numbers=num, figures=figures)}", flush=True)
        if folder is not None:
            write_comparison(folder, study_dirs, nums)
            print(f"[report] comparison of {len(nums)} studies -> {folder} (comparison.md, headline.png, jaccard.png)",
                  flush=True)
        print(write_summary(list(study_dirs), summary, bootstrap, nums=nums), flush=True)
