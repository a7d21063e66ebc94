"""Tests of harsanyi_lightning.interactions, the pure-torch core."""
