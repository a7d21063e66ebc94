"""The ``Trainer`` whose method signatures are the ``study`` and ``report`` subcommands of ``cli.py`` (docs/study.md)."""
from __future__ import annotations

from typing import Optional

import pytorch_lightning as pl

from harsanyi_lightning.interactions.errors import ConfigError

from .bootstrap import BootstrapOptions
from .plan import InteractionSpec, SampleSetSpec, StageSpec

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
        probe: StageSpec = StageSpec(),
        finetune: StageSpec = StageSpec(),
        scratch: StageSpec = StageSpec(),
        sample_set: SampleSetSpec = SampleSetSpec(),
        interactions: InteractionSpec = InteractionSpec(),
        test: bool = True,
        force: bool = False,
        report: bool = True,
        bootstrap: BootstrapOptions = BootstrapOptions(),
    ) -> None:
        """Run probe, finetune and scratch on one annotated sample set, then write the report.

        Args:
            study_dir: where every stage and the report go (``<study_dir>/<stage>/``, ``<study_dir>/report/``).
            shared: LightningCLI settings every stage gets (``data``, ``model.init_args.backbone``,
                ``trainer``, ``seed_everything``), applied after the stage's own config files. A dotted
                override (``--shared.trainer.max_epochs 1``) merges into it, as into a stage's
                ``overrides`` and ``interactions``.
            seeds: run every stage once per seed (``seeds: [0, 1, 2]``), each seed's stages with
                ``seed_everything: <seed>`` in ``<study_dir>/seed_<seed>/<stage>/``, all on the one sample
                set (docs/study.md#seeds). ``None`` (the default): one run in ``<study_dir>/<stage>/``,
                seeded by ``shared.seed_everything``.
            probe: the probe stage (frozen pre-trained backbone, linear head): its config files and overrides.
            finetune: the fine-tuning stage, measured against the probe's final interactions.
            scratch: the from-scratch stage, measured against probe and finetune.
            sample_set: the one annotated sample set (docs/method.md#the-annotated-sample-set).
            interactions: evaluation settings of the interaction callback (docs/method.md#precision-and-budget)
                and its options beyond the paper (docs/method.md#beyond-the-paper: attributions, and_or,
                and_or_solver, and_or_noise_bound).
            test: also report test accuracy when the data module has a test split.
            force: redo every stage (and rebuild the sample set) even when complete.
            report: write ``<study_dir>/report/`` at the end.
            bootstrap: the report's intervals: ``resamples`` (1,000), ``seed`` (0), ``confidence`` (0.95)
                (docs/method.md#uncertainty-and-verdicts).
        """
        raise ConfigError("StudyTrainer.study runs through the command line: `python cli.py study --config <yaml>`")

    def report(self, study_dirs: list[str], summary: Optional[str] = None,
               bootstrap: BootstrapOptions = BootstrapOptions(),
               model: Optional[pl.LightningModule] = None, datamodule: Optional[pl.LightningDataModule] = None) -> None:
        """Write the report of each study folder and print one table with a row per study.

        Args:
            study_dirs: study folders written by ``python cli.py study``.
            summary: also write the table (markdown) to this file.
            bootstrap: the intervals' ``resamples``, ``seed`` and ``confidence`` (``--bootstrap.resamples 2000``).
        """
        from .report import write_report, write_summary

        if not study_dirs:
            raise ConfigError("report needs at least one study folder: `python cli.py report <study_dir> [...]`")
        for d in study_dirs:
            out = write_report(d, bootstrap=bootstrap)
            print(f"[report] {out}", flush=True)
        print(write_summary(list(study_dirs), summary, bootstrap), flush=True)
