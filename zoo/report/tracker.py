"""The run's metric records and log lines: one step record per logged chunk,
one epoch record per epoch.

Every record has the same keys (1-based `epoch`; `None` where a value does
not apply, e.g. validation in a step record):
  kind                   'step' or 'epoch'
  step, epoch            steps taken so far; the epoch they belong to
  train_loss, train_accuracy
                         means over the steps since the last step record
                         (step) or over the epoch (epoch)
  validation_loss, validation_accuracy
                         on the whole validation split (epoch records only)
  learning_rate          the rate of the last update (None if unknown)
  examples_per_second    training throughput over those steps: examples
                         over the chunks' own wall time
  elapsed_seconds        training time of the run so far; `wall_time`: Unix
                         time
  skipped_steps          steps since the last step record whose update was
                         skipped for non-finite gradients (float16 dynamic
                         loss scaling; else 0); step records only
  loss_scale             the loss scale after the record's last step (1
                         without loss scaling); step records only

An ensemble's records (K > 1 members, zoo/train/ensemble.py) hold means over
the members in the keys above and, in every record, one value per member,
in member order, in:
  member_train_loss, member_train_accuracy
  member_validation_loss, member_validation_accuracy   (epoch records)
  ensemble_validation_accuracy                         (epoch records: the
                         members' averaged probabilities)
"""

import time
from typing import Any, Callable, Optional

from absl import logging
import numpy as np

from zoo.train import hooks

LearningRateFn = Callable[[int], Optional[float]]  # update count -> rate.


class MetricsTracker(hooks.Hook):
  """Builds the records that the other report hooks read; put it before them.

  After each chunk, `step_record` is a new step record if the chunk passed a
  multiple of `log_every` steps or ended the run (each is also logged as a
  line), else None. After each epoch, `epoch_record` is that epoch's record.

  `log_steps=False` (a progress bar shows the steps) logs the step lines at
  DEBUG only (`--verbosity=1` shows them); metrics.jsonl keeps every record.
  """

  def __init__(self, log_every: int, batch_size: int,
               learning_rate_fn: LearningRateFn, log_steps: bool = True):
    self.log_every, self.batch_size = log_every, batch_size
    self.learning_rate_fn = learning_rate_fn
    self.log_steps = log_steps
    self.step_record: Optional[dict[str, Any]] = None
    self.epoch_record: Optional[dict[str, Any]] = None
    self._window: list[hooks.Chunk] = []

  def on_train_start(self, progress: Any) -> None:
    self._window, self.step_record, self.epoch_record = [], None, None

  def on_chunk_end(self, progress: Any, chunk: hooks.Chunk) -> None:
    self._window.append(chunk)
    self.step_record = None
    if not (chunk.crossed(self.log_every)
            or chunk.last_step == progress.total_steps):
      return
    self.step_record = self._step_record(progress, self._window)
    self._window = []
    _log_step(self.step_record, progress.total_steps, progress.num_epochs,
              logging.INFO if self.log_steps else logging.DEBUG)

  def on_epoch_end(self, progress: Any, epoch: hooks.EpochSummary) -> None:
    steps = progress.setup.steps_per_epoch
    self.epoch_record = {
        **_blank("epoch", progress.step, epoch.epoch,
                 _num_members(progress) > 1),
        "train_loss": epoch.train_loss,
        "train_accuracy": epoch.train_accuracy,
        "validation_loss": epoch.validation_loss,
        "validation_accuracy": epoch.validation_accuracy,
        "learning_rate": self.learning_rate_fn(progress.step - 1),
        "examples_per_second": steps * self.batch_size / max(epoch.seconds,
                                                             1e-9),
        "elapsed_seconds": round(progress.train_seconds, 3),
    }
    if _num_members(progress) > 1:
      self.epoch_record.update(
          member_train_loss=epoch.member_train_loss,
          member_train_accuracy=epoch.member_train_accuracy,
          member_validation_loss=epoch.member_validation_loss,
          member_validation_accuracy=epoch.member_validation_accuracy,
          ensemble_validation_accuracy=epoch.ensemble_validation_accuracy)
    _log_epoch(self.epoch_record, progress.num_epochs, progress.best_epoch())

  def _step_record(self, progress: Any,
                   chunks: list[hooks.Chunk]) -> dict[str, Any]:
    loss = np.concatenate([c.metrics["loss"] for c in chunks])
    accuracy = np.concatenate([c.metrics["accuracy"] for c in chunks])
    seconds = sum(c.seconds for c in chunks)
    skipped = [c.metrics["skipped"] for c in chunks if "skipped" in c.metrics]
    scale = chunks[-1].metrics.get("loss_scale")
    record = {
        **_blank("step", progress.step, chunks[-1].epoch + 1,
                 _num_members(progress) > 1),
        "train_loss": float(np.mean(loss)),
        "train_accuracy": float(np.mean(accuracy)),
        "learning_rate": self.learning_rate_fn(progress.step - 1),
        "examples_per_second": len(loss) * self.batch_size / max(seconds,
                                                                 1e-9),
        "elapsed_seconds": round(progress.train_seconds, 3),
        "skipped_steps": (int(np.sum(np.concatenate(skipped))) if skipped
                          else None),
        "loss_scale": float(scale[-1]) if scale is not None else None,
    }
    if _num_members(progress) > 1:  # [steps, K] -> K means.
      for name in ("loss", "accuracy"):
        per_member = np.concatenate([c.member_metrics[name] for c in chunks])
        record[f"member_train_{name}"] = per_member.mean(0).tolist()
    return record


def _num_members(progress: Any) -> int:
  return progress.setup.members.size


def _blank(kind: str, step: int, epoch: int,
           ensemble: bool = False) -> dict[str, Any]:
  """A record with every key, in order (an ensemble's with its own)."""
  record = {"kind": kind, "step": step, "epoch": epoch, "train_loss": None,
            "train_accuracy": None, "validation_loss": None,
            "validation_accuracy": None, "learning_rate": None,
            "examples_per_second": None, "elapsed_seconds": None,
            "wall_time": time.time(), "skipped_steps": None,
            "loss_scale": None}
  if ensemble:
    record.update(dict.fromkeys(ENSEMBLE_KEYS))
  return record


ENSEMBLE_KEYS = ("member_train_loss", "member_train_accuracy",
                 "member_validation_loss", "member_validation_accuracy",
                 "ensemble_validation_accuracy")


def _log_step(record: dict[str, Any], total_steps: int, num_epochs: int,
              level: int = logging.INFO) -> None:
  skipped = ""
  if record["skipped_steps"]:
    skipped = (f"  skipped {record['skipped_steps']} (non-finite gradients; "
               f"loss scale now {record['loss_scale']:g})")
  logging.log(level, "step %d/%d  epoch %d/%d  loss %.4f  accuracy %.4f  "
               "%.0f examples/s%s", record["step"], total_steps,
               record["epoch"], num_epochs, record["train_loss"],
               record["train_accuracy"], record["examples_per_second"],
               skipped)


def _log_epoch(record: dict[str, Any], num_epochs: int,
               best: Optional[dict[str, Any]]) -> None:
  line = (f"epoch {record['epoch']}/{num_epochs}  train loss "
          f"{record['train_loss']:.4f} accuracy {record['train_accuracy']:.4f}")
  if record["validation_accuracy"] is not None:
    line += (f"  validation loss {record['validation_loss']:.4f} accuracy "
             f"{record['validation_accuracy']:.4f} (best "
             f"{best['validation_accuracy']:.4f} at epoch {best['epoch']})")
  logging.info(line)
