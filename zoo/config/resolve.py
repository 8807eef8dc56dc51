"""A config in, a frozen `RunSpec` out: the one place a config is read.

    spec = resolve(config)     # upgrade, validate, freeze

`upgrade` fills fields that configs saved by older versions lack (the
table's `added` values: nothing else fills defaults); `validate` raises a
one-line ConfigError on the first field the zoo cannot use, naming the field
and its fix; `resolve` builds the spec. `default_config` is the table's
defaults as a ConfigDict (configs/default.py adds the catalogue models'
hyperparameters).
"""

import copy
import dataclasses
from typing import Any, Iterator, Union

import ml_collections

from zoo import errors
from zoo.config import checks
from zoo.config import serialize
from zoo.config import spec as spec_lib

Config = Union[ml_collections.ConfigDict, dict[str, Any]]


@dataclasses.dataclass(frozen=True)
class Field:
  """One row of the field table: `section.name` and its metadata."""
  path: str
  default: Any
  doc: str
  check: checks.Check
  resume: Any
  added: Any


def table() -> Iterator[Field]:
  """Every config field, in config order (`seed` first)."""
  yield Field("seed", 0, spec_lib.SEED_DOC,
              checks.int_at_least(0, "it must be a non-negative integer"),
              spec_lib.STATE, spec_lib.ORIGINAL)
  for section, cls in spec_lib.SECTIONS:
    for f in dataclasses.fields(cls):
      if f.metadata:
        meta = dict(f.metadata)
        key = meta.pop("key") or f.name
        yield Field(f"{section}.{key}", f.default, **meta)


def default_config() -> ml_collections.ConfigDict:
  """Every field of the table at its default."""
  config = ml_collections.ConfigDict()
  for field in table():
    section, _, name = field.path.rpartition(".")
    node = config
    if section:
      if section not in config:
        config[section] = ml_collections.ConfigDict()
      node = config[section]
    if field.default is None:  # Typed later by an override: int.
      node[name] = ml_collections.config_dict.placeholder(int)
    else:
      node[name] = field.default
  return config


def upgrade(config: Config) -> dict[str, Any]:
  """A plain-dict copy of `config` in which every field added since the
  first saved configs is present: absent ones get the value that gives the
  behaviour from before they existed (e.g. `ensemble.size=1`)."""
  out = (config.to_dict() if isinstance(config, ml_collections.ConfigDict)
         else copy.deepcopy(dict(config)))
  for field in table():
    if field.added is spec_lib.ORIGINAL:
      continue
    section, _, name = field.path.rpartition(".")
    node = out.setdefault(section, {}) if section else out
    node.setdefault(name, field.added)
  return out


def _fail(field: str, value: Any, want: str) -> None:
  raise errors.ConfigError(
      f"config.{field}={value!r} is invalid: {want}. "
      f"Fix it with --config.{field}=<value>.")


def _get(raw: dict[str, Any], path: str) -> Any:
  node = raw
  for part in path.split("."):
    if not isinstance(node, dict) or part not in node:
      raise errors.ConfigError(
          f"The config has no field {path!r}. Start your config from "
          "configs/default.py (`config = default.get_config()`).")
    node = node[part]
  return node


def validate(config: Config) -> None:
  """Raises ConfigError on the first field the zoo cannot use (each field's
  own check, then the checks that read two fields). Model hyperparameters
  are checked by the models, data paths by the data sources."""
  _validate(upgrade(config))


