"""The CIFAR-10 reader on generated files in the official format, pixel by
pixel, and its one-line errors."""

import numpy as np
import pytest

import zoo
from zoo import data
from zoo.data import cifar10

from data_helpers import (load_data, CIFAR_NAMES, cifar_rows, fake_cifar_dir,
                          one_line, write_pickle)

def test_cifar10_pixels_land_at_row_col_channel(tmp_path):
  d = fake_cifar_dir(tmp_path)
  rows = np.zeros((2, 3072), np.uint8)
  # Image 1: red (row 0, col 5) = 10, green (row 2, col 3) = 200, blue
  # (row 31, col 31) = 255. Channel-major: plane c, then row, then column.
  rows[1, 0 * 1024 + 0 * 32 + 5] = 10
  rows[1, 1 * 1024 + 2 * 32 + 3] = 200
  rows[1, 2 * 1024 + 31 * 32 + 31] = 255
  write_pickle(d / "test_batch", {b"data": rows, b"labels": [4, 7]})
  ds = cifar10.load_cifar10_dir(str(d))
  x = ds.test.inputs
  assert x.shape == (2, 32, 32, 3) and x.dtype == np.float32
  assert x[1, 0, 5, 0] == np.float32(10 / 255)
  assert x[1, 2, 3, 1] == np.float32(200 / 255)
  assert x[1, 31, 31, 2] == 1.0
  assert np.count_nonzero(x) == 3  # Nothing else moved there.
  np.testing.assert_array_equal(ds.test.labels, [4, 7])


def test_cifar10_matches_the_official_layout_pixel_by_pixel(tmp_path):
  ds = cifar10.load_cifar10_dir(str(fake_cifar_dir(tmp_path)))
  raw = cifar_rows(3, 2)  # data_batch_3: train images 6, 7, 8.
  for i in range(3):
    for c in range(3):
      for r in range(32):
        expected = raw[i, c * 1024 + r * 32:c * 1024 + (r + 1) * 32] / 255
        np.testing.assert_allclose(ds.train.inputs[6 + i, r, :, c], expected,
                                   rtol=1e-6)


@pytest.mark.parametrize("str_keys", [False, True])
def test_cifar10_labels_and_names(tmp_path, str_keys):
  ds = cifar10.load_cifar10_dir(str(fake_cifar_dir(tmp_path,
                                                    str_keys=str_keys)))
  assert ds.name == "cifar10" and ds.num_classes == 10
  assert ds.class_names == CIFAR_NAMES
  assert ds.train.labels.dtype == np.int32
  assert ds.train.labels.tolist() == [i % 10 for i in range(15)]
  assert ds.test.labels.tolist() == [9, 8, 7, 6]
  assert 0.0 <= ds.train.inputs.min() and ds.train.inputs.max() <= 1.0


def test_cifar10_through_load(base_config, tmp_path):
  cfg = base_config.data
  cfg.name, cfg.dir = "cifar10", str(fake_cifar_dir(tmp_path))
  ds = load_data(cfg, 0)
  assert ds.input_shape == (32, 32, 3)
  assert (len(ds.train), len(ds.test)) == (15, 4)
  assert ds.preprocessing is None and ds.validation is None  # As before.


def _truncate(path):
  path.write_bytes(path.read_bytes()[:100])


def _replace(name, content):
  return lambda d: write_pickle(d / name, content)


