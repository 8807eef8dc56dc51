"""The weights file of a published model: safetensors, keyed by Haiku paths.

One file holds a model's params and model state (e.g. BatchNorm averages):

  params/<module path>/<param>   e.g. 'params/mlp/~/linear_0/w'
  state/<module path>/<name>     e.g. 'state/res_net/~/batch_norm/~/mean_ema/average'

A single model's arrays have the module's own shapes; an ensemble of K
members stores every array member-stacked, `[K, ...]`. The file's metadata
says `num_members`; `save` and `load` take and give member-stacked arrays
(the zoo's train-state layout, K = 1 included). Any safetensors reader
opens it (`safetensors.numpy.load_file`).
"""

from typing import Any, Mapping, Optional

import numpy as np
from safetensors import numpy as st_numpy
import safetensors

from zoo import errors

FORMAT = "haiku-zoo-weights/1"  # Bumped if the key layout changes.
_KINDS = ("params", "state")

Flat = dict[str, np.ndarray]


def flatten(params: Mapping[str, Mapping[str, Any]],
            model_state: Mapping[str, Mapping[str, Any]]) -> Flat:
  """`{'params/<module>/<name>': host array, 'state/...': ...}`."""
  flat = {}
  for kind, tree in zip(_KINDS, (params, model_state)):
    for module, values in tree.items():
      for name, value in values.items():
        flat[f"{kind}/{module}/{name}"] = np.asarray(value)
  return flat


def unflatten(flat: Flat) -> tuple[dict[str, dict[str, np.ndarray]],
                                   dict[str, dict[str, np.ndarray]]]:
  """The inverse of `flatten`: (params, model_state) as nested dicts."""
  trees = {kind: {} for kind in _KINDS}
  for key, value in flat.items():
    kind, _, path = key.partition("/")
    module, _, name = path.rpartition("/")  # Param names hold no '/'.
    if kind not in trees or not module:
      raise errors.PretrainedError(
          f"Weights key {key!r} is not 'params/<module>/<name>' or "
          "'state/<module>/<name>'.")
    trees[kind].setdefault(module, {})[name] = value
  return trees["params"], trees["state"]


def mismatches(loaded: Flat, expected: Flat) -> list[str]:
  """'<key>: ...' for each array of `loaded` that `expected` (a model's own,
  e.g. from its `init`) lacks, or has with another shape or dtype; params
  first. Both are member-stacked; shapes are named without the member
  axis."""
  out = []
  order = lambda k: (not k.startswith("params/"), k)  # noqa: E731
  for key in sorted(set(loaded) | set(expected), key=order):
    if key not in expected:
      out.append(f"{key} is in the weights, not in the model")
    elif key not in loaded:
      out.append(f"{key} is in the model, not in the weights")
    else:
      a, b = loaded[key], expected[key]
      if a.shape != b.shape or a.dtype != b.dtype:
        out.append(f"{key} is {a.shape[1:]} {a.dtype} in the weights, "
                   f"{b.shape[1:]} {b.dtype} in the model")
  return out


def check_fits(loaded: Flat, expected: Flat, where: str) -> None:
  """One-line ConfigError naming the first parameter of `loaded` that does
  not fit `expected` (a fresh model's arrays)."""
  diffs = mismatches(loaded, expected)
  if diffs:
    more = f" (and {len(diffs) - 1} more)" if len(diffs) > 1 else ""
    raise errors.PretrainedError(
        f"The weights {where} do not fit the model their config builds: "
        f"{diffs[0]}{more}. Publish them again from the run "
        "(scripts/publish.py) with this version of the zoo.")


def save(path: str, flat: Flat, num_members: int,
         metadata: Mapping[str, str]) -> None:
  """Writes member-stacked `flat` ([K, ...]) to `path` (safetensors) with
  string `metadata`; a single model (K = 1) without its member axis."""
  # np.asarray(order="C"), not np.ascontiguousarray: that makes a 0-d array
  # (a BatchNorm counter) 1-d.
  arrays = {k: np.asarray(v[0] if num_members == 1 else v, order="C")
            for k, v in flat.items()}
  metadata = {**dict(metadata), "num_members": str(num_members)}
  st_numpy.save_file(arrays, path,
                     metadata={"format": FORMAT, **dict(metadata)})


def load(path: str) -> tuple[Flat, dict[str, str]]:
  """(member-stacked arrays, metadata) of a weights file."""
  try:
    with safetensors.safe_open(path, framework="np") as f:
      metadata = dict(f.metadata() or {})
      flat = {k: f.get_tensor(k) for k in f.keys()}
  except Exception as e:  # pylint: disable=broad-except
    raise errors.PretrainedError(
        f"{path} is not a readable safetensors weights file "
        f"({type(e).__name__}: {str(e)[:200]}). Delete it to download it "
        "again.") from e
  if (num_members(metadata) or 1) == 1:
    flat = {k: v[None] for k, v in flat.items()}
  return flat, metadata


def num_members(metadata: Mapping[str, str]) -> Optional[int]:
  value = metadata.get("num_members")
  return None if value is None else int(value)
