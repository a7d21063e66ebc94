"""How the report writes numbers and shares: one formatter for the findings, the two-phase statements,
report.md and the multi-study table."""
from __future__ import annotations

import math

from harsanyi_lightning.study.report.number_format import MISSING, is_missing, number, percent


def test_percent_has_one_decimal_and_says_n_a_for_what_is_missing():
    assert percent(0.1234) == "12.3%" and percent(1) == "100.0%" and percent(0.0) == "0.0%"
    assert percent(None) == percent(math.nan) == MISSING == "n/a"


def test_number_uses_the_given_format_and_says_n_a_for_what_is_missing():
    assert number(1234.5678) == "1235" and number(0.000123456) == "0.0001235"  # default: 4 significant digits
    assert number(2.0, ".2f") == "2.00" and number(3, ".3g") == "3"
    assert number(None, ".2f") == number(math.nan) == "n/a"
    assert number(math.inf) == "inf"


def test_only_none_and_nan_are_missing():
    assert is_missing(None) and is_missing(math.nan)
    assert not is_missing(0.0) and not is_missing(0) and not is_missing(math.inf)
