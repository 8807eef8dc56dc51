"""Stopping a run whose loss or state becomes NaN or infinite."""

from typing import Any, Callable, Optional

import numpy as np

from zoo import errors
from zoo.train import hooks as hooks_lib


class DivergedError(errors.ZooError):
  """The loss or the parameters became NaN or infinite."""


class NonFiniteGuard(hooks_lib.Hook):
  """Raises DivergedError at the end of the first chunk whose loss is NaN or
  infinite at any step, naming that step; put it before the hooks that save.

  `describe_checkpoint()` (optional) says which checkpoint is kept; it is
  appended to the error message.
  """

  def __init__(self,
               describe_checkpoint: Optional[Callable[[], str]] = None):
    self.describe_checkpoint = describe_checkpoint

  def on_chunk_end(self, progress: Any, chunk: hooks_lib.Chunk) -> None:
    loss = chunk.metrics["loss"]
    bad = np.flatnonzero(~np.isfinite(loss))
    if bad.size:
      raise DivergedError(diverged_message(
          progress, f"the training loss is {loss[bad[0]]}",
          chunk.first_step + int(bad[0]) + 1, chunk.epoch,
          self.describe_checkpoint))


def diverged_message(progress: Any, what: str, step: int, epoch: int,
                     describe_checkpoint: Optional[Callable[[], str]] = None
                     ) -> str:
  """`Training diverged at step ...`, what was found, and the fix."""
  lr = progress.spec.optimizer.learning_rate
  kept = describe_checkpoint() if describe_checkpoint else ""
  return (f"Training diverged at step {step} (epoch {epoch + 1}/"
          f"{progress.num_epochs}): {what}, so the run stopped. {kept}Lower "
          f"--config.optimizer.learning_rate (now {lr}) or check the data "
          "for NaN/Inf values.")


def first_nonfinite(flat: dict[str, np.ndarray]) -> Optional[str]:
  """The path of the first float array in `flat` holding NaN/Inf, if any."""
  for name, a in flat.items():
    if np.issubdtype(a.dtype, np.floating) and not np.all(np.isfinite(a)):
      return name
  return None
