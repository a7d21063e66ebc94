"""One command for the whole study: probe -> finetune -> scratch -> report (paper section 3).

:mod:`harsanyi_lightning.study.runner` runs the stages (``python cli.py study``); :mod:`harsanyi_lightning.study.report`
draws the paper's figures and writes ``report.md`` from what the stages stored
(``python cli.py report``); :mod:`harsanyi_lightning.study.layout` says where each file lives.
"""
from .layout import STAGES, check_study
from .report import compute_study, write_report, write_summary

__all__ = ["STAGES", "check_study", "compute_study", "write_report", "write_summary"]
