"""`config.init.from`: start training from a pretrained name's or a
workdir's weights instead of a fresh init.

`merge` is the whole rule, a pure function of the fresh and the loaded
arrays: every array is taken from the loaded weights, except those of the
classification head when the classes differ, which keep their fresh init:
a head of another class count (its arrays differ only in their last axis:
the old count there, the new one here), or, with `new_classes_named`, the
last module (in creation order) whose arrays end in the class count,
where the counts agree but the class names do not (Fashion-MNIST's ten
garments are not MNIST's ten digits). Any other difference is a one-line
error naming the parameter. `initialize` applies it to a run's initial state
(zoo/train/build.py); the optimizer state is the fresh one (its moments
start at zero, as at any start), and an ensemble's members all start from
a single-model source, or member by member from an ensemble of the same
size.
"""

from typing import Any, Optional

from absl import logging
import jax
import numpy as np

from zoo import errors
from zoo.config.spec import RunSpec
from zoo.pretrained import weights

Flat = weights.Flat


def _module(key: str) -> str:
  """'params/mlp/~/linear_1/w' -> 'mlp/~/linear_1'."""
  return key.partition("/")[2].rpartition("/")[0]


def _is_head(loaded: tuple[int, ...], fresh: tuple[int, ...],
             old_classes: int, new_classes: int) -> bool:
  return (old_classes != new_classes and len(loaded) == len(fresh) >= 1
          and loaded[:-1] == fresh[:-1] and loaded[-1] == old_classes
          and fresh[-1] == new_classes)


def _last_head(fresh: Flat, classes: int) -> list[str]:
  """The last-created module whose params end in `classes` (the logits)."""
  heads = [_module(k) for k, v in fresh.items()
           if k.startswith("params/") and v.shape and v.shape[-1] == classes]
  return heads[-1:]


def merge(fresh: Flat, loaded: Flat, old_classes: int, new_classes: int,
          where: str = "the loaded weights",
          new_classes_named: bool = False) -> tuple[Flat, list[str]]:
  """(merged arrays, the re-initialised modules, sorted).

  `fresh`: the new model's member-stacked arrays (`weights.flatten` of
  its init, [K, ...]); `loaded`: those to start from, stacked alike. Raises a
  one-line ConfigError naming the first parameter that neither fits nor is
  part of a replaced head.
  """
  heads = sorted({_module(k) for k in fresh.keys() & loaded.keys()
                  if _is_head(loaded[k].shape, fresh[k].shape, old_classes,
                              new_classes)})
  if not heads and new_classes_named and old_classes == new_classes:
    heads = _last_head(fresh, new_classes)
  problems = []
  for key in sorted(fresh.keys() | loaded.keys(),
                    key=lambda k: (not k.startswith("params/"), k)):
    if _module(key) in heads:
      continue
    if key not in loaded:
      problems.append(f"{key} is in the model this config builds, not in "
                      f"{where}")
    elif key not in fresh:
      problems.append(f"{key} is in {where}, not in the model this config "
                      "builds")
    elif loaded[key].shape != fresh[key].shape:
      problems.append(f"{key} is {loaded[key].shape[1:]} in {where}, "
                      f"{fresh[key].shape[1:]} in the model this config "
                      "builds")  # Shapes without the member axis.
  if problems:
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    raise errors.ConfigError(
        f"config.init.from: {problems[0]}{more}; only a classification head "
        f"whose number of classes differs ({old_classes} there, "
        f"{new_classes} here) is re-initialised. Use the model and "
        "hyperparameters the weights were trained with, or "
        "--config.init.from= for a fresh init.")
  merged = {k: (fresh[k] if _module(k) in heads
                else loaded[k].astype(fresh[k].dtype)) for k in fresh}
  return merged, heads


def _member_layout(loaded: Flat, loaded_members: int, num_members: int,
                   where: str) -> Flat:
  """`loaded` stacked for `num_members` members (a single model's arrays
  repeated for each)."""
  if loaded_members == num_members:
    return loaded
  if loaded_members == 1:  # [1, ...] -> [K, ...].
    return {k: np.broadcast_to(v, (num_members, *v.shape[1:]))
            for k, v in loaded.items()}
  raise errors.ConfigError(
      f"config.init.from={where!r} is an ensemble of {loaded_members} "
      f"members; this run has {num_members}. Start from a single model, or "
      f"set --config.ensemble.size so that the run has {loaded_members}.")


def load(name_or_workdir: str) -> tuple[Flat, tuple[str, ...], int,
                                       Optional[dict]]:
  """(arrays, class names, members, preprocessing) of a pretrained name or
  a workdir's latest checkpoint."""
  from zoo import inference  # pylint: disable=g-import-not-at-top  (cycle)
  try:
    predictor = inference.load(name_or_workdir)
  except errors.ZooError as e:  # Say which field named it.
    raise type(e)(f"config.init.from={name_or_workdir!r}: {e}") from e
  names = predictor.class_names or tuple(
      str(i) for i in range(predictor.num_classes))
  return (weights.flatten(predictor.params, predictor.model_state), names,
          len(predictor.members), predictor.preprocessing)


def initialize(spec: RunSpec, state: Any,
               class_names: tuple[str, ...]) -> Any:
  """`state` (a fresh, member-stacked TrainState) with its params and
  model state from `config.init.from`, if set; `class_names`: this run's
  classes. Logs the modules it re-initialised, and why."""
  where, num_members = spec.init.source, spec.members.size
  if not where:
    return state
  loaded, old_names, loaded_members, preprocessing = load(where)
  loaded = _member_layout(loaded, loaded_members, num_members, where)
  fresh = weights.flatten(jax.device_get(state.params),
                          jax.device_get(state.model_state))
  old_classes, num_classes = len(old_names), len(class_names)
  renamed = tuple(old_names) != tuple(class_names)
  merged, heads = merge(fresh, loaded, old_classes, num_classes,
                        f"config.init.from={where!r}", renamed)
  if heads:
    why = (f"{old_classes} classes there, {num_classes} here"
           if old_classes != num_classes else
           f"other classes there: {', '.join(old_names[:3])}, ...; here: "
           f"{', '.join(class_names[:3])}, ...")
    logging.warning("init.from=%s: re-initialised %s (%s); every other array "
                    "comes from it.", where, ", ".join(heads), why)
  else:
    logging.info("init.from=%s: every array comes from it.", where)
  mode = (preprocessing or {}).get("image_normalization", "none")
  if mode != spec.data.image_normalization:
    logging.warning(
        "init.from=%s was trained with data.image_normalization=%r; this "
        "run uses %r, so its inputs are scaled otherwise.", where, mode,
        spec.data.image_normalization)
  params, model_state = weights.unflatten(merged)
  return state._replace(params=params, model_state=model_state)
