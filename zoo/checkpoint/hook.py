"""CheckpointHook: resumes a run from its workdir and saves its train state.

It saves every `config.checkpoint.every_steps` steps (with steps_per_call >
1: at the first chunk end at or after each multiple) and every `every_epochs`
epochs (but at most once per `min_interval_s` seconds), at the end of
training and, when a stop signal arrived (see `signals.stop_on_signals`), at
the next step boundary before raising `signals.RunInterrupted`. Nothing
non-finite is ever saved. With several processes, process 0 alone reads and
writes checkpoints (process_sync.py).
"""

import os
import time
from typing import Any, Optional

from absl import logging
import jax
import ml_collections

from zoo import checkpoint
from zoo.config import resume_rules
from zoo import errors
from zoo.runtime import parallel
from zoo.train import hooks as hooks_lib
from zoo.checkpoint import process_sync
from zoo.train import signals
from zoo.train.state import TrainState


def check_config(cfg: ml_collections.ConfigDict) -> None:
  """Raises ConfigError unless `config.checkpoint` holds usable values."""
  for field, low in (("every_steps", 0), ("every_epochs", 0), ("keep", 1)):
    value = cfg.get(field)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
      raise errors.ConfigError(
          f"config.checkpoint.{field}={value!r} is invalid: it must be an "
          f"integer >= {low}. Fix it with --config.checkpoint.{field}=<value>.")
  value = cfg.get("min_interval_s")
  if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
      0 <= value < float("inf")):
    raise errors.ConfigError(
        f"config.checkpoint.min_interval_s={value!r} is invalid: it must be a "
        "number of seconds >= 0. Fix it with "
        "--config.checkpoint.min_interval_s=<value>.")


def dataset_facts(dataset: Any, steps_per_epoch: int) -> dict[str, Any]:
  """What a checkpoint records about its data (JSON values)."""
  return {"name": dataset.name, "input_shape": list(dataset.input_shape),
          "num_classes": dataset.num_classes,
          "class_names": list(dataset.class_names),
          "num_train_examples": len(dataset.train),
          "steps_per_epoch": steps_per_epoch,
          "preprocessing": dataset.preprocessing}


def check_dataset(saved: dict[str, Any], now: dict[str, Any],
                  where: str) -> None:
  """ConfigError if the data differs from the data the checkpoint saw."""
  keys = ("name", "input_shape", "num_classes", "num_train_examples")
  diffs = [f"{k}: {saved.get(k)!r} -> {now[k]!r}" for k in keys
           if saved.get(k) != now[k]]
  if diffs:
    raise errors.ConfigError(
        f"The checkpoint {where} was trained on other data; the dataset "
        f"differs (checkpoint -> now): {'; '.join(diffs)}. Point the config "
        "at the same data (config.data.*) or use another --workdir.")


