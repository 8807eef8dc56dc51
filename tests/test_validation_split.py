"""The validation split: stratified, seeded, disjoint from train; carved by
`setup` only when the source has none."""

import dataclasses

import numpy as np
import pytest

from zoo import errors
from zoo.config import resolve
from zoo.data import Dataset, Split
from zoo.data import splits
from zoo import train


def _dataset(counts=(50, 30, 20)) -> Dataset:
  """Example i has input value i, so splits can be traced back to rows."""
  labels = np.concatenate([np.full(c, k, np.int32)
                           for k, c in enumerate(counts)])
  inputs = np.arange(len(labels), dtype=np.float32)[:, None]
  test = Split(inputs[:4], labels[:4])
  return Dataset(name="toy", train=Split(inputs, labels), test=test,
                 num_classes=len(counts),
                 class_names=tuple(map(str, range(len(counts)))), source="t")


def _ids(split: Split) -> set[int]:
  return set(split.inputs[:, 0].astype(int).tolist())


def test_validation_is_disjoint_from_train_and_covers_it():
  ds = _dataset()
  out = splits.with_validation(ds, 0.2, seed=3)
  train, val = _ids(out.train), _ids(out.validation)
  assert not train & val
  assert train | val == _ids(ds.train)
  assert len(val) == 20
  # Labels travel with their inputs.
  np.testing.assert_array_equal(
      out.validation.labels, ds.train.labels[out.validation.inputs[:, 0]
                                             .astype(int)])


def test_validation_is_stratified():
  out = splits.with_validation(_dataset((50, 30, 20)), 0.2, seed=0)
  np.testing.assert_array_equal(np.bincount(out.validation.labels), [10, 6, 4])
  np.testing.assert_array_equal(np.bincount(out.train.labels), [40, 24, 16])


def test_validation_depends_on_seed_only():
  a = splits.with_validation(_dataset(), 0.2, seed=1)
  b = splits.with_validation(_dataset(), 0.2, seed=1)
  c = splits.with_validation(_dataset(), 0.2, seed=2)
  assert _ids(a.validation) == _ids(b.validation)
  assert _ids(a.validation) != _ids(c.validation)


def test_validation_is_not_the_test_split_of_the_same_seed():
  # 'digits' carves its test split with the plain seed; validation must not
  # pick the same rows for the same fraction.
  labels = _dataset().train.labels
  _, test_idx = splits.stratified_split(labels, 0.2, 5)
  val = splits.with_validation(_dataset(), 0.2, seed=5).validation
  assert set(test_idx.tolist()) != _ids(val)


def test_zero_fraction_disables_validation():
  ds = _dataset()
  assert splits.with_validation(ds, 0.0, seed=0) is ds


def test_fraction_that_holds_out_nothing_is_a_config_error():
  with pytest.raises(errors.ConfigError, match="validation_fraction"):
    splits.with_validation(_dataset((1, 1, 1)), 0.2, seed=0)


def test_setup_carves_validation(base_config):
  s = train.setup(resolve.resolve(base_config))
  ds = s.dataset
  assert ds.validation is not None
  total = len(ds.train) + len(ds.validation)
  assert len(ds.validation) == pytest.approx(0.1 * total, abs=10)
  assert s.steps_per_epoch == len(ds.train) // base_config.train.batch_size


def test_setup_keeps_a_source_validation_split(base_config, monkeypatch):
  own = _dataset()
  own = dataclasses.replace(
      own, train=Split(np.zeros((128, 8, 8, 1), np.float32),
                       np.arange(128, dtype=np.int32) % 3),
      test=Split(np.zeros((4, 8, 8, 1), np.float32), np.zeros(4, np.int32)),
      validation=Split(np.zeros((7, 8, 8, 1), np.float32),
                       np.zeros(7, np.int32)))
  monkeypatch.setattr(train.build.data, "load", lambda cfg: own)
  s = train.setup(resolve.resolve(base_config))
  assert len(s.dataset.validation) == 7
  assert len(s.dataset.train) == 128
