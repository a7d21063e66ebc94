"""One command for the whole study: probe -> finetune -> scratch -> report (paper section 3; docs/study.md).

:mod:`harsanyi_lightning.study.loop` runs the regimes (``python cli.py study``);
:mod:`harsanyi_lightning.study.report` draws the paper's figures and writes ``report.md`` from what the
regimes stored (``python cli.py report``); :mod:`harsanyi_lightning.study.layout` says where each file lives.

The report's entry points are loaded on first use (module ``__getattr__``), so importing this package
does not import matplotlib.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .layout import STAGES, check_study

if TYPE_CHECKING:
    from .report import write_report
    from .report_numbers import StudyNumbers, compute_study
    from .report_summary import write_summary

__all__ = ["STAGES", "StudyNumbers", "check_study", "compute_study", "write_report", "write_summary"]

#: the lazily loaded public names and the module each lives in
_LAZY = {"StudyNumbers": "report_numbers", "compute_study": "report_numbers", "write_report": "report",
         "write_summary": "report_summary"}


def __getattr__(name: str) -> Any:
    """Load a report entry point on first access."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
