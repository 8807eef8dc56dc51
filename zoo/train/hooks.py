"""Hooks: what happens around the steps (log lines, progress bars, metric
files, plots, checkpoints) without touching the loop itself; see zoo/report/.

The loop calls, on the host and in this order:
  on_train_start(run)                       once, before the first step
  after_step(run, step)                     after every step is dispatched
  on_epoch_end(run, epoch)                  after an epoch's last step
  on_train_end(run, results)                after the test evaluation
`run` (a `loop.RunContext`) holds the setup, the config, the current
(device-resident, replicated) state and the last step's metrics; at the end
also `run.test` (the test evaluation, with predictions). Hooks may add fields
to `results` in on_train_end: results.json is written after them.

In a multi-process run (zoo/distributed.py) every process runs every hook,
since evaluations (and orbax checkpoints) need all processes; hooks that
write files do so only where `zoo.report.is_writer()`.
"""

from typing import Any


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
