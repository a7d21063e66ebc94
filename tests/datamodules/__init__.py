"""Tests of harsanyi_lightning.datamodules."""
