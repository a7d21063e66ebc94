"""Tests of harsanyi_lightning.study (plan, stages, loop, report)."""
