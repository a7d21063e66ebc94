"""One command for the whole study: its regimes, one after another, then the report (paper section 3; docs/study.md).

Two sub-packages: :mod:`harsanyi_lightning.study.run` trains the regimes (``python cli.py study``: plan, loop,
processes, folders, checkpoints) and :mod:`harsanyi_lightning.study.report` judges what they stored
(``python cli.py report``: numbers, intervals, readings, findings, verdicts, figures, markdown).
:mod:`harsanyi_lightning.study.regimes` holds the regimes of a study config (kind, role, references) and
:mod:`harsanyi_lightning.study.layout` says where each file lives; the command line is :mod:`.cli`, :mod:`.trainer`,
:mod:`.overrides` and :mod:`.config_errors`.

The report's entry points are loaded on first use (module ``__getattr__``), so importing this package
does not import matplotlib.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .layout import check_study
from .regimes import RegimeSpec, StudyRegimes

if TYPE_CHECKING:
    from .report.writer import write_report
    from .report.numbers import StudyNumbers, compute_study
    from .report.summary import write_summary

__all__ = ["RegimeSpec", "StudyNumbers", "StudyRegimes", "check_study", "compute_study", "write_report",
           "write_summary"]

#: the lazily loaded public names and the module each lives in
_LAZY = {"StudyNumbers": "report.numbers", "compute_study": "report.numbers", "write_report": "report.writer",
         "write_summary": "report.summary"}


def __getattr__(name: str) -> Any:
    """Load a report entry point on first access."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
