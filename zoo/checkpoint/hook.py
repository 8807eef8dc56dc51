"""CheckpointHook: resumes a run from its workdir and saves its train state.

It saves at the end of the first chunk past each multiple of
`config.checkpoint.every_steps`, every `every_epochs` epochs (periodic saves
at most once per `min_interval_s` seconds), at the end of training and,
when a stop signal arrived (see `signals.stop_on_signals`), at the next
chunk end before raising `signals.RunInterrupted`. A chunk that ends an
epoch is saved after the epoch's validation, so the checkpoint's history
holds that epoch. Nothing non-finite is ever saved. With several processes,
process 0 alone reads and writes checkpoints (process_sync.py).

Each checkpoint's meta holds, besides the config and the data facts, the
run's epoch history and its training time so far: a resumed run continues
both.
"""

import os
import time
from typing import Any, Optional

from absl import logging
import jax

from zoo import checkpoint
from zoo import errors
from zoo.checkpoint import process_sync
from zoo.config import resume_rules
from zoo.config import serialize
from zoo.config.spec import RunShape, RunSpec
from zoo.runtime import files
from zoo.runtime import parallel
from zoo.train import divergence
from zoo.train import hooks as hooks_lib
from zoo.train import loop
from zoo.train import signals
from zoo.train.build import Setup


