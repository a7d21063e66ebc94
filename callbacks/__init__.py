"""Lightning callbacks of harsanyi-lightning (see :class:`InteractionCallback`)."""
from .interaction_callback import InteractionCallback

__all__ = ["InteractionCallback"]
