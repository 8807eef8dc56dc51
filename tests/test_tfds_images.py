"""Any TensorFlow Datasets image-classification dataset by name."""

import types

import numpy as np
import pytest

import zoo
from zoo import data

from data_helpers import load_data, one_line

def test_list_datasets_has_the_zoo_names():
  assert data.list_datasets() == ["cifar10", "csv", "digits", "fashion_mnist",
                                  "mnist"]


def test_unknown_name_lists_the_zoo_names(base_config):
  base_config.data.name = "no_such_set"
  with pytest.raises(zoo.ConfigError) as e:
    load_data(base_config.data, 0)
  assert one_line(e) == (
      "Unknown dataset data.name='no_such_set'. Available: cifar10, csv, "
      "digits, fashion_mnist, mnist, or the name of any TensorFlow Datasets "
      "image-classification dataset (e.g. kmnist, svhn_cropped).")


def test_misspelt_tfds_name_gets_a_suggestion(base_config):
  base_config.data.name = "kmnsit"
  with pytest.raises(zoo.ConfigError, match="Did you mean 'kmnist'"):
    load_data(base_config.data, 0)


def test_tfds_name_that_is_not_image_classification(base_config):
  base_config.data.name = "binarized_mnist"  # Images without labels.
  with pytest.raises(zoo.ConfigError) as e:
    load_data(base_config.data, 0)
  assert one_line(e) == (
      "data.name='binarized_mnist' is a TensorFlow Datasets dataset but not "
      "one the zoo can train on: it has no class-label feature (its "
      "features: image). TFDS names must be image-classification datasets "
      "with fixed-size images (e.g. kmnist, svhn_cropped).")


def test_tfds_name_with_an_unknown_config(base_config, tmp_path):
  base_config.data.name = "emnist/letterz"
  base_config.data.tfds_data_dir = str(tmp_path)
  with pytest.raises(zoo.ConfigError) as e:
    load_data(base_config.data, 0)
  message = one_line(e)
  assert message.startswith("TensorFlow Datasets cannot build "
                            "data.name='emnist/letterz': Failed to construct")
  assert "letterz not found" in message and message.endswith("Fix data.name.")


def test_tfds_name_offline_is_an_error_even_with_fallback(base_config, offline,
                                                          tmp_path):
  cfg = base_config.data
  cfg.name, cfg.tfds_data_dir, cfg.allow_fallback = ("kmnist", str(tmp_path),
                                                     True)
  with pytest.raises(zoo.DataError) as e:
    load_data(cfg, 0)
  assert one_line(e).endswith(
      "To get kmnist: run once with network access, or copy a TFDS data dir "
      "in which kmnist is prepared and pass it as "
      "--config.data.tfds_data_dir=DIR.")


def test_data_dir_with_a_tfds_only_name(base_config):
  base_config.data.name, base_config.data.dir = "kmnist", "/some/where"
  with pytest.raises(zoo.ConfigError) as e:
    load_data(base_config.data, 0)
  assert one_line(e) == (
      "config.data.dir='/some/where' is read only for mnist, fashion_mnist, "
      "cifar10; data.name='kmnist' comes from TensorFlow Datasets. Leave "
      "data.dir empty (--config.data.dir=).")


class _Records(list):
  """A TFDS data source: `__getitems__` and `len`."""

  def __getitems__(self, keys):
    return [self[k] for k in keys]


@pytest.fixture
def fake_tfds(monkeypatch):
  """TFDS with one prepared 4x4 RGB dataset; returns its splits' records."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  splits = {}

  def records(n):
    return _Records(
        {"image": rng.integers(0, 256, (4, 4, 3), np.uint8), "label": i % 3,
         "id": f"x{i}"} for i in range(n))

  def builder(name, data_dir=None):
    features = {"id": tfds.features.Text(),
                "image": tfds.features.Image(shape=(4, 4, 3)),
                "label": tfds.features.ClassLabel(names=["a", "b", "c"])}
    info = types.SimpleNamespace(features=features,
                                 supervised_keys=("image", "label"))
    return types.SimpleNamespace(info=info, is_prepared=lambda: True,
                                 data_dir=f"{data_dir}/{name}/1.0.0")

  monkeypatch.setattr(tfds, "builder", builder)
  monkeypatch.setattr(tfds, "data_source", lambda *a, **k: splits)
  splits["train"] = records(30)
  return splits, records


def test_generic_tfds_path_reads_any_image_dataset(base_config, fake_tfds):
  splits, records = fake_tfds
  splits["test"] = records(6)
  base_config.data.name = "cifar10"  # Without data.dir: TFDS.
  ds = load_data(base_config.data, 0)
  assert ds.name == "cifar10" and ds.class_names == ("a", "b", "c")
  assert ds.input_shape == (4, 4, 3)
  assert (len(ds.train), len(ds.test)) == (30, 6)
  np.testing.assert_array_equal(ds.test.inputs[2] * 255,
                                splits["test"][2]["image"])
  assert ds.test.labels.tolist() == [0, 1, 2, 0, 1, 2]


def test_generic_tfds_path_holds_out_a_test_split_when_none(base_config,
                                                            fake_tfds):
  base_config.data.name = "svhn_cropped"
  base_config.data.test_fraction = 0.2
  ds = load_data(base_config.data, 0)
  assert (len(ds.train), len(ds.test)) == (24, 6)
  np.testing.assert_array_equal(np.bincount(ds.test.labels), [2, 2, 2])
  assert "no test split: 0.2 of train held out" in ds.source
