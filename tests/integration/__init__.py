"""End to end: the worked example, the engine page example, both Lightning packages, DDP, the wheel."""
