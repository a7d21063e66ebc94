"""Tests of harsanyi_lightning.lightning_modules (the regimes, backbones, the training recipe)."""
