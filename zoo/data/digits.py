"""scikit-learn's 8x8 handwritten digits: real data that needs no download."""

import numpy as np

from zoo.data.dataset import Dataset, Split
from zoo.data.splits import stratified_split


def load_digits(seed: int, test_fraction: float) -> Dataset:
  """1,797 8x8 digit images in [0, 1], NHWC, split stratified by `seed`."""
  from sklearn import datasets  # pylint: disable=g-import-not-at-top
  bunch = datasets.load_digits()
  inputs = (bunch.images.astype(np.float32) / 16.0)[..., None]
  labels = bunch.target.astype(np.int32)
  train_idx, test_idx = stratified_split(labels, test_fraction, seed)
  return Dataset(
      name="digits",
      train=Split(inputs[train_idx], labels[train_idx]),
      test=Split(inputs[test_idx], labels[test_idx]),
      num_classes=10,
      class_names=tuple(str(i) for i in range(10)),
      source="scikit-learn load_digits (8x8, bundled with scikit-learn)")
