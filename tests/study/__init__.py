"""Tests of harsanyi_lightning.study (plan, regimes, loop, report)."""
