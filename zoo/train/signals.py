"""Stopping a run safely on Ctrl-C / SIGTERM.

Signals only set a flag (`stop_requested()`); the CheckpointHook acts on it
at the next chunk end (saves, then raises `RunInterrupted`). A second signal
stops at once: it raises `StoppedAtOnce` (a KeyboardInterrupt) where the
main thread is, except inside `protected()` (a checkpoint being written),
which finishes first, and inside a JAX host callback (the chunk's end, which
saves, comes next). The launcher turns each into one line.
"""

import contextlib
import os
import signal
import threading
from typing import Iterator, Optional

from zoo import errors

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_requested: list[int] = []  # The signal numbers received, if any.
_protected: list[bool] = []  # Non-empty inside `protected()`.
_deferred: list[int] = []  # A second signal that arrived inside it.


class RunInterrupted(errors.ZooError):
  """The run stopped on a signal after saving a checkpoint."""

  def __init__(self, message: str, signum: int, step: int):
    super().__init__(message)
    self.signum, self.step = signum, step


class StoppedAtOnce(KeyboardInterrupt):
  """A second stop signal: the run stops where it is, saving nothing more."""

  def __init__(self, signum: int):
    super().__init__(signal_name(signum))
    self.signum = signum


def stop_requested() -> Optional[int]:
  """The number of the stop signal received, or None."""
  return _requested[0] if _requested else None


def request_stop(signum: int = signal.SIGTERM) -> None:
  """What the signal handler does; also callable directly (e.g. in tests)."""
  if not _requested:
    _requested.append(signum)


@contextlib.contextmanager
def protected() -> Iterator[None]:
  """A second stop signal inside the body raises only once it is done (a
  checkpoint is written whole, not abandoned half-way)."""
  _protected.append(True)
  try:
    yield
  finally:
    _protected.pop()
  if not _protected and _deferred:
    raise StoppedAtOnce(_deferred.pop())


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
  """While active, SIGINT/SIGTERM request a stop at the next chunk end; a
  second one raises StoppedAtOnce."""
  if threading.current_thread() is not threading.main_thread():
    yield  # Signal handlers can only be set from the main thread.
    return
  previous = {s: signal.getsignal(s) for s in STOP_SIGNALS}

  def handler(signum, frame):  # pylint: disable=unused-argument
    if not _requested:
      request_stop(signum)
      _note(f"{signal_name(signum)} received: saving a checkpoint at the end "
            "of this chunk, then stopping (press Ctrl-C again to stop at "
            "once, keeping only the last checkpoint).")
    elif _protected:
      _deferred[:] = [signum]
    elif not _in_host_callback(frame):
      raise StoppedAtOnce(signum)
    # In a host callback (jax.debug.callback, pure_callback) JAX would turn
    # the exception into a runtime error with a traceback; the chunk, whose
    # end saves and stops, is about to end anyway.

  _requested.clear()
  _deferred.clear()
  for s in STOP_SIGNALS:
    signal.signal(s, handler)
  try:
    yield
  finally:
    for s, h in previous.items():
      signal.signal(s, h)
    _requested.clear()
    _deferred.clear()


def _in_host_callback(frame) -> bool:
  """Whether `frame` runs inside a JAX host callback (called from XLA)."""
  while frame is not None:
    path = frame.f_code.co_filename.replace(os.sep, "/")
    if "/jax/" in path and path.endswith(("/callback.py", "/debugging.py")):
      return True
    frame = frame.f_back
  return False


def _note(line: str) -> None:
  """Writes `line` to stderr from a signal handler: one unbuffered write
  (a buffered one could re-enter a write the main thread was in)."""
  try:
    lead = "\n" if os.isatty(2) else ""  # Off a progress bar's line.
    os.write(2, f"{lead}{line}\n".encode())
  except OSError:
    pass


def signal_name(signum: int) -> str:
  try:
    return signal.Signals(signum).name
  except ValueError:
    return f"signal {signum}"
