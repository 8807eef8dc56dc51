"""The run's metric records: per logged step and per epoch, with the
validation split evaluated at the end of every epoch.

Every record has the same keys (1-based `epoch`; `None` where a value does
not apply, e.g. validation in a step record):
  kind                   'step' or 'epoch'
  step, epoch            steps taken so far; the epoch they belong to
  train_loss, train_accuracy
                         means over the logged window (step) or the epoch
  validation_loss, validation_accuracy
                         on the whole validation split (epoch records only)
  learning_rate          the rate of the last update (None if unknown)
  examples_per_second    training throughput over the window / epoch
  elapsed_seconds        since training started; `wall_time`: Unix time
"""

import time
from typing import Any, Callable, Optional

from absl import logging
import jax
import numpy as np

from zoo.train import hooks

EvaluateFn = Callable[[Any, Any], dict[str, Any]]  # (run, split) -> metrics.
LearningRateFn = Callable[[int], Optional[float]]  # update count -> rate.


class MetricsTracker(hooks.Hook):
  """Builds the records that the other report hooks read; put it before them.

  After each step `step_record` is the new step record on logged steps (every
  `log_every` steps and the last step, each also logged as a line) and None
  otherwise. After each epoch
  `epoch_record` is that epoch's record; `history` lists every epoch record;
  `best_epoch` / `best_accuracy` track the best validation accuracy so far
  (the earliest epoch wins ties) and stay None without a validation split.
  """

  def __init__(self, evaluate_fn: EvaluateFn, log_every: int,
               batch_size: int, learning_rate_fn: LearningRateFn):
    self.evaluate_fn, self.log_every = evaluate_fn, log_every
    self.batch_size, self.learning_rate_fn = batch_size, learning_rate_fn
    self.step_record: Optional[dict[str, Any]] = None
    self.epoch_record: Optional[dict[str, Any]] = None
    self.history: list[dict[str, Any]] = []
    self.last_step_record: Optional[dict[str, Any]] = None
    self.best_epoch: Optional[int] = None
    self.best_accuracy: Optional[float] = None

  def on_train_start(self, run: Any) -> None:
    self._t0 = self._t_window = self._t_epoch = time.perf_counter()
    self._window, self._epoch = [], []
    self.history, self.best_epoch, self.best_accuracy = [], None, None

  def resume(self, records: list[dict[str, Any]]) -> None:
    """Continues a resumed run from the step and epoch `records` that an
    earlier run wrote up to its checkpoint (oldest first). Call after
    on_train_start."""
    for record in records:
      if record["kind"] == "step":
        self.last_step_record = record
      elif record["kind"] == "epoch":
        self.history.append(record)
        accuracy = record.get("validation_accuracy")
        if accuracy is not None and (self.best_accuracy is None
                                     or accuracy > self.best_accuracy):
          self.best_epoch, self.best_accuracy = record["epoch"], accuracy

  def after_step(self, run: Any, step: int) -> None:
    self._window.append(run.metrics)
    self._epoch.append(run.metrics)
    self.step_record = None
    if step % self.log_every and step != run.total_steps:
      return
    # Chunked steps reach the hooks in bursts: use the loop's step time.
    now = getattr(run, "step_time", None) or time.perf_counter()
    self.step_record = self._record("step", run, self._window,
                                    now - self._t_window)
    self._window, self._t_window = [], now
    self.last_step_record = self.step_record
    _log_step(self.step_record, run.total_steps, run.num_epochs)

  def on_epoch_end(self, run: Any, epoch: int) -> None:
    record = self._record("epoch", run, self._epoch,
                          time.perf_counter() - self._t_epoch)
    t_val = time.perf_counter()
    validation = run.setup.dataset.validation
    if validation is not None:
      metrics = self.evaluate_fn(run, validation)
      record["validation_loss"] = metrics["loss"]
      record["validation_accuracy"] = metrics["accuracy"]
      if self.best_accuracy is None or metrics["accuracy"] > self.best_accuracy:
        self.best_epoch, self.best_accuracy = epoch + 1, metrics["accuracy"]
    val_seconds = time.perf_counter() - t_val
    self._t_window += val_seconds  # Throughput counts training time only.
    self._epoch, self._t_epoch = [], time.perf_counter()
    self.epoch_record = record
    self.history.append(record)
    _log_epoch(record, run.num_epochs, self.best_epoch, self.best_accuracy)

  def on_train_end(self, run: Any, results: dict[str, Any]) -> None:
    last = self.history[-1] if self.history else {}
    last_step = self.last_step_record or {}
    results["final_train_loss"] = last_step.get("train_loss")
    results["final_train_accuracy"] = last_step.get("train_accuracy")
    results["best_validation_accuracy"] = self.best_accuracy
    results["best_validation_epoch"] = self.best_epoch
    results["final_validation_accuracy"] = last.get("validation_accuracy")
    results["final_validation_loss"] = last.get("validation_loss")

  def _record(self, kind: str, run: Any, metrics: list[Any],
              seconds: float) -> dict[str, Any]:
    host = jax.device_get(metrics)  # Leaves [devices]; equal after pmean.
    mean = {k: float(np.mean([m[k][0] for m in host])) for k in host[0]}
    return {
        "kind": kind, "step": run.step, "epoch": run.epoch + 1,
        "train_loss": mean["loss"], "train_accuracy": mean["accuracy"],
        "validation_loss": None, "validation_accuracy": None,
        "learning_rate": self.learning_rate_fn(run.step - 1),
        "examples_per_second": len(metrics) * self.batch_size / max(
            seconds, 1e-9),
        "elapsed_seconds": round(time.perf_counter() - self._t0, 3),
        "wall_time": time.time(),
    }


def _log_step(record: dict[str, Any], total_steps: int,
              num_epochs: int) -> None:
  logging.info("step %d/%d  epoch %d/%d  loss %.4f  accuracy %.4f  "
               "%.0f examples/s", record["step"], total_steps, record["epoch"],
               num_epochs, record["train_loss"], record["train_accuracy"],
               record["examples_per_second"])


def _log_epoch(record: dict[str, Any], num_epochs: int,
               best_epoch: Optional[int], best: Optional[float]) -> None:
  line = (f"epoch {record['epoch']}/{num_epochs}  train loss "
          f"{record['train_loss']:.4f} accuracy {record['train_accuracy']:.4f}")
  if record["validation_accuracy"] is not None:
    line += (f"  validation loss {record['validation_loss']:.4f} accuracy "
             f"{record['validation_accuracy']:.4f} (best {best:.4f} at epoch "
             f"{best_epoch})")
  logging.info(line)
