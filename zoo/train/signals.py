"""Stopping a run safely on Ctrl-C / SIGTERM.

Signals only set a flag (`stop_requested()`); the CheckpointHook acts on it
at the next chunk end (saves, then raises `RunInterrupted`). The first
signal restores the previous handlers, so a second Ctrl-C stops at once.
"""

import contextlib
import signal
import threading
from typing import Iterator, Optional

from zoo import errors

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_requested: list[int] = []  # The signal numbers received, if any.


class RunInterrupted(errors.ZooError):
  """The run stopped on a signal after saving a checkpoint."""

  def __init__(self, message: str, signum: int, step: int):
    super().__init__(message)
    self.signum, self.step = signum, step


def stop_requested() -> Optional[int]:
  """The number of the stop signal received, or None."""
  return _requested[0] if _requested else None


def request_stop(signum: int = signal.SIGTERM) -> None:
  """What the signal handler does; also callable directly (e.g. in tests)."""
  if not _requested:
    _requested.append(signum)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
  """While active, SIGINT/SIGTERM request a stop at the next chunk end."""
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
