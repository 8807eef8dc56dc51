"""The config a run was trained with: saved in its workdir, checked on resume.

A checkpoint may be resumed (or evaluated) with a different config only where
the difference leaves its meaning intact. Fields that decide what the
checkpoint holds (the model and its hyperparameters, the optimizer) or what
its step means (seed, data split, batch size) must match; any other field
(num_epochs, logging, eval batch size, checkpoint interval, data.dir, ...)
may change.
"""

import json
import os
from typing import Any

import ml_collections
import numpy as np

from zoo import errors

CONFIG_FILE = "config.json"


def to_jsonable(config: ml_collections.ConfigDict) -> dict[str, Any]:
  """The config as plain JSON values (tuples become lists)."""
  return json.loads(json.dumps(config.to_dict(), default=_default))


def _default(x: Any) -> Any:
  if isinstance(x, (np.generic, np.ndarray)):
    return x.tolist()
  if isinstance(x, tuple):
    return list(x)
  return str(x)


def from_jsonable(d: dict[str, Any]) -> ml_collections.ConfigDict:
  """A ConfigDict from `to_jsonable`'s output (e.g. a saved config.json)."""
  return ml_collections.ConfigDict(d)


def save(workdir: str, config: ml_collections.ConfigDict) -> str:
  """Writes WORKDIR/config.json atomically; returns its path."""
  path = os.path.join(workdir, CONFIG_FILE)
  os.makedirs(workdir, exist_ok=True)
  tmp = f"{path}.tmp.{os.getpid()}"
  with open(tmp, "w", encoding="utf-8") as f:
    json.dump(to_jsonable(config), f, indent=2, sort_keys=True)
  os.replace(tmp, path)
  return path


def state_fields(saved: dict[str, Any]) -> tuple[str, ...]:
  """Config fields (and sections) that must match to resume from `saved`."""
  name = saved.get("model", {}).get("name", "")
  return ("seed", "model.name", f"model.{name}", "data.name",
          "data.test_fraction", "data.validation_fraction",
          # CSV tables: which columns, rows and classes, and their scaling.
          "data.label_column", "data.feature_columns", "data.classes",
          "data.drop_missing", "data.standardize",
          "train.batch_size", "train.full_batch", "optimizer")


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
  if not isinstance(d, dict):
    return {prefix: d}
  out = {}
  for k, v in d.items():
    out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
  return out


_ABSENT = "<absent>"


def differences(saved: dict[str, Any], now: dict[str, Any]) -> list[str]:
  """'field: saved -> now' for every state field that differs."""
  prefixes = state_fields(saved) + state_fields(now)
  flat_saved, flat_now = _flatten(saved), _flatten(now)
  out = []
  for field in sorted(set(flat_saved) | set(flat_now)):
    if not any(field == p or field.startswith(p + ".") for p in prefixes):
      continue
    a, b = flat_saved.get(field, _ABSENT), flat_now.get(field, _ABSENT)
    if a != b:
      out.append(f"{field}: {a!r} -> {b!r}")
  return out


def check_resumable(saved: dict[str, Any],
                    config: ml_collections.ConfigDict, where: str) -> None:
  """Raises ConfigError naming the fields where `config` differs from `saved`.

  `saved` is the config dict stored with the checkpoint `where`.
  """
  diffs = differences(saved, to_jsonable(config))
  if diffs:
    raise errors.ConfigError(
        f"The checkpoint {where} was trained with another config; these "
        f"fields differ (checkpoint -> now): {'; '.join(diffs)}. They change "
        "what a checkpoint holds, so it cannot be resumed or evaluated with "
        "them. Use the config saved with the run (config.json in its "
        "workdir) or another --workdir to start a new run.")


def changed_fields(saved: dict[str, Any],
                   config: ml_collections.ConfigDict) -> list[str]:
  """'field: saved -> now' for every field that changed (all of them
  harmless once `check_resumable` passed)."""
  flat_saved, flat_now = _flatten(saved), _flatten(to_jsonable(config))
  return [f"{k}: {flat_saved.get(k, _ABSENT)!r} -> {flat_now.get(k, _ABSENT)!r}"
          for k in sorted(set(flat_saved) | set(flat_now))
          if flat_saved.get(k, _ABSENT) != flat_now.get(k, _ABSENT)]
