"""Seeded, stratified index splits, and the validation split of a dataset."""

import dataclasses
from typing import Sequence, Union

import numpy as np

from zoo import errors
from zoo.data.dataset import Dataset, Split

Seed = Union[int, Sequence[int]]

# Mixed into the seed so the validation split is independent of the test split
# that some sources (e.g. 'digits') carve with the plain seed.
_VALIDATION_STREAM = 1


def stratified_split(labels: np.ndarray, fraction: float,
                     seed: Seed) -> tuple[np.ndarray, np.ndarray]:
  """Splits indices of `labels` into (rest, held_out), stratified by class.

  Each class contributes round(fraction * count) examples (at least one when
  it has two or more) to `held_out`. Both index arrays are sorted.
  """
  rng = np.random.default_rng(seed)
  rest, held_out = [], []
  for c in np.unique(labels):
    idx = rng.permutation(np.flatnonzero(labels == c))
    k = int(round(fraction * len(idx)))
    if fraction > 0 and len(idx) > 1:
      k = min(max(k, 1), len(idx) - 1)
    held_out.append(idx[:k])
    rest.append(idx[k:])
  return np.sort(np.concatenate(rest)), np.sort(np.concatenate(held_out))


def with_validation(dataset: Dataset, fraction: float, seed: int) -> Dataset:
  """Moves a stratified, seeded `fraction` of `dataset.train` to `validation`.

  The two splits are disjoint and together are the old training split.
  `fraction == 0` returns `dataset` unchanged (no validation split).
  """
  if fraction <= 0:
    return dataset
  if dataset.validation is not None:
    raise ValueError(f"{dataset.name} already has a validation split.")
  train = dataset.train
  rest, held_out = stratified_split(train.labels, fraction,
                                    (seed, _VALIDATION_STREAM))
  if not len(held_out):
    raise errors.ConfigError(
        f"config.data.validation_fraction={fraction} holds out no example of "
        f"the {len(train)} training examples of {dataset.name}. Use a larger "
        "fraction, or 0 to train without a validation split.")
  return dataclasses.replace(
      dataset,
      train=Split(train.inputs[rest], train.labels[rest]),
      validation=Split(train.inputs[held_out], train.labels[held_out]))