def _validate(raw: dict[str, Any]) -> None:
  for field in table():
    value = _get(raw, field.path)
    want = field.check(value)
    if want:
      _fail(field.path, value, want)
  opt, train, data = raw["optimizer"], raw["train"], raw["data"]
  if opt["nesterov"] and (opt["name"] != "sgd" or not opt["momentum"]):
    _fail("optimizer.nesterov", True, "Nesterov momentum needs optimizer."
          "name='sgd' with optimizer.momentum > 0; set it to False")
  # Again in steps, once the steps per epoch are known: optim.warmup_steps.
  if opt["warmup_epochs"] >= train["num_epochs"]:
    _fail("optimizer.warmup_epochs", opt["warmup_epochs"],
          "the warmup must be shorter than the run "
          f"(train.num_epochs={train['num_epochs']})")
  if data["augment"] and data["name"] == "csv":
    _fail("data.augment", data["augment"],
          "augmentation applies to images only; use ()")
  _image_normalization(data)


def _image_normalization(data: dict[str, Any]) -> None:
  """data.image_normalization and the fixed mean and std it may use."""
  mode, mean, std = (data["image_normalization"], data["image_mean"],
                     data["image_std"])
  if mode != "fixed":
    for field, value in (("data.image_mean", mean), ("data.image_std", std)):
      if value:
        _fail(field, value, "it is used only with data.image_normalization="
              f"'fixed' (now {mode!r}), so leave it empty ()")
  elif not mean:
    _fail("data.image_mean", mean, "data.image_normalization='fixed' needs "
          "one mean per image channel, e.g. '(0.5,)' for grey images")
  elif len(std) != len(mean):
    _fail("data.image_std", std, f"it needs one std per channel, as many as "
          f"data.image_mean has ({len(mean)})")
  elif min(std) <= 0:
    _fail("data.image_std", std, "every std must be > 0")
  if mode != "none" and data["name"] == "csv":
    _fail("data.image_normalization", mode, "it applies to images only; CSV "
          "tables are scaled by data.standardize, so use 'none'")


def _frozen(value: Any) -> Any:
  """Lists (JSON's tuples) and nested dicts as hashable tuples."""
  if isinstance(value, (list, tuple)):
    return tuple(_frozen(v) for v in value)
  if isinstance(value, dict):
    return tuple((k, _frozen(v)) for k, v in value.items())
  return value


def section(cls: type, values: dict[str, Any], **extra: Any) -> Any:
  """The spec section `cls` of a config section's (checked) `values`."""
  kwargs = {f.name: _frozen(values[f.metadata["key"] or f.name])
            for f in dataclasses.fields(cls) if f.metadata}
  return cls(**kwargs, **extra)


def _hyperparameters(model: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
  """The selected model's keyword arguments (`config.model.<name>`), lists
  as tuples; none if the section is absent."""
  section = model.get(model["name"])
  if not isinstance(section, dict):
    return ()
  return tuple((k, _frozen(v)) for k, v in section.items())


def resolve(config: Config) -> spec_lib.RunSpec:
  """The frozen spec of `config` (a ConfigDict, or a saved config.json's
  dict): upgraded, validated, `data.split_seed` None resolved to `seed`."""
  raw = upgrade(config)
  _validate(raw)
  seed = raw["seed"]
  split_seed = raw["data"]["split_seed"]
  ensemble = section(spec_lib.EnsembleSpec, raw["ensemble"])
  return spec_lib.RunSpec(
      seed=seed,
      model=section(spec_lib.ModelSpec, raw["model"],
                     hyperparameters=_hyperparameters(raw["model"])),
      data=dataclasses.replace(
          section(spec_lib.DataSpec, raw["data"]),
          split_seed=seed if split_seed is None else split_seed),
      train=section(spec_lib.TrainSpec, raw["train"]),
      optimizer=section(spec_lib.OptimizerSpec, raw["optimizer"]),
      ensemble=ensemble,
      report=section(spec_lib.ReportSpec, raw["report"]),
      distributed=section(spec_lib.DistributedSpec, raw["distributed"]),
      checkpoint=section(spec_lib.CheckpointSpec, raw["checkpoint"]),
      init=section(spec_lib.InitSpec, raw["init"]),
      members=spec_lib.Members.of(seed, ensemble),
      config=serialize.to_jsonable(raw))
