"""Hooks: what happens around the steps (log lines, progress bars, metric
files, plots, checkpoints) without touching the loop itself; see zoo/report/.

The loop calls, on the host and in this order:
  on_train_start(run)                       once, before the first step
  after_step(run, step)                     after every step: dispatched
                                            (steps_per_call = 1), or done,
                                            for each step of a finished chunk
  on_epoch_end(run, epoch)                  after an epoch's last step
  on_train_end(run, results)                after the test evaluation
`run` (a `loop.RunContext`) holds the setup, the config, the current
(device-resident, replicated) state, the step it is at (`run.state_step`:
with steps_per_call > 1 only at a chunk's last step does it equal `step`)
and the step's metrics; at the end
also `run.test` (the test evaluation, with predictions). Hooks may add fields
to `results` in on_train_end: results.json is written after them.

In a multi-process run (zoo/distributed.py) every process runs every hook,
since evaluations (and orbax checkpoints) need all processes; hooks that
write files do so only where `zoo.report.is_writer()`.
"""

import time
from typing import Any, Optional

import jax


class Hook:
  """Base class: every method does nothing; override those you need."""

  def on_train_start(self, run: Any) -> None:
    pass

  def after_step(self, run: Any, step: int) -> None:
    pass

  def on_epoch_end(self, run: Any, epoch: int) -> None:
    pass

  def on_train_end(self, run: Any, results: dict[str, Any]) -> None:
    pass


class FirstStepTimer(Hook):
  """Seconds from `t0` (a `time.perf_counter()` value, e.g. the start of the
  run) until the first train step has finished: startup, compile included.

  Waits for the devices once, at the first step whose state is current.
  """

  def __init__(self, t0: float):
    self.t0 = t0
    self.seconds: Optional[float] = None

  def after_step(self, run: Any, step: int) -> None:
    if self.seconds is None and step == run.state_step:
      jax.block_until_ready(run.state)
      self.seconds = time.perf_counter() - self.t0
