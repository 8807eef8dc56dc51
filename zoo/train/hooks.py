"""Hooks: what happens around the steps (logging, and later checkpoints,
progress bars, metric files) without touching the loop itself.

The loop calls, on the host and in this order:
  on_train_start(run)                       once, before the first step
  after_step(run, step)                     after every step is dispatched
  on_epoch_end(run, epoch)                  after an epoch's last step
  on_train_end(run, results)                after the test evaluation
`run` (a `loop.RunContext`) holds the setup, the config, the current
(device-resident, replicated) state and the last step's metrics; at the end
also `run.test` (the test evaluation, with predictions). Hooks may add fields
to `results` in on_train_end: results.json is written after them.
"""

import time
from typing import Any

from absl import logging
import jax
import numpy as np


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


class LogHook(Hook):
  """Logs mean train loss, accuracy and examples/s every `every` steps."""

  def __init__(self, every: int, batch_size: int):
    self.every, self.batch_size = every, batch_size
    self._window: list[Any] = []
    self._t0 = time.perf_counter()
    self.last: dict[str, float] = {}

  def on_train_start(self, run: Any) -> None:
    self._window, self._t0 = [], time.perf_counter()

  def after_step(self, run: Any, step: int) -> None:
    self._window.append(run.metrics)
    if step % self.every and step != run.total_steps:
      return
    host = jax.device_get(self._window)  # Leaves [devices]; equal after pmean.
    self.last = {k: float(np.mean([m[k][0] for m in host])) for k in host[0]}
    rate = len(self._window) * self.batch_size / (time.perf_counter() - self._t0)
    self.last["examples_per_second"] = rate
    logging.info("step %d/%d  epoch %d/%d  loss %.4f  accuracy %.4f  "
                 "%.0f examples/s", step, run.total_steps, run.epoch + 1,
                 run.num_epochs, self.last["loss"], self.last["accuracy"], rate)
    self._window, self._t0 = [], time.perf_counter()
