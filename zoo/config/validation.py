"""Checks a config before any work starts; each failure names field and fix."""

import math
from typing import Any

import ml_collections

from zoo import errors
from zoo.data import augment
from zoo.models import precision

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "cosine")
IMAGE_NORMALIZATIONS = ("none", "per_channel", "fixed")


def _fail(field: str, value: Any, want: str) -> None:
  raise errors.ConfigError(
      f"config.{field}={value!r} is invalid: {want}. "
      f"Fix it with --config.{field}=<value>.")


def _positive_int(config: ml_collections.ConfigDict, field: str) -> None:
  value = _get(config, field)
  if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
    _fail(field, value, "it must be a positive integer")


def _int_at_least(config: ml_collections.ConfigDict, field: str,
                  low: int) -> None:
  value = _get(config, field)
  if isinstance(value, bool) or not isinstance(value, int) or value < low:
    _fail(field, value, f"it must be an integer >= {low}")


def _boolean(config: ml_collections.ConfigDict, field: str) -> None:
  if not isinstance(_get(config, field), bool):
    _fail(field, _get(config, field), "it must be True or False")


def _number_in(config, field: str, low: float, high: float,
               low_open: bool = False, high_open: bool = False) -> None:
  value = _get(config, field)
  ok = isinstance(value, (int, float)) and not isinstance(value, bool)
  ok = ok and math.isfinite(value)
  ok = ok and (value < high if high_open else value <= high)
  ok = ok and (value > low if low_open else value >= low)
  if not ok:
    bracket = "(" if low_open else "["
    closing = ")" if high_open else "]"
    _fail(field, value,
          f"it must be a number in {bracket}{low:g}, {high:g}{closing}")


def _one_of(config, field: str, choices: tuple[str, ...]) -> None:
  value = _get(config, field)
  if value not in choices:
    _fail(field, value, f"choose one of {', '.join(choices)}")


def _numbers(config, field: str) -> tuple[float, ...]:
  value = _get(config, field)
  ok = isinstance(value, (tuple, list)) and all(
      isinstance(v, (int, float)) and not isinstance(v, bool)
      and math.isfinite(v) for v in value)
  if not ok:
    _fail(field, value, "it must be a tuple of numbers, e.g. '(0.5, 0.5)'")
  return tuple(value)


def _image_normalization(config: ml_collections.ConfigDict) -> None:
  """data.image_normalization and the fixed mean and std it may use."""
  _one_of(config, "data.image_normalization", IMAGE_NORMALIZATIONS)
  mode = config.data.image_normalization
  mean = _numbers(config, "data.image_mean")
  std = _numbers(config, "data.image_std")
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
  if mode != "none" and config.data.name == "csv":
    _fail("data.image_normalization", mode, "it applies to images only; CSV "
          "tables are scaled by data.standardize, so use 'none'")


def _get(config: ml_collections.ConfigDict, field: str) -> Any:
  node = config
  for part in field.split("."):
    if part not in node:
      raise errors.ConfigError(
          f"The config has no field {field!r}. Start your config from "
          "configs/default.py (`config = default.get_config()`).")
    node = node[part]
  return node


def _check_augment(config: ml_collections.ConfigDict) -> None:
  names = _get(config, "data.augment")
  if (not isinstance(names, (tuple, list))
      or not all(n in augment.NAMES for n in names)):
    _fail("data.augment", names, f"it must be a tuple of names from "
          f"{', '.join(augment.NAMES)}, e.g. '(\"crop\", \"flip\")', or ()")
  _int_at_least(config, "data.crop_padding", 1)
  if names and config.data.name == "csv":
    _fail("data.augment", names, "augmentation applies to images only; use ()")


def _ensemble(config: ml_collections.ConfigDict) -> None:
  """ensemble.size, ensemble.learning_rates, ensemble.shared_data_order."""
  _positive_int(config, "ensemble.size")
  rates = _get(config, "ensemble.learning_rates")
  ok = isinstance(rates, (tuple, list)) and all(
      isinstance(r, (int, float)) and not isinstance(r, bool)
      and math.isfinite(r) and 0 < r <= 1e3 for r in rates)
  if not ok:
    _fail("ensemble.learning_rates", rates, "it must be a tuple of learning "
          "rates in (0, 1000], e.g. '(1e-3, 3e-4)', or () for "
          "optimizer.learning_rate alone")
  if len(set(rates)) != len(rates):
    _fail("ensemble.learning_rates", rates, "each rate may appear once "
          "(more members of one rate: raise ensemble.size)")
  _boolean(config, "ensemble.shared_data_order")


