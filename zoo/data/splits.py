"""Seeded, stratified index splits."""

import numpy as np


def stratified_split(labels: np.ndarray, fraction: float,
                     seed: int) -> tuple[np.ndarray, np.ndarray]:
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
