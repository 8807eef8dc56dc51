"""Data sources: the IDX reader, the TFDS path, the offline fallback."""

import gzip
import logging

import numpy as np
import pytest

import zoo
from zoo import data
from zoo.data import idx
from zoo.data import tfds_images
from zoo.data.splits import stratified_split

from data_helpers import load_data, fake_idx_dir, write_idx


def test_idx_roundtrip(tmp_path):
  array = np.arange(2 * 3 * 4).reshape(2, 3, 4)
  write_idx(tmp_path / "x.gz", array, idx.IMAGES_MAGIC)
  np.testing.assert_array_equal(idx.read_idx(str(tmp_path / "x.gz"),
                                             idx.IMAGES_MAGIC), array)


def test_load_mnist_dir_normalises_to_nhwc(tmp_path):
  ds = data.idx.load_mnist_dir(str(fake_idx_dir(tmp_path)))
  assert ds.input_shape == (28, 28, 1)
  assert len(ds.train) == 12 and len(ds.test) == 7
  assert ds.train.inputs.dtype == np.float32
  assert 0.0 <= ds.train.inputs.min() and ds.train.inputs.max() <= 1.0
  assert ds.train.labels.dtype == np.int32


def test_wrong_magic_names_the_file(tmp_path):
  d = fake_idx_dir(tmp_path)
  # Swap: a label file where the images should be.
  (d / "train-images-idx3-ubyte.gz").write_bytes(
      (d / "train-labels-idx1-ubyte.gz").read_bytes())
  with pytest.raises(zoo.DataError, match="train-images.*magic number 2049"):
    data.idx.load_mnist_dir(str(d))


def test_truncated_file_is_reported(tmp_path):
  d = fake_idx_dir(tmp_path)
  path = d / "t10k-images-idx3-ubyte.gz"
  with gzip.open(path, "rb") as f:
    raw = f.read()
  with gzip.open(path, "wb") as f:
    f.write(raw[:-100])
  with pytest.raises(zoo.DataError, match="t10k-images.*truncated"):
    data.idx.load_mnist_dir(str(d))


def test_corrupt_gzip_is_reported(tmp_path):
  d = fake_idx_dir(tmp_path)
  (d / "train-labels-idx1-ubyte.gz").write_bytes(b"not gzip at all")
  with pytest.raises(zoo.DataError, match="train-labels"):
    data.idx.load_mnist_dir(str(d))


def test_missing_file_lists_what_is_needed(tmp_path):
  d = fake_idx_dir(tmp_path)
  (d / "t10k-labels-idx1-ubyte.gz").unlink()
  with pytest.raises(zoo.DataError, match="Missing t10k-labels-idx1-ubyte.gz"):
    data.idx.load_mnist_dir(str(d))


def test_missing_directory(tmp_path):
  with pytest.raises(zoo.DataError, match="not a directory"):
    data.idx.load_mnist_dir(str(tmp_path / "nope"))


def test_count_mismatch(tmp_path):
  d = fake_idx_dir(tmp_path)
  write_idx(d / "train-labels-idx1-ubyte.gz", np.zeros(5), idx.LABELS_MAGIC)
  with pytest.raises(zoo.DataError, match="12 images but .* 5 labels"):
    data.idx.load_mnist_dir(str(d))


def test_real_mnist_5k(mnist_dir):
  ds = data.idx.load_mnist_dir(str(mnist_dir))
  assert (len(ds.train), len(ds.test)) == (5000, 10000)
  assert ds.input_shape == (28, 28, 1)
  np.testing.assert_array_equal(np.bincount(ds.train.labels), [500] * 10)


@pytest.fixture
def offline(monkeypatch):
  """TFDS has nothing prepared and its download host does not answer."""
  monkeypatch.setattr(tfds_images, "host_reachable", lambda *a: False)


def test_offline_falls_back_to_digits_with_a_warning(base_config, offline,
                                                     tmp_path):
  cfg = base_config.data
  cfg.name, cfg.allow_fallback = "mnist", True
  cfg.tfds_data_dir = str(tmp_path)
  ds = load_data(cfg, 0)
  assert ds.name == "digits"
  assert ds.input_shape == (8, 8, 1)
  assert any("FALLING BACK" in w and "data.dir" in w for w in ds.warnings)


def test_offline_without_fallback_is_an_error(base_config, offline, tmp_path):
  cfg = base_config.data
  cfg.name, cfg.allow_fallback = "mnist", False
  cfg.tfds_data_dir = str(tmp_path)
  with pytest.raises(zoo.DataError, match="allow_fallback=False"):
    load_data(cfg, 0)


def _variant_warnings(caplog, data_dir):
  """TFDS's "Variant folder ..." warnings while MNIST fails to load offline."""
  with caplog.at_level(logging.WARNING):
    with pytest.raises(tfds_images.DataUnavailableError, match="not prepared"):
      tfds_images.load_tfds_images("mnist", str(data_dir), timeout_s=0.1,
                                   how_to_get="get it", test_fraction=0.2,
                                   seed=0)
  return [r.getMessage() for r in caplog.records
          if r.getMessage().startswith("Variant folder")]


def test_offline_tfds_is_quiet_about_folders_it_never_made(offline, tmp_path,
                                                            caplog):
  filters = list(logging.getLogger("absl").filters)
  assert not _variant_warnings(caplog, tmp_path)
  assert logging.getLogger("absl").filters == filters  # Only during TFDS.


def test_offline_tfds_still_warns_about_a_broken_dataset_folder(
    offline, tmp_path, caplog):
  (tmp_path / "mnist" / "3.0.1").mkdir(parents=True)  # Without its files.
  [warning] = _variant_warnings(caplog, tmp_path)
  assert warning.endswith("mnist/3.0.1 has no dataset_info.json")


def test_unreachable_host_is_detected_quickly():
  # A port nothing listens on, on this machine: refused at once.
  assert not tfds_images.host_reachable(("127.0.0.1", 9), timeout_s=2.0)


def test_tfds_records_become_nhwc_floats():
  records = [{"image": np.full((28, 28, 1), 255, np.uint8), "label": 3},
             {"image": np.zeros((28, 28, 1), np.uint8), "label": 7}]

  class Source(list):
    def __getitems__(self, keys):
      return [self[k] for k in keys]

  split = tfds_images._to_split(Source(records))  # pylint: disable=protected-access
  assert split.inputs.shape == (2, 28, 28, 1)
  assert split.inputs.max() == 1.0 and split.inputs.min() == 0.0
  np.testing.assert_array_equal(split.labels, [3, 7])


def test_digits_split_is_seeded_and_disjoint(base_config):
  a = load_data(base_config.data, 0)
  b = load_data(base_config.data, 0)
  c = load_data(base_config.data, 1)
  np.testing.assert_array_equal(a.test.labels, b.test.labels)
  np.testing.assert_array_equal(a.test.inputs, b.test.inputs)
  assert not np.array_equal(a.test.inputs, c.test.inputs)
  assert len(a.train) + len(a.test) == 1797


def test_stratified_split_keeps_class_proportions():
  labels = np.repeat(np.arange(4), [40, 20, 20, 20])
  rest, held = stratified_split(labels, 0.25, seed=0)
  assert not set(rest) & set(held)
  assert len(rest) + len(held) == 100
  np.testing.assert_array_equal(np.bincount(labels[held]), [10, 5, 5, 5])


def test_unknown_dataset_name(base_config):
  base_config.data.name = "mnsit"
  with pytest.raises(zoo.ConfigError, match="Did you mean 'mnist'"):
    load_data(base_config.data, 0)
