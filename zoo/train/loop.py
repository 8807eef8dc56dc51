"""The training loop: epochs of chunks, validation at each epoch's end, the
test split at the end, with hooks around them (zoo/train/hooks.py).

    s = setup(spec)
    progress = train(s, hooks)   # progress.test: the test evaluation

A run resumed from a checkpoint starts at `s.state`'s step, with the
history and training time of its earlier pieces (`Progress.resumed`).
"""

import dataclasses
import time
from typing import Any, Optional, Sequence

from absl import logging
import jax
import numpy as np

from zoo.config.spec import RunSpec
from zoo.train import hooks as hooks_lib
from zoo.train.evaluation import evaluate
from zoo.train.build import Setup
from zoo.train.state import TrainState


@dataclasses.dataclass
class Progress:
  """Where the run is; what hooks see.

  Attributes:
    setup: the run's (`spec`: its config).
    state: the train state, replicated on the devices, at `step`.
    step: steps taken (all pieces of the run); epoch: the current epoch
      (0-based).
    history: one `EpochSummary.to_json()` per finished epoch, earlier
      pieces of a resumed run included (they come from its checkpoint).
    train_seconds_before: training time of the earlier pieces.
    files: outputs written by hooks, {name: path}, listed in results.json.
    started_at: `time.perf_counter()` when this piece of the run started
      (before its data loaded and its steps compiled).
    seconds_to_first_step: from `started_at` until this piece's first chunk
      finished (startup and compilation included); an earlier piece's until
      then (None for a new run).
    test: the test evaluation, set before on_train_end.
  """
  setup: Setup
  state: TrainState
  step: int
  epoch: int = 0
  history: list[dict[str, Any]] = dataclasses.field(default_factory=list)
  train_seconds_before: float = 0.0
  files: dict[str, str] = dataclasses.field(default_factory=dict)
  started_at: float = dataclasses.field(default_factory=time.perf_counter)
  seconds_to_first_step: Optional[float] = None
  test: Optional[dict[str, Any]] = None
  initial_step: int = 0  # The step this piece started at.
  # time.perf_counter() when this piece's training started and ended (its
  # last epoch's validation done); None before.
  training_started_at: Optional[float] = None
  training_ended_at: Optional[float] = None

  @property
  def total_steps(self) -> int:
    return self.setup.steps_per_epoch * self.num_epochs

  @property
  def spec(self) -> RunSpec:
    return self.setup.spec

  @property
  def num_epochs(self) -> int:
    return self.spec.train.num_epochs

  @property
  def train_seconds(self) -> float:
    """Training time of the whole run so far, over all its pieces
    (compilation and validation included, test evaluation excluded)."""
    if self.training_started_at is None:
      return self.train_seconds_before
    end = self.training_ended_at or time.perf_counter()
    return self.train_seconds_before + end - self.training_started_at

  def best_epoch(self) -> Optional[dict[str, Any]]:
    """The history entry of the best validation accuracy (earliest on ties),
    or None without validation."""
    scored = [h for h in self.history
              if h.get("validation_accuracy") is not None]
    if not scored:
      return None
    return max(scored, key=lambda h: (h["validation_accuracy"], -h["epoch"]))


def start(setup: Setup,
          earlier: Optional[dict[str, Any]] = None) -> Progress:
  """The progress of a run about to train from `setup.state`.

  `earlier`: what a checkpoint recorded of the run's earlier pieces
  (`history`, `train_seconds`, `seconds_to_first_step`), if resumed.
  """
  earlier = earlier or {}
  step = int(jax.device_get(setup.state.step)[0])  # Replicated: [devices].
  return Progress(setup=setup, state=setup.state, step=step,
                  initial_step=step, epoch=step // setup.steps_per_epoch,
                  history=[dict(h) for h in earlier.get("history", ())],
                  train_seconds_before=earlier.get("train_seconds", 0.0),
                  seconds_to_first_step=earlier.get("seconds_to_first_step"))


