"""Which config changes a checkpoint may be resumed (or evaluated) under.

A checkpoint may be resumed (or evaluated) with a different config only where
the difference leaves its meaning intact. Fields that decide what the
checkpoint holds (the model and its hyperparameters, the optimizer) or what
its step means (seed, data split, batch size) must match; any other field
(num_epochs, logging, eval batch size, checkpoint interval, data.dir, ...)
may change. A few fields may change between some of their values only
(`SAME_STATE`): train.precision between 'float32' and 'bfloat16', whose
checkpoints hold the same float32 arrays; 'float16' checkpoints also hold
the dynamic loss scale, so float16 resumes only as float16. Which field is
which is the field table's `resume` column (zoo/config/spec.py).
"""

from typing import Any

from zoo import errors
from zoo.config import resolve
from zoo.config import serialize
from zoo.config import spec


def _resume_policies() -> dict[str, Any]:
  """{field: STATE or a {value: class} map} for the fields that may not
  change freely (the field table's `resume`)."""
  return {f.path: f.resume for f in resolve.table() if f.resume != spec.FREE}


# Fields added after checkpoints were first written, with the value that
# gives the behaviour from before they existed (the field table's `added`):
# `resolve.upgrade` fills them into older saved configs.
ADDED_FIELDS: dict[str, Any] = {
    f.path: f.added for f in resolve.table()
    if f.added is not spec.ORIGINAL}


def state_fields(saved: dict[str, Any]) -> tuple[str, ...]:
  """Config fields (and sections) that must match to resume from `saved`:
  the table's non-FREE fields and the selected model's hyperparameters."""
  name = saved.get("model", {}).get("name", "")
  return (*_resume_policies(), f"model.{name}")


def _state_class(policy: Any, value: Any) -> Any:
  """`value`, or its class where the field's policy maps values to classes
  (train.precision: bfloat16 and float32 checkpoints hold the same
  arrays)."""
  return policy.get(value, value) if isinstance(policy, dict) else value


_ABSENT = "<absent>"


def _flat(config: Any) -> dict[str, Any]:
  return serialize.flatten(serialize.to_jsonable(resolve.upgrade(
      serialize.to_jsonable(config))))


def differences(saved: dict[str, Any], now: Any) -> list[str]:
  """'field: saved -> now' for every state field that differs."""
  policies = _resume_policies()
  prefixes = state_fields(saved) + state_fields(serialize.to_jsonable(now))
  flat_saved, flat_now = _flat(saved), _flat(now)
  out = []
  for field in sorted(set(flat_saved) | set(flat_now)):
    if not any(field == p or field.startswith(p + ".") for p in prefixes):
      continue
    a, b = flat_saved.get(field, _ABSENT), flat_now.get(field, _ABSENT)
    policy = policies.get(field)
    if _state_class(policy, a) != _state_class(policy, b):
      out.append(f"{field}: {a!r} -> {b!r}")
  return out


def check_resumable(saved: dict[str, Any], config: Any, where: str) -> None:
  """Raises ConfigError naming the fields where `config` (a ConfigDict or
  its jsonable dict) differs from `saved`, the config dict stored with the
  checkpoint `where`."""
  diffs = differences(saved, config)
  if diffs:
    raise errors.ConfigError(
        f"The checkpoint {where} was trained with another config; these "
        f"fields differ (checkpoint -> now): {'; '.join(diffs)}. They change "
        "what a checkpoint holds, so it cannot be resumed or evaluated with "
        "them. Use the config saved with the run (config.json in its "
        "workdir) or another --workdir to start a new run.")


def changed_fields(saved: dict[str, Any], config: Any) -> list[str]:
  """'field: saved -> now' for every field that changed (all of them
  harmless once `check_resumable` passed)."""
  flat_saved = serialize.flatten(saved)
  flat_now = serialize.flatten(serialize.to_jsonable(config))
  return [f"{k}: {flat_saved.get(k, _ABSENT)!r} -> {flat_now.get(k, _ABSENT)!r}"
          for k in sorted(set(flat_saved) | set(flat_now))
          if flat_saved.get(k, _ABSENT) != flat_now.get(k, _ABSENT)]
