"""JAX's persistent compilation cache: a second run of a config skips XLA.

`config.train.compilation_cache_dir`:
  'auto'   $XDG_CACHE_HOME/haiku-zoo/jax (default ~/.cache/haiku-zoo/jax),
           shared by every workdir, so any run of the same model, shapes,
           devices and XLA flags reuses the compiled steps.
  ''       leave JAX's own settings alone (e.g. JAX_COMPILATION_CACHE_DIR).
  a path   that folder.
Only trusted users may write to the folder: JAX loads executables from it.
It is never pruned (JAX's size limit needs the `filelock` package): delete
the folder to reclaim the space (a few MB per model and config).
"""

import os
from typing import Optional

import jax
from jax.experimental.compilation_cache import compilation_cache

_active: list[str] = []  # The folder set in this process, if any.


def resolve(setting: str) -> Optional[str]:
  """The cache folder that `setting` names, or None for ''."""
  if not setting:
    return None
  if setting == "auto":
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    setting = os.path.join(base, "haiku-zoo", "jax")
  return os.path.abspath(os.path.expanduser(setting))


def enable(setting: str) -> Optional[str]:
  """Points JAX's persistent cache at `resolve(setting)`; returns the folder.

  Every compiled program is cached, however small or fast to compile: a
  run's startup is many small programs besides the train step.
  """
  path = resolve(setting)
  if path is None or _active == [path]:
    return path
  os.makedirs(path, exist_ok=True)
  jax.config.update("jax_compilation_cache_dir", path)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
  compilation_cache.reset_cache()  # Re-read the folder on the next compile.
  _active[:] = [path]
  return path
