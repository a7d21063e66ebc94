"""The study's progress lines (``[study] ...``), printed by global rank zero only (docs/study.md)."""
from __future__ import annotations

import pytorch_lightning as pl

__all__ = ["say"]


def say(msg: str) -> None:
    """Print ``[study] msg`` on global rank zero (DDP ranks started by Lightning run the same command)."""
    if pl.utilities.rank_zero_only.rank == 0:
        print(f"[study] {msg}", flush=True)
