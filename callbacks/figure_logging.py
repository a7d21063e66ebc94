"""Where the evaluation's matplotlib figures go: each logger by what it can do, never by class (docs/callback.md#loggers).

- an ``experiment`` with ``add_figure`` (TensorBoard's ``SummaryWriter``, of either Lightning package's
  ``TensorBoardLogger`` or any logger exposing one): ``add_figure(tag, fig, global_step=step)``, the
  IMAGES tab with a step slider;
- an ``experiment`` with ``log_figure`` and a logger ``run_id`` (``MLFlowLogger``'s ``MlflowClient``):
  one PNG artifact per evaluation, ``<tag>/epoch_XXX.png`` (the name of the artifact ``epoch_XXX.pt``; inside an
  epoch ``<tag>/step_XXXXXXX.png``);
- a logger with ``log_image(key, images, step)`` (``WandbLogger``): a ``wandb.Image`` under the tag,
  logged with the evaluation's step as ``trainer/global_step``.

Any other logger (CSV, ...) gets no figures; every logger gets the scalars through ``log_metrics``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional, Union

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: ``writer(tag, figure, step, epoch)``: log one figure of the evaluation after ``epoch`` (or of the evaluation
#: artifact named ``epoch``, e.g. ``"step_0000025"``) at logging ``step``
FigureWriter = Callable[[str, "Figure", int, Union[int, str]], None]


def figure_artifact_path(tag: str, epoch: int | str) -> str:
    """The artifact file of a figure in a run's artifact store: ``<tag>/epoch_XXX.png``, or ``<tag>/<name>.png``
    for an evaluation artifact's name (``step_0000025``)."""
    return f"{tag}/{epoch}.png" if isinstance(epoch, str) else f"{tag}/epoch_{epoch:03d}.png"


def figure_writer(logger: Any) -> Optional[FigureWriter]:
    """How ``logger`` takes a figure, by capability (this module's docstring), or ``None``."""
    experiment = getattr(logger, "experiment", None)
    if callable(getattr(experiment, "add_figure", None)):
        return summary_writer_figures(experiment)
    if callable(getattr(experiment, "log_figure", None)) and getattr(logger, "run_id", None):
        run_id = logger.run_id

        def log_figure(tag: str, fig: Figure, step: int, epoch: int | str) -> None:
            experiment.log_figure(run_id, fig, figure_artifact_path(tag, epoch))

        return log_figure
    if callable(getattr(logger, "log_image", None)):

        def log_image(tag: str, fig: Figure, step: int, epoch: int | str) -> None:
            logger.log_image(key=tag, images=[fig], step=step)

        return log_image
    return None


def summary_writer_figures(writer: Any) -> FigureWriter:
    """How a TensorBoard ``SummaryWriter`` itself takes a figure: ``add_figure(tag, fig, global_step=step)``."""

    def add_figure(tag: str, fig: Figure, step: int, epoch: int | str) -> None:
        writer.add_figure(tag, fig, global_step=step, close=False)

    return add_figure


def figure_writers(trainer: Any) -> list[FigureWriter]:
    """The figure writers of ``trainer.loggers`` that take figures, in the loggers' order."""
    writers = (figure_writer(logger) for logger in getattr(trainer, "loggers", None) or [])
    return [writer for writer in writers if writer is not None]


__all__ = ["FigureWriter", "figure_artifact_path", "figure_writer", "figure_writers", "summary_writer_figures"]
