"""The verdict rule of a finding: from its interval, never from the point estimate alone
(docs/method.md#uncertainty-and-verdicts).

With estimate ``e``, interval ``[low, high]``, threshold ``t`` and direction ``">"``: **holds** when
``low > t`` (the whole interval on the finding's side), **does not hold** when ``high < t`` (wholly on
the other side), **inconclusive** otherwise, including an interval that touches ``t``. Direction
``"<"`` mirrors it. A finding about a near-constant model or one that did not learn the task
(:mod:`~harsanyi_lightning.study.report.task_learned`), or whose estimate or interval is undefined
(NaN: nothing preserved, no evaluation to compare), is **not measurable**.
"""
from __future__ import annotations

import math

__all__ = ["DIRECTIONS", "HOLDS", "INCONCLUSIVE", "NOT_HOLD", "NOT_MEASURABLE", "RULE", "VERDICTS", "verdict"]

HOLDS, NOT_HOLD, INCONCLUSIVE, NOT_MEASURABLE = "holds", "does not hold", "inconclusive", "not measurable"
#: every verdict, in the order the report counts them
VERDICTS = (HOLDS, INCONCLUSIVE, NOT_HOLD, NOT_MEASURABLE)
DIRECTIONS = (">", "<")
RULE = ("a finding holds when its whole 95% interval lies on the finding's side of the threshold (low > threshold "
        "for '>', high < threshold for '<'), does not hold when the whole interval lies on the other side, and is "
        "inconclusive when the interval contains or touches the threshold; not measurable when a model it needs is "
        "near-constant or did not learn the task, or its number is undefined")


def verdict(low: float, high: float, threshold: float, direction: str) -> str:
    """The verdict of an interval ``[low, high]`` against ``threshold`` in ``direction`` (``">"`` or ``"<"``)."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction={direction!r}; use one of {list(DIRECTIONS)}")
    if not (math.isfinite(low) and math.isfinite(high)):
        return NOT_MEASURABLE
    if direction == "<":
        low, high, threshold = -high, -low, -threshold
    if low > threshold:
        return HOLDS
    if high < threshold:
        return NOT_HOLD
    return INCONCLUSIVE
