"""Configs as plain JSON: saved in a run's workdir (config.json) and in each
checkpoint, flattened to `section.field` names for comparisons."""

import json
import os
from typing import Any

import ml_collections

from zoo.runtime import files

CONFIG_FILE = "config.json"


def to_jsonable(config: Any) -> dict[str, Any]:
  """The config (a ConfigDict or a dict) as plain JSON values (tuples
  become lists)."""
  if isinstance(config, ml_collections.ConfigDict):
    config = config.to_dict()
  return json.loads(json.dumps(config, default=files.jsonable))


def from_jsonable(d: dict[str, Any]) -> ml_collections.ConfigDict:
  """A ConfigDict from `to_jsonable`'s output (e.g. a saved config.json)."""
  return ml_collections.ConfigDict(d)


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
  """`{'train.batch_size': 128, ...}`: every leaf of nested dicts by its
  dotted path (`{}` for an empty section)."""
  if not isinstance(tree, dict):
    return {prefix: tree}
  out = {}
  for key, value in tree.items():
    out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
  return out


def save(workdir: str, config: Any) -> str:
  """Writes WORKDIR/config.json atomically; returns its path."""
  path = os.path.join(workdir, CONFIG_FILE)
  files.write_json(path, to_jsonable(config), sort_keys=True)
  return path
