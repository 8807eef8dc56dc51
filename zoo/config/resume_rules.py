"""Which config changes a checkpoint may be resumed (or evaluated) under.

A checkpoint may be resumed (or evaluated) with a different config only where
the difference leaves its meaning intact. Fields that decide what the
checkpoint holds (the model and its hyperparameters, the optimizer) or what
its step means (seed, data split, batch size) must match; any other field
(num_epochs, logging, eval batch size, checkpoint interval, data.dir, ...)
may change. A few fields may change between some of their values only
(`SAME_STATE`): train.precision between 'float32' and 'bfloat16', whose
checkpoints hold the same float32 arrays; 'float16' checkpoints also hold
the dynamic loss scale, so float16 resumes only as float16.
"""

from typing import Any

import ml_collections

from zoo import errors
from zoo.config import serialize


def state_fields(saved: dict[str, Any]) -> tuple[str, ...]:
  """Config fields (and sections) that must match to resume from `saved`."""
  name = saved.get("model", {}).get("name", "")
  return ("seed", "model.name", f"model.{name}", "data.name",
          "data.test_fraction", "data.validation_fraction",
          "data.split_seed",
          # CSV tables: which columns, rows and classes, and their scaling.
          "data.label_column", "data.feature_columns", "data.classes",
          "data.drop_missing", "data.standardize",
          # Images: how pixels were scaled before the model saw them.
          "data.image_normalization", "data.image_mean", "data.image_std",
          # What the model was trained on (a change would also move the
          # augmentation draws of the remaining steps).
          "data.augment", "data.crop_padding",
          "train.batch_size", "train.full_batch", "optimizer",
          # Holds no array and moves no batch, but is part of the training
          # objective, like optimizer.l2 and the learning rate (which must
          # match with the whole optimizer section): a resume under another
          # value would continue another recipe than the one config.json
          # records for the whole run.
          "train.label_smoothing", "train.precision",
          # How many members the state stacks, their rates and data orders.
          "ensemble")


# Fields whose values fall into classes that resume each other: the
# checkpoints of values of one class hold the same arrays, and a resume under
# another value of the class continues the same run in other arithmetic.
SAME_STATE: dict[str, dict[Any, str]] = {
    "train.precision": {"float32": "float32", "bfloat16": "float32",
                        "float16": "float16 (with loss scale)"},
}


def _state_class(field: str, value: Any) -> Any:
  """`value`, or its class for a field of `SAME_STATE`."""
  if field not in SAME_STATE:
    return value
  return SAME_STATE[field].get(value, value)


_ABSENT = "<absent>"

# Fields added after checkpoints were first written, with the value that
# gives the behaviour from before they existed: a checkpoint whose config
# lacks one was trained with that value, so it resumes under it.
ADDED_FIELDS: dict[str, Any] = {
    "data.image_normalization": "none", "data.image_mean": [],
    "data.image_std": [], "train.label_smoothing": 0.0,
    "optimizer.warmup_epochs": 0.0, "optimizer.nesterov": False,
    "optimizer.clip_norm": 0.0, "data.augment": [], "data.crop_padding": 4,
    "train.precision": "float32", "data.split_seed": None,
    "ensemble.size": 1, "ensemble.learning_rates": [],
    "ensemble.shared_data_order": False,
}


def differences(saved: dict[str, Any], now: dict[str, Any]) -> list[str]:
  """'field: saved -> now' for every state field that differs."""
  prefixes = state_fields(saved) + state_fields(now)
  flat_saved = {**ADDED_FIELDS, **serialize.flatten(saved)}
  flat_now = {**ADDED_FIELDS, **serialize.flatten(now)}
  out = []
  for field in sorted(set(flat_saved) | set(flat_now)):
    if not any(field == p or field.startswith(p + ".") for p in prefixes):
      continue
    a, b = flat_saved.get(field, _ABSENT), flat_now.get(field, _ABSENT)
    if _state_class(field, a) != _state_class(field, b):
      out.append(f"{field}: {a!r} -> {b!r}")
  return out


def check_resumable(saved: dict[str, Any],
                    config: ml_collections.ConfigDict, where: str) -> None:
  """Raises ConfigError naming the fields where `config` differs from `saved`.

  `saved` is the config dict stored with the checkpoint `where`.
  """
  diffs = differences(saved, serialize.to_jsonable(config))
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
  flat_saved = serialize.flatten(saved)
  flat_now = serialize.flatten(serialize.to_jsonable(config))
  return [f"{k}: {flat_saved.get(k, _ABSENT)!r} -> {flat_now.get(k, _ABSENT)!r}"
          for k in sorted(set(flat_saved) | set(flat_now))
          if flat_saved.get(k, _ABSENT) != flat_now.get(k, _ABSENT)]
