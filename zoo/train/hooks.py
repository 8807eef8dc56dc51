"""Hooks: what happens around the chunks of train steps (log lines, progress
bars, metric files, plots, checkpoints) without touching the loop itself.

The loop (zoo/train/loop.py) calls, on the host and in this order:
  on_train_start(progress)          once, before the first chunk
  on_chunk_end(progress, chunk)     after every chunk of steps, with
                                    `progress.state` at the chunk's end
  on_epoch_end(progress, epoch)     after an epoch's last chunk and its
                                    validation (`epoch`: an `EpochSummary`)
  on_train_end(progress, test)      after the test evaluation
  close()                           always, last: after on_train_end, or
                                    after an error or a stop signal
Hooks never evaluate: the loop does, and hands them the numbers. A hook that
writes a file at the end names it in `progress.files` (results.json lists
them).

In a multi-process run (zoo/runtime/distributed.py) every process runs every
hook, since orbax checkpoints need all processes; hooks that write files do
so only where `zoo.runtime.files.is_writer()`.
"""

import dataclasses
from typing import Any, Optional

import numpy as np


def crossed(before: int, after: int, every: int) -> bool:
  """Whether going from step `before` to step `after` passed a multiple of
  `every` (`every` <= 0: never). A periodic action (a log line every N
  steps, a checkpoint every N steps) is due at the end of such a chunk."""
  return every > 0 and before // every < after // every


@dataclasses.dataclass(frozen=True)
class Chunk:
  """One compiled call's steps, seen from the host once they are done.

  Attributes:
    first_step: steps taken before the chunk (the state's step at its start).
    last_step: steps taken after it (the state's step now).
    epoch: the 0-based epoch the chunk belongs to (chunks never cross one).
    metrics: per-step metrics, each `[num_steps]` (host arrays; equal on
      every device after the step's pmean, so device 0's): the mean over
      the ensemble's members (a single run's own).
    seconds: wall time from dispatching the chunk to its metrics on the host.
    ends_epoch: whether the chunk's last step is its epoch's last.
    member_metrics: the same per member, each `[num_steps, K]` (None where
      a caller made a Chunk without them).
  """
  first_step: int
  last_step: int
  epoch: int
  metrics: dict[str, np.ndarray]
  seconds: float
  ends_epoch: bool
  member_metrics: Optional[dict[str, np.ndarray]] = None

  @property
  def num_steps(self) -> int:
    return self.last_step - self.first_step

  def crossed(self, every: int) -> bool:
    """Whether this chunk passed a multiple of `every` steps."""
    return crossed(self.first_step, self.last_step, every)


@dataclasses.dataclass(frozen=True)
class EpochSummary:
  """One epoch's numbers, as the loop records them in `progress.history`.

  `epoch` is 1-based; the train means cover the epoch's steps run in this
  piece of the run (after a resume mid-epoch, the steps since). The
  validation fields are None without a validation split. The plain fields
  are means over the ensemble's members (a single run's own); the `member_`
  lists hold one value per member, `ensemble_validation_accuracy` that of
  the averaged probabilities.
  """
  epoch: int
  step: int
  train_loss: float
  train_accuracy: float
  validation_loss: Optional[float]
  validation_accuracy: Optional[float]
  seconds: float  # Training time of the epoch (validation excluded).
  member_train_loss: Optional[list[float]] = None
  member_train_accuracy: Optional[list[float]] = None
  member_validation_loss: Optional[list[float]] = None
  member_validation_accuracy: Optional[list[float]] = None
  ensemble_validation_accuracy: Optional[float] = None

  def to_json(self) -> dict[str, Any]:
    return dataclasses.asdict(self)


class Hook:
  """Base class: every method does nothing; override those you need."""

  def on_train_start(self, progress: Any) -> None:
    pass

  def on_chunk_end(self, progress: Any, chunk: Chunk) -> None:
    pass

  def on_epoch_end(self, progress: Any, epoch: EpochSummary) -> None:
    pass

  def on_train_end(self, progress: Any, test: dict[str, Any]) -> None:
    pass

  def close(self) -> None:
    """Releases what the hook holds (files, the checkpointer, streams)."""
