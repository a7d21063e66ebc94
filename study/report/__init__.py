"""Judging a study from what its regimes stored (docs/study.md, section "Report"): the numbers (:mod:`.numbers`,
read through :mod:`.artifacts` and :mod:`.inputs`), their intervals (:mod:`.intervals`, :mod:`.bootstrap`) in two
readings (:mod:`.readings`), the paper's findings (:mod:`.findings`) and their verdicts (:mod:`.verdicts`), the
two-phase view (:mod:`.two_phase`), the figures (:mod:`.figures`, :mod:`.sample_figures`), ``report.md``
(:mod:`.markdown`, :mod:`.number_format`), the files (:mod:`.writer`) and the table over several studies
(:mod:`.summary`). Nothing here is imported by ``python cli.py fit``: matplotlib loads only when a report is drawn."""
from __future__ import annotations

__all__: list[str] = []
