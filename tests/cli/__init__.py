"""Tests of harsanyi_lightning.cli (python cli.py / harsanyi-lightning: configs, links, the embedded default)."""