class CheckpointHook(hooks_lib.Hook):
  """Resumes from and saves to WORKDIR/checkpoints."""

  def __init__(self, workdir: str, config: ml_collections.ConfigDict,
               guard: Optional[signals.NonFiniteGuard] = None,
               read_only: bool = False):
    check_config(config.checkpoint)
    self.workdir, self.config, self.guard = workdir, config, guard
    self.checkpointer = checkpoint.Checkpointer(
        workdir, keep=config.checkpoint.keep, read_only=read_only)
    self.last_saved: Optional[int] = None
    self._last_time = time.monotonic()
    self._period = 0  # See _step_period.
    if guard is not None:
      guard.describe_checkpoint = self.describe_last

  def restore(self, s: Any) -> Optional[checkpoint.Restored]:
    """The latest usable checkpoint for setup `s`, or None if there is none.

    Raises ConfigError if it was trained with an incompatible config. Every
    process gets process 0's result (the others with an empty `meta`).
    """
    fresh = checkpoint.host_copy(s.state)
    facts = dataset_facts(s.dataset, s.steps_per_epoch)

    def make_like(meta: dict[str, Any]) -> TrainState:
      where = self.checkpointer.path(meta["step"])
      resume_rules.check_resumable(meta.get("config", {}), self.config, where)
      check_dataset(meta.get("dataset", {}), facts, where)
      return fresh

    restored = process_sync.share_restored(
        lambda: self.checkpointer.restore_latest(make_like), fresh,
        self.checkpointer.directory)
    if restored is not None:
      self.last_saved = restored.step
    return restored

  def resume(self, s: Any) -> TrainState:
    """Setup `s`'s state, replaced by the latest checkpoint's if any.

    Also saves the config to WORKDIR/config.json.
    """
    restored = self.restore(s)
    if process_sync.is_writer():
      resume_rules.save(self.workdir, self.config)
    if restored is None:
      return s.state
    if restored.meta:  # Process 0.
      self._log_changes(restored.meta["config"])
    epoch, batch = divmod(restored.step, s.steps_per_epoch)
    logging.info("resumed from step %d (epoch %d, batch %d of %d) from %s",
                 restored.step, epoch + 1, batch, s.steps_per_epoch,
                 restored.path)
    if restored.step >= s.steps_per_epoch * self.config.train.num_epochs:
      logging.info("The run is complete: nothing left to train, evaluating. "
                   "Raise --config.train.num_epochs to train further.")
    return parallel.replicate(restored.state, s.devices)

  def _log_changes(self, saved: dict[str, Any]) -> None:
    changed = resume_rules.changed_fields(saved, self.config)
    if changed:
      logging.info("Config changes since that checkpoint (allowed): %s",
                   "; ".join(changed))
    saved_epochs = saved["train"]["num_epochs"]
    if (self.config.optimizer.schedule == "cosine"
        and saved_epochs != self.config.train.num_epochs):
      logging.warning("The cosine schedule now decays over %d epochs instead "
                      "of %d: the remaining steps follow the new schedule.",
                      self.config.train.num_epochs, saved_epochs)

  def on_train_start(self, run: Any) -> None:
    self._last_time = time.monotonic()
    self._period = self._step_period(run.step)

  def after_step(self, run: Any, step: int) -> None:
    # A step that ends an epoch is saved in on_epoch_end, after the other
    # hooks' epoch-end work (validation, metric records), which a checkpoint
    # at that step must not skip. Inside a chunk (steps_per_call > 1) the
    # state is already the chunk's last step's: only that step can be saved.
    if step % run.setup.steps_per_epoch == 0 or step != run.state_step:
      return
    chunked = run.setup.chunk_runner is not None  # Chunk ends: all processes
    sync = chunked or step % run.config.train.log_every_steps == 0  # see them.
    self._stop_if_requested(run, sync)
    if self._step_period(step) > self._period:
      self._period = self._step_period(step)
      self._save_periodic(run)

  def on_epoch_end(self, run: Any, epoch: int) -> None:
    self._stop_if_requested(run, True)
    every_epochs = self.config.checkpoint.every_epochs
    due = self._step_period(run.step) > self._period  # every_steps passed.
    self._period = self._step_period(run.step)
    if run.step >= run.total_steps:
      self.save(run)
    elif due or (every_epochs and (epoch + 1) % every_epochs == 0):
      self._save_periodic(run)

  def _step_period(self, step: int) -> int:
    """How many multiples of checkpoint.every_steps `step` has passed.

    A save is due at the first state-current step of a new period: the
    multiple itself with one step per call, else the chunk end after it.
    """
    every = self.config.checkpoint.every_steps
    return step // every if every else 0

  def _save_periodic(self, run: Any) -> None:
    """An interval save, skipped if the last one is too recent (tiny epochs).

    Multi-process: only process 0 keeps time; the others never need to (they
    write nothing), so no process waits on a decision the others skip.
    """
    since = time.monotonic() - self._last_time
    if (process_sync.is_writer()
        and since >= self.config.checkpoint.min_interval_s):
      self.save(run)

  def _stop_if_requested(self, run: Any, sync: bool) -> None:
    """After a stop signal: saves, then raises RunInterrupted.

    With several processes, they agree on stopping at `sync` steps only
    (those where the metrics are fetched anyway), so all stop together.
    """
    signum = process_sync.agreed_stop(signals.stop_requested(), sync)
    if signum is None:
      return
    name = signals.signal_name(signum)
    logging.warning("%s received: saving a checkpoint at step %d.", name,
                    run.step)
    path = self.save(run)
    raise signals.RunInterrupted(
        f"Stopped by {name} at step {run.step}/{run.total_steps}; the train "
        f"state is saved in {path}. Run the same command again (same "
        f"--workdir={self.workdir}) to resume from step {run.step}.",
        signum, run.step)

  def save(self, run: Any) -> str:
    """Saves `run.state` at `run.step` (once); returns the checkpoint path."""
    if self.last_saved == run.step:
      return self.checkpointer.path(run.step)
    if self.guard is not None:
      self.guard.flush(run)  # A step with a NaN loss must not be saved.
    flat = checkpoint.flatten_state(checkpoint.host_copy(run.state))
    bad = signals.first_nonfinite(flat)
    if bad is not None:
      raise signals.DivergedError(signals.diverged_message(
          run, f"the train state holds NaN/Inf values ({bad})", run.step,
          run.epoch, self.describe_last))
    path = self.checkpointer.path(run.step)
    if process_sync.is_writer():
      t0 = time.perf_counter()
      self.checkpointer.save(run.step, flat, self._meta(run))
      logging.info("Saved checkpoint %s in %.2f s", path,
                   time.perf_counter() - t0)
    self.last_saved = run.step
    self._last_time = time.monotonic()
    return path

  def _meta(self, run: Any) -> dict[str, Any]:
    devices = run.setup.devices
    return {"config": resume_rules.to_jsonable(self.config),
            "dataset": dataset_facts(run.setup.dataset,
                                     run.setup.steps_per_epoch),
            "epoch": run.step // run.setup.steps_per_epoch,
            "num_devices": len(devices), "platform": devices[0].platform,
            "jax_version": jax.__version__,
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}

  def describe_last(self) -> str:
    if self.last_saved is None:
      return "No checkpoint had been saved yet. "
    return (f"The last good checkpoint (step {self.last_saved}, "
            f"{self.checkpointer.path(self.last_saved)}) is kept; nothing "
            "later was saved. ")

  def close(self) -> None:
    self.checkpointer.close()


def latest_step(workdir: str) -> Optional[int]:
  """The newest whole checkpoint's step in `workdir`, or None."""
  if not os.path.isdir(checkpoint.checkpoint_dir(workdir)):
    return None
  steps = checkpoint.Checkpointer(workdir, read_only=True).steps()
  return steps[-1] if steps else None
