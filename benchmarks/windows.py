"""The timing protocol shared by the reference loops (no JAX/torch import).

Warm-up: the first epoch and `warmup_s` seconds after the first step. Then
windows of >= `window_s` seconds, each ending with `sync()` (wait for the
device); the result is the median window's examples/s. The zoo's own loop
uses it too, through the hook timing.WindowTimer.
"""

import statistics
import time
from typing import Callable


class Windows:
  """Call `tick(step, epoch_done)` after each step; it returns True when done."""

  def __init__(self, windows: int, window_s: float, warmup_s: float,
               batch: int, sync: Callable[[], None]):
    self.windows, self.window_s, self.warmup_s = windows, window_s, warmup_s
    self.batch, self.sync = batch, sync
    self.t_start = time.perf_counter()
    self.first_step_s = None
    self.rates: list[float] = []
    self._t_first = None
    self._warm = False
    self._mark = None

  def tick(self, step: int, epoch_done: bool = False) -> bool:
    if self.first_step_s is None:
      self.sync()
      self._t_first = time.perf_counter()
      self.first_step_s = self._t_first - self.t_start
    self._warm = self._warm or epoch_done
    now = time.perf_counter()
    if not self._warm or now - self._t_first < self.warmup_s:
      return False
    if self._mark is None:
      self.sync()
      self._mark = (time.perf_counter(), step)
      return False
    if now - self._mark[0] < self.window_s:
      return False
    self.sync()
    now = time.perf_counter()
    self.rates.append((step - self._mark[1]) * self.batch / (now - self._mark[0]))
    self._mark = (now, step)
    return len(self.rates) >= self.windows

  @property
  def median(self) -> float:
    return statistics.median(self.rates)
