"""How the report writes a number or a share in text: ``n/a`` for a missing or undefined one.

The findings, the two-phase statements, ``report.md`` and the multi-study table all write their
numbers through these functions (docs/study.md, section "Report"): a value, a share, or an estimate with its
interval.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .bootstrap import Interval

__all__ = ["MISSING", "interval_text", "is_missing", "number", "percent", "value_text"]

#: what the report writes for a number it does not have (``None``) or that is undefined (NaN)
MISSING = "n/a"


def is_missing(x: float | None) -> bool:
    """``True`` for ``None`` and for a float NaN (a share of nothing, a correlation of constants)."""
    return x is None or (isinstance(x, float) and math.isnan(x))


def percent(x: float | None) -> str:
    """A share as a percentage with one decimal (``0.1234`` -> ``"12.3%"``), or :data:`MISSING`."""
    return MISSING if is_missing(x) else f"{100 * x:.1f}%"


def number(x: float | None, fmt: str = ".4g") -> str:
    """``x`` written with the format spec ``fmt``, or :data:`MISSING`."""
    return MISSING if is_missing(x) else format(x, fmt)


def value_text(x: float | None, fmt: str) -> str:
    """``x`` as a percentage when ``fmt`` is ``"%"``, else with the format spec ``fmt``."""
    return percent(x) if fmt == "%" else number(x, fmt)


def interval_text(iv: Interval | None, fmt: str = ".3f") -> str:
    """``estimate [low, high]`` written with :func:`value_text`, or :data:`MISSING` without an interval."""
    if iv is None:
        return MISSING
    return f"{value_text(iv.estimate, fmt)} [{value_text(iv.low, fmt)}, {value_text(iv.high, fmt)}]"