def validate(config: ml_collections.ConfigDict) -> None:
  """Raises `ConfigError` on the first field the zoo cannot use.

  The one check of a whole config, called once, before anything else runs
  (`zoo.experiment`). Model hyperparameters are checked by the models
  themselves, data paths by the data sources.
  """
  for field in ("model.name", "data.name"):
    value = _get(config, field)
    if not isinstance(value, str) or not value:
      _fail(field, value, "it must be a non-empty name")
  seed = _get(config, "seed")
  if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
    _fail("seed", seed, "it must be a non-negative integer")
  split_seed = config.data.get("split_seed")
  if split_seed is not None and (isinstance(split_seed, bool) or not
                                 isinstance(split_seed, int) or split_seed < 0):
    _fail("data.split_seed", split_seed,
          "it must be a non-negative integer, or None (the run's seed)")
  for field in ("train.num_epochs", "train.batch_size",
                "train.eval_batch_size", "train.log_every_steps",
                "train.steps_per_call"):
    _positive_int(config, field)
  unroll = _get(config, "train.scan_unroll")
  if isinstance(unroll, bool) or not isinstance(unroll, int) or unroll < 0:
    _fail("train.scan_unroll", unroll,
          "it must be 0 (auto) or a positive integer")
  if not isinstance(_get(config, "train.compilation_cache_dir"), str):
    _fail("train.compilation_cache_dir", config.train.compilation_cache_dir,
          "it must be 'auto', a folder, or '' (off)")
  _number_in(config, "optimizer.learning_rate", 0.0, 1e3, low_open=True)
  _number_in(config, "optimizer.weight_decay", 0.0, 1e3)
  _number_in(config, "optimizer.momentum", 0.0, 1.0)
  _number_in(config, "optimizer.l2", 0.0, 1e3)
  _number_in(config, "optimizer.clip_norm", 0.0, 1e9)
  _number_in(config, "train.label_smoothing", 0.0, 1.0, high_open=True)
  _boolean(config, "train.full_batch")
  _one_of(config, "train.precision", precision.PRECISIONS)
  _one_of(config, "optimizer.name", OPTIMIZERS)
  _one_of(config, "optimizer.schedule", SCHEDULES)
  _boolean(config, "optimizer.nesterov")
  if config.optimizer.nesterov and (config.optimizer.name != "sgd"
                                    or not config.optimizer.momentum):
    _fail("optimizer.nesterov", True,
          "Nesterov momentum needs optimizer.name='sgd' with "
          "optimizer.momentum > 0; set it to False")
  _number_in(config, "optimizer.warmup_epochs", 0.0, 1e6)
  # Again in steps, once the steps per epoch are known: optim.warmup_steps.
  if config.optimizer.warmup_epochs >= config.train.num_epochs:
    _fail("optimizer.warmup_epochs", config.optimizer.warmup_epochs,
          "the warmup must be shorter than the run "
          f"(train.num_epochs={config.train.num_epochs})")
  _check_augment(config)
  _ensemble(config)
  _number_in(config, "data.test_fraction", 0.0, 0.9, low_open=True)
  _number_in(config, "data.validation_fraction", 0.0, 0.9)
  _number_in(config, "data.download_timeout_s", 0.0, 600.0, low_open=True)
  _image_normalization(config)
  for field in ("distributed.initialization_timeout_s",
                "distributed.heartbeat_timeout_s"):
    _positive_int(config, field)
  for field in ("checkpoint.every_steps", "checkpoint.every_epochs"):
    _int_at_least(config, field, 0)
  _int_at_least(config, "checkpoint.keep", 1)
  _number_in(config, "checkpoint.min_interval_s", 0.0, 1e9)
  for field in ("report.progress_bar", "report.tensorboard", "report.plots",
                "data.allow_fallback"):
    _boolean(config, field)
