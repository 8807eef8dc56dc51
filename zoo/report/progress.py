"""A tqdm progress bar per epoch, shown only when stdout is a terminal.

Elsewhere (CI, a file, a pipe) the hook does nothing: the absl log lines of
`MetricsTracker` are the record, with no control characters. On a terminal
the bar replaces the step lines (`log_step_lines`); epoch lines stay.
"""

import sys
import time
from typing import Any, Optional, TextIO

from absl import logging as absl_logging
import numpy as np
import tqdm

from zoo.runtime import files
from zoo.train import hooks


class ProgressHook(hooks.Hook):
  """One bar per epoch: examples done, examples/s, running train loss and
  accuracy (refreshed every `refresh_seconds`), and at the epoch's end its
  validation loss and accuracy.

  `enabled=None` shows the bar iff `file` (default stdout) is a terminal and
  this is process 0. While a bar is shown on stdout, absl log lines clear it
  before they are written and redraw it after, so neither breaks the other.
  """

  def __init__(self, batch_size: int, enabled: Optional[bool] = None,
               file: Optional[TextIO] = None, refresh_seconds: float = 0.5):
    self.batch_size = batch_size
    self.file = file or sys.stdout
    if enabled is None:
      enabled = _is_terminal(self.file) and files.is_writer()
    self.enabled, self.refresh_seconds = enabled, refresh_seconds
    self._redirect = enabled and file is None
    self._bar: Any = None
    self._saved_stream: Any = None

  def on_train_start(self, progress: Any) -> None:
    if self._redirect:
      handler = _absl_python_handler()
      self._saved_stream = handler.stream
      handler.stream = _BarSafeStream(handler.stream, self)

  def on_chunk_end(self, progress: Any, chunk: hooks.Chunk) -> None:
    if not self.enabled:
      return
    if self._bar is None:
      self._bar = tqdm.tqdm(
          total=progress.setup.steps_per_epoch * self.batch_size, unit=" ex",
          unit_scale=True, file=self.file, dynamic_ncols=True, leave=True,
          desc=f"epoch {chunk.epoch + 1}/{progress.num_epochs}")
      self._sums = [0.0, 0.0, 0]
      self._last = 0.0
    self._bar.update(chunk.num_steps * self.batch_size)
    self._sums[0] += float(np.sum(chunk.metrics["loss"]))
    self._sums[1] += float(np.sum(chunk.metrics["accuracy"]))
    self._sums[2] += chunk.num_steps
    if time.perf_counter() - self._last >= self.refresh_seconds:
      self._bar.set_postfix(self._running_means(), refresh=False)
      self._last = time.perf_counter()

  def on_epoch_end(self, progress: Any, epoch: hooks.EpochSummary) -> None:
    if self._bar is None:
      return
    postfix = self._running_means()
    if epoch.validation_accuracy is not None:
      postfix["val_loss"] = f"{epoch.validation_loss:.4f}"
      postfix["val_acc"] = f"{epoch.validation_accuracy:.4f}"
    self._bar.set_postfix(postfix, refresh=False)
    self._bar.close()
    self._bar = None

  def close(self) -> None:
    """Closes an open bar and gives the log stream back."""
    if self._bar is not None:
      self._bar.close()
      self._bar = None
    if self._saved_stream is not None:
      _absl_python_handler().stream = self._saved_stream
      self._saved_stream = None

  def _running_means(self) -> dict[str, str]:
    """The epoch's mean train loss and accuracy so far."""
    n = max(self._sums[2], 1)
    return {"loss": f"{self._sums[0] / n:.4f}",
            "acc": f"{self._sums[1] / n:.4f}"}


def log_step_lines(bar: Optional[ProgressHook]) -> bool:
  """Whether the step lines belong in the log (at INFO): not while `bar` is
  shown and the log goes to a terminal too, where both would interleave.

  A log redirected to a file (`2> log.txt`) keeps them, and so does a run
  without a bar (CI, a pipe, `--config.report.progress_bar=False`).
  """
  if bar is None or not bar.enabled:
    return True
  return not _is_terminal(_absl_python_handler().stream)


def _is_terminal(file: TextIO) -> bool:
  try:
    return file.isatty()
  except (AttributeError, ValueError):  # No isatty, or closed.
    return False


def _absl_python_handler() -> Any:
  return absl_logging.get_absl_handler().python_handler


class _BarSafeStream:
  """A log stream that clears the hook's bar around each complete line."""

  def __init__(self, stream: TextIO, hook: ProgressHook):
    self._stream, self._hook, self._buffer = stream, hook, ""

  def write(self, text: str) -> None:
    self._buffer += text
    if "\n" not in self._buffer:
      return
    lines, self._buffer = self._buffer.rsplit("\n", 1)
    bar = self._hook._bar  # pylint: disable=protected-access
    if bar is not None:
      bar.clear()
    self._stream.write(lines + "\n")
    self._stream.flush()
    if bar is not None:
      bar.refresh()

  def flush(self) -> None:
    self._stream.flush()

  def __getattr__(self, name: str) -> Any:
    return getattr(self._stream, name)
