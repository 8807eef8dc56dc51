"""Errors a user can fix. The launcher prints their message and exits non-zero.

Every message names the offending value and says how to fix it, so that a
traceback from deep inside JAX is never the first thing a user sees.
"""


class ZooError(Exception):
  """Base class of every user-facing error raised by the zoo."""


class ConfigError(ZooError, ValueError):
  """A config field has a value the zoo cannot use."""


class ModelNotFoundError(ZooError, KeyError):
  """No model is registered under the requested name."""

  def __str__(self) -> str:  # KeyError would quote the message.
    return str(self.args[0]) if self.args else ""


class DataError(ZooError):
  """A dataset is missing, corrupt or cannot be downloaded."""


class UserModuleError(ZooError, ImportError):
  """A user module named by `config.model.module` failed to import."""


class DistributedError(ZooError):
  """The processes of a multi-process run cannot start or work together."""


class WorkdirError(ZooError):
  """The --workdir cannot be written, or another run is using it."""


class PretrainedError(ZooError):
  """A pretrained model's name, manifest or weights file cannot be used
  (unknown name, download failed, wrong sha256, shapes that do not fit)."""
