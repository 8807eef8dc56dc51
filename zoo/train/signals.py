"""Stopping a run safely: on Ctrl-C / SIGTERM, and when the loss diverges.

Signals only set a flag (`stop_requested()`); the CheckpointHook acts on it
at the next step boundary (saves, then raises `RunInterrupted`). The first
signal restores the previous handlers, so a second Ctrl-C stops at once.

`NonFiniteGuard` checks each step's loss once that step has completed: the
loop already waits for the step `max_steps_in_flight` behind the newest one,
so reading that step's loss costs a tiny copy and never a device sync. A
diverged run stops at most that many steps late; checkpoints call `flush()`
first, so a bad state is never saved.
"""

import collections
import contextlib
import signal
import threading
from typing import Any, Iterator, Optional

import jax
import numpy as np

from zoo import errors
from zoo.runtime import parallel
from zoo.train import hooks as hooks_lib

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_requested: list[int] = []  # The signal numbers received, if any.


class RunInterrupted(errors.ZooError):
  """The run stopped on a signal after saving a checkpoint."""

  def __init__(self, message: str, signum: int, step: int):
    super().__init__(message)
    self.signum, self.step = signum, step


class DivergedError(errors.ZooError):
  """The loss or the parameters became NaN or infinite."""


def stop_requested() -> Optional[int]:
  """The number of the stop signal received, or None."""
  return _requested[0] if _requested else None


def request_stop(signum: int = signal.SIGTERM) -> None:
  """What the signal handler does; also callable directly (e.g. in tests)."""
  if not _requested:
    _requested.append(signum)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
  """While active, SIGINT/SIGTERM request a stop at the next step boundary."""
  if threading.current_thread() is not threading.main_thread():
    yield  # Signal handlers can only be set from the main thread.
    return
  previous = {s: signal.getsignal(s) for s in STOP_SIGNALS}

  def handler(signum, frame):  # pylint: disable=unused-argument
    request_stop(signum)
    for s, h in previous.items():  # A second signal acts at once.
      signal.signal(s, h)

  _requested.clear()
  for s in STOP_SIGNALS:
    signal.signal(s, handler)
  try:
    yield
  finally:
    for s, h in previous.items():
      signal.signal(s, h)
    _requested.clear()


def signal_name(signum: int) -> str:
  try:
    return signal.Signals(signum).name
  except ValueError:
    return f"signal {signum}"


class NonFiniteGuard(hooks_lib.Hook):
  """Stops training with DivergedError at the first step with a NaN/Inf loss.

  `describe_checkpoint()` (optional) says which checkpoint is kept; it is
  appended to the error message.
  """

  def __init__(self, describe_checkpoint=None):
    self.describe_checkpoint = describe_checkpoint
    self._pending: collections.deque = collections.deque()
    self._lag = 1

  def on_train_start(self, run: Any) -> None:
    self._pending.clear()
    self._lag = parallel.max_steps_in_flight(run.setup.devices)

  def after_step(self, run: Any, step: int) -> None:
    self._pending.append((step, run.epoch, run.metrics["loss"]))
    while len(self._pending) > self._lag:  # Steps the loop waited for.
      self._check(run, *self._pending.popleft())

  def on_epoch_end(self, run: Any, epoch: int) -> None:
    if run.step >= run.total_steps:
      self.flush(run)

  def flush(self, run: Any) -> None:
    """Checks every pending step (waits for them)."""
    while self._pending:
      self._check(run, *self._pending.popleft())

  def _check(self, run: Any, step: int, epoch: int, loss: jax.Array) -> None:
    value = np.asarray(jax.device_get(loss))
    if not np.all(np.isfinite(value)):
      self._pending.clear()
      raise DivergedError(diverged_message(
          run, f"the training loss is {value.flat[0]}", step, epoch,
          self.describe_checkpoint))


def diverged_message(run: Any, what: str, step: int, epoch: int,
                     describe_checkpoint=None) -> str:
  lr = run.config.optimizer.learning_rate
  kept = describe_checkpoint() if describe_checkpoint else ""
  return (f"Training diverged at step {step} (epoch {epoch + 1}/"
          f"{run.num_epochs}): {what}, so the run stopped. {kept}Lower "
          f"--config.optimizer.learning_rate (now {lr}) or check the data "
          "for NaN/Inf values.")


def first_nonfinite(flat: dict[str, np.ndarray]) -> Optional[str]:
  """The path of the first float array in `flat` holding NaN/Inf, if any."""
  for name, a in flat.items():
    if np.issubdtype(a.dtype, np.floating) and not np.all(np.isfinite(a)):
      return name
  return None