@pytest.mark.parametrize("corrupt,message", [
    (lambda d: (d / "data_batch_4").unlink(),
     "Missing data_batch_4 in data.dir={d!r}: it must be the "
     "cifar-10-batches-py folder that cifar-10-python.tar.gz extracts to "
     "(data_batch_1 ... data_batch_5, test_batch, batches.meta)."),
    (lambda d: _truncate(d / "data_batch_2"),
     "Cannot unpickle {d}/data_batch_2 (UnpicklingError: pickle data was "
     "truncated): it is truncated or corrupt; extract cifar-10-python.tar.gz "
     "again."),
    (_replace("test_batch", {b"data": np.zeros((2, 3000), np.uint8),
                             b"labels": [0, 1]}),
     "{d}/test_batch: 'data' is a uint8 array of shape (2, 3000); a CIFAR-10 "
     "batch holds uint8 [n, 3072] (3 x 32 x 32 per image). Is it the right "
     "file? Else extract cifar-10-python.tar.gz again."),
    (_replace("data_batch_1", {b"data": np.zeros((2, 3072), np.uint8),
                               b"labels": [0, 1, 2]}),
     "{d}/data_batch_1: 'labels' has shape (3,) but 'data' holds 2 images; "
     "there must be one label per image. Extract cifar-10-python.tar.gz "
     "again."),
    (_replace("data_batch_1", {b"data": np.zeros((2, 3072), np.uint8),
                               b"labels": [0, 10]}),
     "{d}/data_batch_1: 'labels' must be integers in 0-9; found int64 values "
     "outside that. Extract cifar-10-python.tar.gz again."),
    (_replace("data_batch_5", {b"labels": [0, 1]}),
     "{d}/data_batch_5 has no 'data' entry (its keys: b'labels'); a CIFAR-10 "
     "python batch has b'data' and b'labels', batches.meta b'label_names'. "
     "Is it the right file? Else extract cifar-10-python.tar.gz again."),
    (_replace("batches.meta", {b"num_vis": 3072}),
     "{d}/batches.meta has no 'label_names' entry (its keys: b'num_vis'); a "
     "CIFAR-10 python batch has b'data' and b'labels', batches.meta "
     "b'label_names'. Is it the right file? Else extract "
     "cifar-10-python.tar.gz again."),
    (_replace("test_batch", [1, 2, 3]),
     "{d}/test_batch holds a list, not the dict of a CIFAR-10 python batch; "
     "is it the right file? Else extract cifar-10-python.tar.gz again."),
], ids=["missing_batch", "truncated", "wrong_size", "label_count",
        "label_range", "missing_key", "missing_names", "not_a_dict"])
def test_cifar10_bad_input_is_a_one_line_error(tmp_path, corrupt, message):
  d = fake_cifar_dir(tmp_path)
  corrupt(d)
  with pytest.raises(zoo.DataError) as e:
    cifar10.load_cifar10_dir(str(d))
  assert one_line(e) == message.format(d=str(d))


def test_cifar10_dir_that_is_not_a_directory(tmp_path):
  with pytest.raises(zoo.DataError) as e:
    cifar10.load_cifar10_dir(str(tmp_path / "nope"))
  assert one_line(e) == (
      f"data.dir={str(tmp_path / 'nope')!r} is not a directory. Point it at "
      "the cifar-10-batches-py folder that cifar-10-python.tar.gz extracts "
      "to, or leave it empty to use TensorFlow Datasets.")


def test_cifar10_parent_folder_points_at_the_batches(tmp_path):
  fake_cifar_dir(tmp_path)
  with pytest.raises(zoo.DataError) as e:
    cifar10.load_cifar10_dir(str(tmp_path))
  assert one_line(e).endswith(
      f" It has a cifar-10-batches-py folder: use --config.data.dir="
      f"{tmp_path}/cifar-10-batches-py.")


def test_cifar10_offline_says_how_to_get_it(base_config, offline, tmp_path):
  cfg = base_config.data
  cfg.name, cfg.tfds_data_dir, cfg.allow_fallback = ("cifar10", str(tmp_path),
                                                     True)
  with pytest.raises(zoo.DataError) as e:
    load_data(cfg, 0)
  assert one_line(e).endswith(
      "within 5 s (offline?). To get cifar10: run once with network access, "
      "or pass --config.data.dir=DIR, the cifar-10-batches-py folder "
      "extracted from https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz.")
  assert "www.cs.toronto.edu did not answer" in str(e.value)
