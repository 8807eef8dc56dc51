"""Who writes files (process 0 only) and how (atomically), and the record of
what was written, kept in `results['files']`."""

import os
from typing import Any

import jax


def is_writer() -> bool:
  """True on the one process that writes files: `jax.process_index() == 0`."""
  return jax.process_index() == 0


def write_text(path: str, text: str) -> None:
  """Writes `text` to `path` atomically: the file is whole or absent."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  tmp = f"{path}.tmp.{os.getpid()}"
  with open(tmp, "w", encoding="utf-8") as f:
    f.write(text)
  os.replace(tmp, path)


def record(results: dict[str, Any], name: str, path: str) -> None:
  """Notes in `results['files']` that the output `path` was written."""
  results.setdefault("files", {})[name] = path
