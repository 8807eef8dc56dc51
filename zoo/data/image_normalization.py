"""Per-channel standardisation of images (`data.image_normalization`).

'none' leaves pixels in [0, 1]. 'per_channel' maps each channel to
`(x - mean) / std` with the mean and std of that channel over the training
split only; 'fixed' uses `data.image_mean` and `data.image_std` instead. The
values used are recorded in `Dataset.preprocessing` (saved with the run as
`preprocessing.json`) and `apply` does the same to new images.
"""

import dataclasses
from typing import Any, Optional, Sequence

import numpy as np

from zoo import errors
from zoo.data.dataset import Dataset, Split

MODES = ("none", "per_channel", "fixed")
_CHUNK = 4096  # Examples per pass: bounds the float64 temporaries.


def channel_stats(inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Mean and std `[c]` (float64) of `inputs` `[n, ..., c]` per channel."""
  channels = inputs.shape[-1]
  count = inputs.size // channels
  axes = tuple(range(inputs.ndim - 1))
  chunks = [inputs[i:i + _CHUNK] for i in range(0, inputs.shape[0], _CHUNK)]
  mean = sum(c.sum(axis=axes, dtype=np.float64) for c in chunks) / count
  sq = sum(np.square(c.astype(np.float64) - mean).sum(axis=axes)
           for c in chunks)
  return mean, np.sqrt(sq / count)


def apply(inputs: np.ndarray, preprocessing: dict[str, Any]) -> np.ndarray:
  """`(inputs - image_mean) / image_std` per channel (last axis), float32."""
  mean = np.asarray(preprocessing["image_mean"], np.float32)
  std = np.asarray(preprocessing["image_std"], np.float32)
  out = np.subtract(inputs, mean, dtype=np.float32)
  out /= std
  return out


def fit(dataset: Dataset, mode: str, mean: Sequence[float] = (),
        std: Sequence[float] = ()) -> Optional[dict[str, Any]]:
  """The preprocessing record of `mode` for `dataset` (None for 'none').

  'per_channel' computes the statistics on `dataset.train` only, so carve
  the validation split first.
  """
  if mode == "none":
    return None
  shape = dataset.input_shape
  if len(shape) != 3:
    raise errors.ConfigError(
        f"config.data.image_normalization={mode!r} needs images [h, w, "
        f"channels]; {dataset.name} examples have shape {shape}. Use 'none' "
        "(CSV tables are scaled by data.standardize).")
  if mode == "per_channel":
    values = channel_stats(dataset.train.inputs)
    constant = values[1] < 1e-12
    values = (values[0], np.where(constant, 1.0, values[1]))
    fitted_on = f"train split ({len(dataset.train)} examples)"
  elif mode == "fixed":
    values = (np.asarray(mean, np.float64), np.asarray(std, np.float64))
    fitted_on = "config (data.image_mean, data.image_std)"
    if values[0].shape != (shape[-1],) or values[1].shape != (shape[-1],):
      raise errors.ConfigError(
          f"config.data.image_mean={tuple(mean)!r} and data.image_std="
          f"{tuple(std)!r} need one value per channel; {dataset.name} images "
          f"{shape} have {shape[-1]}. Fix them with "
          "--config.data.image_mean='(...)' --config.data.image_std='(...)'.")
  else:
    raise errors.ConfigError(
        f"config.data.image_normalization={mode!r} is invalid: choose one of "
        f"{', '.join(MODES)}.")
  return {"image_normalization": mode,
          "image_mean": values[0].tolist(), "image_std": values[1].tolist(),
          "fitted_on": fitted_on}


def normalize(dataset: Dataset, preprocessing: dict[str, Any]) -> Dataset:
  """`dataset` with `apply` done to every split and `preprocessing` set."""
  scale = lambda s: None if s is None else Split(
      apply(s.inputs, preprocessing), s.labels)
  return dataclasses.replace(
      dataset, train=scale(dataset.train), test=scale(dataset.test),
      validation=scale(dataset.validation), preprocessing=preprocessing)
