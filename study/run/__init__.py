"""Running a study: its plan (:mod:`.plan`), the loop over its regimes and seeds (:mod:`.loop`), one regime's run
(:mod:`.regime_run`), its processes under DDP (:mod:`.processes`), its folder and lock (:mod:`.folders`), atomic
checkpoints (:mod:`.checkpoints`), the failures it reports in one line (:mod:`.failures`) and its progress lines
(:mod:`.progress`); docs/study.md."""
from __future__ import annotations

__all__: list[str] = []
