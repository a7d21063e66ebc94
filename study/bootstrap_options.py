"""How the report draws its intervals (docs/method.md#uncertainty-and-verdicts): the options of a study config's
``bootstrap:`` section and of ``cli.py report --bootstrap.*``. A module of its own, so the command line's parsers read
these options without loading the report."""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CONFIDENCE", "RESAMPLES", "BootstrapOptions"]

#: resamples per interval (the report's ``bootstrap.resamples``)
RESAMPLES = 1000
#: the central coverage of an interval
CONFIDENCE = 0.95


@dataclass(frozen=True)
class BootstrapOptions:
    """How the report's intervals are drawn (a study config's ``bootstrap:`` section, ``cli.py report
    --bootstrap.resamples``; docs/method.md#uncertainty-and-verdicts).

    Args:
        resamples: bootstrap resamples per interval (at least 100).
        seed: the seed of the resampling generator: the same seed gives the same intervals.
        confidence: the central coverage of every interval, in [0.5, 1).
    """

    resamples: int = RESAMPLES
    seed: int = 0
    confidence: float = CONFIDENCE

    def __post_init__(self) -> None:
        from harsanyi_lightning.interactions.errors import ConfigError

        if isinstance(self.resamples, bool) or not isinstance(self.resamples, int) or self.resamples < 100:
            raise ConfigError(f"bootstrap.resamples={self.resamples!r}: use an integer of at least 100 (default "
                              f"{RESAMPLES}); fewer resamples make the 2.5% and 97.5% percentiles meaningless")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ConfigError(f"bootstrap.seed={self.seed!r}: use an integer")
        if not isinstance(self.confidence, (int, float)) or not 0.5 <= float(self.confidence) < 1:
            raise ConfigError(f"bootstrap.confidence={self.confidence!r}: use a number in [0.5, 1), e.g. 0.95")