def train(setup: Setup, hooks: Sequence[hooks_lib.Hook] = (),
          progress: Optional[Progress] = None) -> Progress:
  """Trains from `progress` (default: `start(setup)`) to the last
  epoch, evaluating validation after each epoch and test at the end.

  Every hook's `close()` runs at the end, whether training finished, failed
  or stopped on a signal (then a failing close() is logged, and the error
  that stopped the run is the one raised).
  """
  progress = progress or start(setup)
  num_epochs = setup.spec.train.num_epochs
  try:
    for hook in hooks:
      hook.on_train_start(progress)
    progress.training_started_at = time.perf_counter()
    first_epoch, first_batch = divmod(progress.step, setup.steps_per_epoch)
    if first_epoch >= num_epochs:  # Finished: nothing to add.
      progress.training_ended_at = progress.training_started_at
    for epoch in range(first_epoch, num_epochs):
      progress.epoch = epoch
      _train_epoch(progress, hooks, first_batch if epoch == first_epoch else 0)
    progress.state = jax.block_until_ready(progress.state)
    progress.test = evaluate(setup, progress.state, setup.dataset.test,
                             setup.spec.train.eval_batch_size, "test")
    for hook in hooks:
      hook.on_train_end(progress, progress.test)
  except BaseException:
    close_all(hooks, raise_failure=False)  # The first error stays the one.
    raise
  close_all(hooks)
  return progress


def close_all(hooks: Sequence[hooks_lib.Hook],
              raise_failure: bool = True) -> None:
  """Calls every hook's close(), even if one of them fails; the first
  failure is then raised (or, with `raise_failure=False`, logged)."""
  failure = None
  for hook in hooks:
    try:
      hook.close()
    except Exception as e:  # pylint: disable=broad-except
      logging.warning("%s.close() failed: %s: %s", type(hook).__name__,
                      type(e).__name__, e)
      failure = failure or e
  if failure is not None and raise_failure:
    raise failure


def _over_members(name: str, values: np.ndarray) -> np.ndarray:
  """A chunk metric `[steps, K]` over the members: the mean, except
  'skipped' (float16 steps skipped), which counts member-steps."""
  return values.sum(axis=-1) if name == "skipped" else values.mean(axis=-1)


def _train_epoch(progress: Progress, hooks: Sequence[hooks_lib.Hook],
                 start_batch: int) -> None:
  """Batches `start_batch ..` of `progress.epoch`, chunk by chunk, then the
  epoch's validation and summary."""
  setup = progress.setup
  runner = setup.chunk_runner
  t_epoch = time.perf_counter()
  sums, steps = np.zeros(2), 0
  member_sums = np.zeros((2, setup.members.size))
  batch = start_batch
  first_chunk = progress.step == progress.initial_step
  for size in runner.chunk_sizes(start_batch):
    t0 = time.perf_counter()
    progress.state, metrics = runner.run(progress.state, progress.epoch,
                                         batch, size)
    # The chunk's only fetch: [devices, size, members].
    host = {k: np.asarray(v[0]) for k, v in jax.device_get(metrics).items()}
    chunk = hooks_lib.Chunk(
        first_step=progress.step, last_step=progress.step + size,
        epoch=progress.epoch,
        metrics={k: _over_members(k, v) for k, v in host.items()},
        seconds=time.perf_counter() - t0,
        ends_epoch=batch + size == setup.steps_per_epoch,
        member_metrics=host)
    batch += size
    progress.step += size
    if first_chunk:
      first_chunk = False
      progress.seconds_to_first_step = time.perf_counter() - progress.started_at
    sums += (chunk.metrics["loss"].sum(), chunk.metrics["accuracy"].sum())
    member_sums += (host["loss"].sum(0), host["accuracy"].sum(0))
    steps += size
    for hook in hooks:
      hook.on_chunk_end(progress, chunk)
  seconds = time.perf_counter() - t_epoch
  validation = setup.dataset.validation
  val = (evaluate(setup, progress.state, validation,
                  progress.spec.train.eval_batch_size, "validation")
         if validation is not None else {})
  summary = hooks_lib.EpochSummary(
      epoch=progress.epoch + 1, step=progress.step,
      train_loss=float(sums[0] / max(steps, 1)),
      train_accuracy=float(sums[1] / max(steps, 1)),
      validation_loss=val.get("loss"), validation_accuracy=val.get("accuracy"),
      seconds=seconds,
      member_train_loss=(member_sums[0] / max(steps, 1)).tolist(),
      member_train_accuracy=(member_sums[1] / max(steps, 1)).tolist(),
      member_validation_loss=val.get("member_loss"),
      member_validation_accuracy=val.get("member_accuracy"),
      ensemble_validation_accuracy=val.get("ensemble_accuracy"))
  progress.history.append(summary.to_json())
  if progress.step >= progress.total_steps:  # The final checkpoint's time.
    progress.training_ended_at = time.perf_counter()
  for hook in hooks:
    hook.on_epoch_end(progress, summary)
