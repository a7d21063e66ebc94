"""Lightning callbacks of harsanyi-lightning: :class:`InteractionCallback` and its option objects (docs/callback.md)."""
from .interaction_callback import InteractionCallback
from .options import EvaluationOptions, ExtrasOptions, RunOptions, SampleSetOptions

__all__ = ["EvaluationOptions", "ExtrasOptions", "InteractionCallback", "RunOptions", "SampleSetOptions"]
