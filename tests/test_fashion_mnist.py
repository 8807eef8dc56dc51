"""Fashion-MNIST: the full set, its IDX files and names, offline."""

import numpy as np
import pytest

import zoo
from zoo import data
from zoo.data import idx

from data_helpers import load_data, fake_idx_dir, one_line

FASHION_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def test_real_fashion_mnist(base_config, fashion_mnist_dir):
  cfg = base_config.data
  cfg.name, cfg.dir = "fashion_mnist", str(fashion_mnist_dir)
  ds = load_data(cfg, 0)
  assert ds.name == "fashion_mnist" and ds.class_names == FASHION_NAMES
  assert ds.train.inputs.shape == (60000, 28, 28, 1)
  assert ds.test.inputs.shape == (10000, 28, 28, 1)
  for split in (ds.train, ds.test):
    assert split.inputs.dtype == np.float32 and split.labels.dtype == np.int32
    assert split.inputs.min() == 0.0 and split.inputs.max() == 1.0
  np.testing.assert_array_equal(np.bincount(ds.train.labels), [6000] * 10)
  np.testing.assert_array_equal(np.bincount(ds.test.labels), [1000] * 10)


def test_fashion_mnist_idx_files_get_its_names(tmp_path):
  ds = idx.load_idx_dir(str(fake_idx_dir(tmp_path)), "fashion_mnist")
  assert ds.name == "fashion_mnist" and ds.num_classes == 10
  assert ds.class_names == FASHION_NAMES
  assert ds.input_shape == (28, 28, 1) and len(ds.train) == 12


def test_fashion_mnist_missing_file_names_the_dataset(tmp_path):
  d = fake_idx_dir(tmp_path)
  (d / "train-labels-idx1-ubyte.gz").unlink()
  with pytest.raises(zoo.DataError) as e:
    idx.load_idx_dir(str(d), "fashion_mnist")
  assert one_line(e).startswith(
      f"Missing train-labels-idx1-ubyte.gz in data.dir={str(d)!r}. That "
      "directory must hold the four original Fashion-MNIST files: ")


def test_fashion_mnist_offline_is_an_error_not_a_fallback(base_config, offline,
                                                          tmp_path):
  cfg = base_config.data
  cfg.name, cfg.tfds_data_dir, cfg.allow_fallback = ("fashion_mnist",
                                                     str(tmp_path), True)
  with pytest.raises(zoo.DataError) as e:
    load_data(cfg, 0)
  message = one_line(e)
  assert message.startswith("fashion_mnist is not prepared in the TFDS data "
                             f"dir ({tmp_path}/fashion_mnist/")
  assert message.endswith(
      "To get fashion_mnist: run once with network access, or pass "
      "--config.data.dir=DIR with the four original Fashion-MNIST IDX .gz "
      "files (e.g. ../shared/data/fashion-mnist).")
