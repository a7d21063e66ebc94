"""Tests of harsanyi_lightning.callbacks (InteractionCallback in tiny Lightning fits)."""