def dataset_facts(dataset: Any, shape: RunShape) -> dict[str, Any]:
  """What a checkpoint records about its data (JSON values)."""
  return {"name": dataset.name, "input_shape": list(dataset.input_shape),
          "num_classes": dataset.num_classes,
          "class_names": list(dataset.class_names),
          "num_train_examples": len(dataset.train),
          "batch_size": shape.batch_size,
          "steps_per_epoch": shape.steps_per_epoch,
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

  def __init__(self, workdir: str, spec: RunSpec, read_only: bool = False):
    self.workdir, self.spec = workdir, spec
    self.checkpointer = checkpoint.Checkpointer(
        workdir, keep=spec.checkpoint.keep, read_only=read_only)
    self.last_saved: Optional[int] = None
    self._last_time = time.monotonic()
    self._due = False  # every_steps passed in the epoch's last chunk.

  def restore(self, setup: Setup) -> Optional[checkpoint.Restored]:
    """The latest usable checkpoint for `setup`, or None if there is none.

    Raises ConfigError if it was trained with an incompatible config. Every
    process gets process 0's result (the others with an empty `meta`).
    """
    fresh = checkpoint.host_copy(setup.state)
    facts = dataset_facts(setup.dataset, setup.shape)

    def make_like(meta: dict[str, Any]) -> Any:
      where = self.checkpointer.path(meta["step"])
      resume_rules.check_resumable(meta.get("config", {}), self.spec.config,
                                   where)
      check_dataset(meta.get("dataset", {}), facts, where)
      return fresh

    restored = process_sync.share_restored(
        lambda: self.checkpointer.restore_latest(make_like), fresh,
        self.checkpointer.directory)
    if restored is not None:
      self.last_saved = restored.step
    return restored

  def resume(self, setup: Setup) -> loop.Progress:
    """The run's progress: from the latest checkpoint if there is one (its
    state replicated into `setup.state`), else from `setup.state`.

    Also saves the config to WORKDIR/config.json.
    """
    restored = self.restore(setup)
    if files.is_writer():
      serialize.save(self.workdir, self.spec.config)
    if restored is None:
      return loop.start(setup)
    meta = restored.meta
    if meta:  # Process 0.
      self._log_changes(meta["config"])
    epoch, batch = divmod(restored.step, setup.steps_per_epoch)
    logging.info("resumed from step %d (epoch %d, batch %d of %d) from %s",
                 restored.step, epoch + 1, batch, setup.steps_per_epoch,
                 restored.path)
    if restored.step >= setup.steps_per_epoch * self.spec.train.num_epochs:
      logging.info("The run is complete: nothing left to train, evaluating. "
                   "Raise --config.train.num_epochs to train further.")
    setup.state = parallel.replicate(restored.state, setup.devices)
    return loop.start(setup, meta)

  def _log_changes(self, saved: dict[str, Any]) -> None:
    changed = resume_rules.changed_fields(saved, self.spec.config)
    if changed:
      logging.info("Config changes since that checkpoint (allowed): %s",
                   "; ".join(changed))
    saved_epochs = saved["train"]["num_epochs"]
    if (self.spec.optimizer.schedule == "cosine"
        and saved_epochs != self.spec.train.num_epochs):
      logging.warning("The cosine schedule now decays over %d epochs instead "
                      "of %d: the remaining steps follow the new schedule.",
                      self.spec.train.num_epochs, saved_epochs)

  def on_train_start(self, progress: loop.Progress) -> None:
    self._last_time = time.monotonic()
    self._due = False

  def on_chunk_end(self, progress: loop.Progress,
                   chunk: hooks_lib.Chunk) -> None:
    due = chunk.crossed(self.spec.checkpoint.every_steps)
    if chunk.ends_epoch:  # Saved or stopped after the epoch's validation.
      self._due = due
      return
    self._stop_if_requested(progress)
    if due:
      self._save_periodic(progress)

  def on_epoch_end(self, progress: loop.Progress,
                   epoch: hooks_lib.EpochSummary) -> None:
    self._stop_if_requested(progress)
    every_epochs = self.spec.checkpoint.every_epochs
    if progress.step >= progress.total_steps:
      self.save(progress)
    elif self._due or (every_epochs and epoch.epoch % every_epochs == 0):
      self._save_periodic(progress)
    self._due = False

  def _save_periodic(self, progress: loop.Progress) -> None:
    """An interval save, skipped if the last one is too recent (tiny epochs).

    Multi-process: only process 0 keeps time; the others never need to (they
    write nothing), so no process waits on a decision the others skip.
    """
    since = time.monotonic() - self._last_time
    if files.is_writer() and since >= self.spec.checkpoint.min_interval_s:
      self.save(progress)

  def _stop_if_requested(self, progress: loop.Progress) -> None:
    """After a stop signal: saves, then raises RunInterrupted. Every process
    reaches every chunk end, so all agree there and stop together."""
    signum = process_sync.agreed_stop(signals.stop_requested())
    if signum is None:
      return
    name = signals.signal_name(signum)
    step, total = progress.step, progress.total_steps
    logging.warning("%s received: saving a checkpoint at step %d.", name, step)
    path = self.save(progress)
    raise signals.RunInterrupted(
        f"Stopped by {name} at step {step}/{total}; the train state is saved "
        f"in {path}. Run the same command again (same "
        f"--workdir={self.workdir}) to resume from step {step}.",
        signum, step)

  def save(self, progress: loop.Progress) -> str:
    """Saves `progress.state` at `progress.step` (once); returns its path.

    Raises DivergedError, saving nothing, if the state holds NaN or Inf.
    """
    step = progress.step
    if self.last_saved == step:
      return self.checkpointer.path(step)
    flat = checkpoint.flatten_state(checkpoint.host_copy(progress.state))
    bad = divergence.first_nonfinite(flat)
    if bad is not None:
      raise divergence.DivergedError(divergence.diverged_message(
          progress, f"the train state holds NaN/Inf values ({bad})", step,
          progress.epoch, self.describe_last))
    path = self.checkpointer.path(step)
    if files.is_writer():
      t0 = time.perf_counter()
      with signals.protected():  # A second Ctrl-C waits for the whole save.
        self.checkpointer.save(step, flat, self._meta(progress))
      logging.info("Saved checkpoint %s in %.2f s", path,
                   time.perf_counter() - t0)
    self.last_saved = step
    self._last_time = time.monotonic()
    return path

  def _meta(self, progress: loop.Progress) -> dict[str, Any]:
    setup = progress.setup
    return {"config": self.spec.config,
            "dataset": dataset_facts(setup.dataset, setup.shape),
            "epoch": progress.step // setup.steps_per_epoch,
            "history": progress.history,
            "train_seconds": round(progress.train_seconds, 3),
            "seconds_to_first_step": progress.seconds_to_first_step,
            "num_devices": len(setup.devices),
            "platform": setup.devices[0].platform,
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
