"""Who writes files (process 0 only) and how (atomically: whole or absent)."""

import json
import os
from typing import Any

import jax
import numpy as np


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


def write_json(path: str, obj: Any, sort_keys: bool = False) -> None:
  """Writes `obj` as indented JSON atomically (numpy values and tuples as
  lists, anything else unknown as its str)."""
  write_text(path, json.dumps(obj, indent=2, sort_keys=sort_keys,
                              default=jsonable) + "\n")


def jsonable(x: Any) -> Any:
  """`json.dumps`'s `default`: numpy values and tuples as lists, else str."""
  if isinstance(x, (np.generic, np.ndarray)):
    return x.tolist()
  if isinstance(x, tuple):
    return list(x)
  return str(x)
