"""Fashion-MNIST, CIFAR-10, any TFDS image set, and image normalisation."""

import gzip
import json
import pickle
import re
import struct
import types

import numpy as np
import pytest

import zoo
from zoo import data
from zoo import experiment
from zoo.config import resume_rules
from zoo.config import serialize
from zoo.config import validation
from zoo.data import cifar10
from zoo.data import idx
from zoo.data import tfds_images
from zoo.data.splits import with_validation

FASHION_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
CIFAR_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
               "horse", "ship", "truck")


@pytest.fixture
def offline(monkeypatch):
  """TFDS has nothing prepared and no download host answers."""
  monkeypatch.setattr(tfds_images, "host_reachable", lambda *a: False)


def _one_line(error: pytest.ExceptionInfo) -> str:
  message = str(error.value)
  assert "\n" not in message, message
  return message


# --- Fashion-MNIST -----------------------------------------------------------


def _write_idx(path, array, magic):
  header = struct.pack(">I", magic) + b"".join(
      struct.pack(">I", d) for d in array.shape)
  with gzip.open(path, "wb") as f:
    f.write(header + array.astype(np.uint8).tobytes())


def _fake_idx_dir(tmp_path, n_train=12, n_test=7):
  rng = np.random.default_rng(0)
  for split, n in (("train", n_train), ("test", n_test)):
    images_name, labels_name = idx.FILES[split]
    _write_idx(tmp_path / f"{images_name}.gz",
               rng.integers(0, 256, (n, 28, 28)), idx.IMAGES_MAGIC)
    _write_idx(tmp_path / f"{labels_name}.gz", rng.integers(0, 10, (n,)),
               idx.LABELS_MAGIC)
  return tmp_path


def test_real_fashion_mnist(base_config, fashion_mnist_dir):
  cfg = base_config.data
  cfg.name, cfg.dir = "fashion_mnist", str(fashion_mnist_dir)
  ds = data.load(cfg, seed=0)
  assert ds.name == "fashion_mnist" and ds.class_names == FASHION_NAMES
  assert ds.train.inputs.shape == (60000, 28, 28, 1)
  assert ds.test.inputs.shape == (10000, 28, 28, 1)
  for split in (ds.train, ds.test):
    assert split.inputs.dtype == np.float32 and split.labels.dtype == np.int32
    assert split.inputs.min() == 0.0 and split.inputs.max() == 1.0
  np.testing.assert_array_equal(np.bincount(ds.train.labels), [6000] * 10)
  np.testing.assert_array_equal(np.bincount(ds.test.labels), [1000] * 10)


def test_fashion_mnist_idx_files_get_its_names(tmp_path):
  ds = idx.load_idx_dir(str(_fake_idx_dir(tmp_path)), "fashion_mnist")
  assert ds.name == "fashion_mnist" and ds.num_classes == 10
  assert ds.class_names == FASHION_NAMES
  assert ds.input_shape == (28, 28, 1) and len(ds.train) == 12


def test_fashion_mnist_missing_file_names_the_dataset(tmp_path):
  d = _fake_idx_dir(tmp_path)
  (d / "train-labels-idx1-ubyte.gz").unlink()
  with pytest.raises(zoo.DataError) as e:
    idx.load_idx_dir(str(d), "fashion_mnist")
  assert _one_line(e).startswith(
      f"Missing train-labels-idx1-ubyte.gz in data.dir={str(d)!r}. That "
      "directory must hold the four original Fashion-MNIST files: ")


def test_fashion_mnist_offline_is_an_error_not_a_fallback(base_config, offline,
                                                          tmp_path):
  cfg = base_config.data
  cfg.name, cfg.tfds_data_dir, cfg.allow_fallback = ("fashion_mnist",
                                                     str(tmp_path), True)
  with pytest.raises(zoo.DataError) as e:
    data.load(cfg, seed=0)
  message = _one_line(e)
  assert message.startswith("fashion_mnist is not prepared in the TFDS data "
                             f"dir ({tmp_path}/fashion_mnist/")
  assert message.endswith(
      "To get fashion_mnist: run once with network access, or pass "
      "--config.data.dir=DIR with the four original Fashion-MNIST IDX .gz "
      "files (e.g. ../shared/data/fashion-mnist).")


# --- CIFAR-10 ----------------------------------------------------------------


def _cifar_rows(n: int, seed: int) -> np.ndarray:
  return np.random.default_rng(seed).integers(0, 256, (n, 3072), np.uint8)


def _pickle(path, content):
  with open(path, "wb") as f:
    pickle.dump(content, f)


def _fake_cifar_dir(tmp_path, n=3, n_test=4, str_keys=False):
  """The official layout: five train batches of `n`, a test batch, meta.

  Image i of train batch b has label (b * n + i) % 10; test image i has 9 - i.
  """
  key = (lambda k: k) if str_keys else (lambda k: k.encode())
  d = tmp_path / "cifar-10-batches-py"
  d.mkdir()
  for b, name in enumerate(cifar10.TRAIN_FILES):
    _pickle(d / name, {key("batch_label"): b"training batch",
                       key("data"): _cifar_rows(n, b),
                       key("labels"): [(b * n + i) % 10 for i in range(n)],
                       key("filenames"): [b"x.png"] * n})
  _pickle(d / "test_batch", {key("data"): _cifar_rows(n_test, 99),
                             key("labels"): [9 - i for i in range(n_test)]})
  names = CIFAR_NAMES if str_keys else [c.encode() for c in CIFAR_NAMES]
  _pickle(d / "batches.meta", {key("label_names"): list(names),
                               key("num_vis"): 3072})
  return d


def test_cifar10_pixels_land_at_row_col_channel(tmp_path):
  d = _fake_cifar_dir(tmp_path)
  rows = np.zeros((2, 3072), np.uint8)
  # Image 1: red (row 0, col 5) = 10, green (row 2, col 3) = 200, blue
  # (row 31, col 31) = 255. Channel-major: plane c, then row, then column.
  rows[1, 0 * 1024 + 0 * 32 + 5] = 10
  rows[1, 1 * 1024 + 2 * 32 + 3] = 200
  rows[1, 2 * 1024 + 31 * 32 + 31] = 255
  _pickle(d / "test_batch", {b"data": rows, b"labels": [4, 7]})
  ds = cifar10.load_cifar10_dir(str(d))
  x = ds.test.inputs
  assert x.shape == (2, 32, 32, 3) and x.dtype == np.float32
  assert x[1, 0, 5, 0] == np.float32(10 / 255)
  assert x[1, 2, 3, 1] == np.float32(200 / 255)
  assert x[1, 31, 31, 2] == 1.0
  assert np.count_nonzero(x) == 3  # Nothing else moved there.
  np.testing.assert_array_equal(ds.test.labels, [4, 7])


def test_cifar10_matches_the_official_layout_pixel_by_pixel(tmp_path):
  ds = cifar10.load_cifar10_dir(str(_fake_cifar_dir(tmp_path)))
  raw = _cifar_rows(3, 2)  # data_batch_3: train images 6, 7, 8.
  for i in range(3):
    for c in range(3):
      for r in range(32):
        expected = raw[i, c * 1024 + r * 32:c * 1024 + (r + 1) * 32] / 255
        np.testing.assert_allclose(ds.train.inputs[6 + i, r, :, c], expected,
                                   rtol=1e-6)


@pytest.mark.parametrize("str_keys", [False, True])
def test_cifar10_labels_and_names(tmp_path, str_keys):
  ds = cifar10.load_cifar10_dir(str(_fake_cifar_dir(tmp_path,
                                                    str_keys=str_keys)))
  assert ds.name == "cifar10" and ds.num_classes == 10
  assert ds.class_names == CIFAR_NAMES
  assert ds.train.labels.dtype == np.int32
  assert ds.train.labels.tolist() == [i % 10 for i in range(15)]
  assert ds.test.labels.tolist() == [9, 8, 7, 6]
  assert 0.0 <= ds.train.inputs.min() and ds.train.inputs.max() <= 1.0


def test_cifar10_through_load(base_config, tmp_path):
  cfg = base_config.data
  cfg.name, cfg.dir = "cifar10", str(_fake_cifar_dir(tmp_path))
  ds = data.load(cfg, seed=0)
  assert ds.input_shape == (32, 32, 3)
  assert (len(ds.train), len(ds.test)) == (15, 4)
  assert ds.preprocessing is None and ds.validation is None  # As before.


def _truncate(path):
  path.write_bytes(path.read_bytes()[:100])


def _replace(name, content):
  return lambda d: _pickle(d / name, content)


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
  d = _fake_cifar_dir(tmp_path)
  corrupt(d)
  with pytest.raises(zoo.DataError) as e:
    cifar10.load_cifar10_dir(str(d))
  assert _one_line(e) == message.format(d=str(d))


def test_cifar10_dir_that_is_not_a_directory(tmp_path):
  with pytest.raises(zoo.DataError) as e:
    cifar10.load_cifar10_dir(str(tmp_path / "nope"))
  assert _one_line(e) == (
      f"data.dir={str(tmp_path / 'nope')!r} is not a directory. Point it at "
      "the cifar-10-batches-py folder that cifar-10-python.tar.gz extracts "
      "to, or leave it empty to use TensorFlow Datasets.")


def test_cifar10_parent_folder_points_at_the_batches(tmp_path):
  _fake_cifar_dir(tmp_path)
  with pytest.raises(zoo.DataError) as e:
    cifar10.load_cifar10_dir(str(tmp_path))
  assert _one_line(e).endswith(
      f" It has a cifar-10-batches-py folder: use --config.data.dir="
      f"{tmp_path}/cifar-10-batches-py.")


def test_cifar10_offline_says_how_to_get_it(base_config, offline, tmp_path):
  cfg = base_config.data
  cfg.name, cfg.tfds_data_dir, cfg.allow_fallback = ("cifar10", str(tmp_path),
                                                     True)
  with pytest.raises(zoo.DataError) as e:
    data.load(cfg, seed=0)
  assert _one_line(e).endswith(
      "within 5 s (offline?). To get cifar10: run once with network access, "
      "or pass --config.data.dir=DIR, the cifar-10-batches-py folder "
      "extracted from https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz.")
  assert "www.cs.toronto.edu did not answer" in str(e.value)


# --- Any TFDS image-classification dataset -----------------------------------


def test_list_datasets_has_the_zoo_names():
  assert data.list_datasets() == ["cifar10", "csv", "digits", "fashion_mnist",
                                  "mnist"]


def test_unknown_name_lists_the_zoo_names(base_config):
  base_config.data.name = "no_such_set"
  with pytest.raises(zoo.ConfigError) as e:
    data.load(base_config.data, seed=0)
  assert _one_line(e) == (
      "Unknown dataset data.name='no_such_set'. Available: cifar10, csv, "
      "digits, fashion_mnist, mnist, or the name of any TensorFlow Datasets "
      "image-classification dataset (e.g. kmnist, svhn_cropped).")


def test_misspelt_tfds_name_gets_a_suggestion(base_config):
  base_config.data.name = "kmnsit"
  with pytest.raises(zoo.ConfigError, match="Did you mean 'kmnist'"):
    data.load(base_config.data, seed=0)


def test_tfds_name_that_is_not_image_classification(base_config):
  base_config.data.name = "binarized_mnist"  # Images without labels.
  with pytest.raises(zoo.ConfigError) as e:
    data.load(base_config.data, seed=0)
  assert _one_line(e) == (
      "data.name='binarized_mnist' is a TensorFlow Datasets dataset but not "
      "one the zoo can train on: it has no class-label feature (its "
      "features: image). TFDS names must be image-classification datasets "
      "with fixed-size images (e.g. kmnist, svhn_cropped).")


def test_tfds_name_with_an_unknown_config(base_config, tmp_path):
  base_config.data.name = "emnist/letterz"
  base_config.data.tfds_data_dir = str(tmp_path)
  with pytest.raises(zoo.ConfigError) as e:
    data.load(base_config.data, seed=0)
  message = _one_line(e)
  assert message.startswith("TensorFlow Datasets cannot build "
                            "data.name='emnist/letterz': Failed to construct")
  assert "letterz not found" in message and message.endswith("Fix data.name.")


def test_tfds_name_offline_is_an_error_even_with_fallback(base_config, offline,
                                                          tmp_path):
  cfg = base_config.data
  cfg.name, cfg.tfds_data_dir, cfg.allow_fallback = ("kmnist", str(tmp_path),
                                                     True)
  with pytest.raises(zoo.DataError) as e:
    data.load(cfg, seed=0)
  assert _one_line(e).endswith(
      "To get kmnist: run once with network access, or copy a TFDS data dir "
      "in which kmnist is prepared and pass it as "
      "--config.data.tfds_data_dir=DIR.")


def test_data_dir_with_a_tfds_only_name(base_config):
  base_config.data.name, base_config.data.dir = "kmnist", "/some/where"
  with pytest.raises(zoo.ConfigError) as e:
    data.load(base_config.data, seed=0)
  assert _one_line(e) == (
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
  ds = data.load(base_config.data, seed=0)
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
  ds = data.load(base_config.data, seed=0)
  assert (len(ds.train), len(ds.test)) == (24, 6)
  np.testing.assert_array_equal(np.bincount(ds.test.labels), [2, 2, 2])
  assert "no test split: 0.2 of train held out" in ds.source


# --- Image normalisation -----------------------------------------------------


def test_per_channel_statistics_come_from_the_train_split_only(base_config,
                                                              tmp_path):
  cfg = base_config.data
  cfg.name, cfg.dir = "cifar10", str(_fake_cifar_dir(tmp_path, n=20))
  cfg.image_normalization = "per_channel"
  cfg_none = cfg.copy_and_resolve_references()
  cfg_none.image_normalization = "none"
  raw = with_validation(data.load(cfg_none, seed=0), cfg.validation_fraction,
                        seed=0)
  ds = data.load(cfg, seed=0)
  prep = ds.preprocessing
  assert json.loads(json.dumps(prep)) == prep  # Saved as preprocessing.json.
  assert prep["image_normalization"] == "per_channel"
  assert prep["fitted_on"] == "train split (90 examples)"
  pixels = raw.train.inputs.reshape(-1, 3).astype(np.float64)
  np.testing.assert_allclose(prep["image_mean"], pixels.mean(0), rtol=1e-12)
  np.testing.assert_allclose(prep["image_std"], pixels.std(0), rtol=1e-12)
  # The validation split was carved first, exactly as the loop would.
  assert (len(ds.train), len(ds.validation)) == (90, 10)
  np.testing.assert_array_equal(ds.validation.labels, raw.validation.labels)
  for split, normalized in ((raw.train, ds.train), (raw.test, ds.test),
                            (raw.validation, ds.validation)):
    np.testing.assert_allclose(
        normalized.inputs,
        (split.inputs - np.float32(prep["image_mean"]))
        / np.float32(prep["image_std"]), rtol=1e-5, atol=1e-6)
  train = ds.train.inputs.reshape(-1, 3).astype(np.float64)
  np.testing.assert_allclose(train.mean(0), 0.0, atol=1e-5)
  np.testing.assert_allclose(train.std(0), 1.0, atol=1e-5)


def test_fixed_normalization_uses_the_config_values(base_config, tmp_path):
  cfg = base_config.data
  cfg.name, cfg.dir = "cifar10", str(_fake_cifar_dir(tmp_path))
  cfg.image_normalization = "fixed"
  cfg.image_mean, cfg.image_std = (0.5, 0.25, 0.0), (0.5, 0.25, 2.0)
  ds = data.load(cfg, seed=0)
  assert ds.preprocessing == {
      "image_normalization": "fixed", "image_mean": [0.5, 0.25, 0.0],
      "image_std": [0.5, 0.25, 2.0],
      "fitted_on": "config (data.image_mean, data.image_std)"}
  cfg.image_normalization = "none"
  raw = data.load(cfg, seed=0)
  np.testing.assert_allclose(ds.test.inputs[..., 2],
                             raw.test.inputs[..., 2] / 2, rtol=1e-6)
  np.testing.assert_allclose(ds.test.inputs[..., 0],
                             raw.test.inputs[..., 0] * 2 - 1, atol=1e-6)


def test_fixed_normalization_needs_one_value_per_channel(base_config):
  cfg = base_config.data  # digits: one channel.
  cfg.image_normalization = "fixed"
  cfg.image_mean, cfg.image_std = (0.5, 0.5, 0.5), (0.2, 0.2, 0.2)
  with pytest.raises(zoo.ConfigError) as e:
    data.load(cfg, seed=0)
  assert _one_line(e) == (
      "config.data.image_mean=(0.5, 0.5, 0.5) and data.image_std=(0.2, 0.2, "
      "0.2) need one value per channel; digits images (8, 8, 1) have 1. Fix "
      "them with --config.data.image_mean='(...)' "
      "--config.data.image_std='(...)'.")


def test_zoo_load_applies_the_saved_normalization(base_config, tmp_path):
  base_config.data.image_normalization = "per_channel"
  results = experiment.train_and_evaluate(base_config, str(tmp_path / "run"))
  saved = json.loads((tmp_path / "run" / "preprocessing.json").read_text())
  assert saved["image_normalization"] == "per_channel"
  predictor = zoo.load(str(tmp_path / "run"))
  assert predictor.preprocessing == saved
  base_config.data.image_normalization = "none"
  raw_test = data.load(base_config.data, base_config.seed).test  # In [0, 1].
  accuracy = np.mean(predictor.predict(raw_test.inputs) == raw_test.labels)
  assert accuracy == pytest.approx(results["test_accuracy"], abs=1e-6)


@pytest.mark.parametrize("fields,message", [
    ({"image_normalization": "minmax"},
     "config.data.image_normalization='minmax' is invalid: choose one of "
     "none, per_channel, fixed. Fix it with "
     "--config.data.image_normalization=<value>."),
    ({"image_mean": (0.5,)},
     "config.data.image_mean=(0.5,) is invalid: it is used only with "
     "data.image_normalization='fixed' (now 'none'), so leave it empty (). "
     "Fix it with --config.data.image_mean=<value>."),
    ({"image_normalization": "fixed"},
     "config.data.image_mean=() is invalid: data.image_normalization='fixed' "
     "needs one mean per image channel, e.g. '(0.5,)' for grey images. Fix it "
     "with --config.data.image_mean=<value>."),
    ({"image_normalization": "fixed", "image_mean": (0.5, 0.5),
      "image_std": (0.5,)},
     "config.data.image_std=(0.5,) is invalid: it needs one std per channel, "
     "as many as data.image_mean has (2). Fix it with "
     "--config.data.image_std=<value>."),
    ({"image_normalization": "fixed", "image_mean": (0.5,),
      "image_std": (0.0,)},
     "config.data.image_std=(0.0,) is invalid: every std must be > 0. Fix it "
     "with --config.data.image_std=<value>."),
    ({"image_normalization": "fixed", "image_mean": ("a",),
      "image_std": (1.0,)},
     "config.data.image_mean=('a',) is invalid: it must be a tuple of "
     "numbers, e.g. '(0.5, 0.5)'. Fix it with "
     "--config.data.image_mean=<value>."),
    ({"name": "csv", "image_normalization": "per_channel"},
     "config.data.image_normalization='per_channel' is invalid: it applies "
     "to images only; CSV tables are scaled by data.standardize, so use "
     "'none'. Fix it with --config.data.image_normalization=<value>."),
])
def test_validate_rejects_bad_normalization_fields(base_config, fields,
                                                   message):
  base_config.data.update(fields)
  with pytest.raises(zoo.ConfigError) as e:
    validation.validate(base_config)
  assert _one_line(e) == message


@pytest.mark.parametrize("fields", [
    {}, {"image_normalization": "per_channel"},
    {"image_normalization": "fixed", "image_mean": (0.5, 0.4, 0.3),
     "image_std": (0.2, 0.2, 0.2)},
])
def test_validate_accepts_the_normalization_fields(base_config, fields):
  base_config.data.update(fields)
  validation.validate(base_config)


@pytest.mark.parametrize("fields", [
    {"image_normalization": "per_channel"},
    {"image_normalization": "fixed", "image_mean": (0.5,),
     "image_std": (0.25,)},
])
def test_normalization_fields_must_match_to_resume(base_config, fields):
  saved = serialize.to_jsonable(base_config)
  base_config.data.update(fields)
  diffs = resume_rules.differences(saved, serialize.to_jsonable(base_config))
  assert diffs and all(d.startswith("data.image_") for d in diffs)
  assert len(diffs) == len(fields)
  with pytest.raises(zoo.ConfigError, match=re.escape(diffs[0])):
    resume_rules.check_resumable(saved, base_config, "ckpt")
  assert {"data.image_normalization", "data.image_mean",
          "data.image_std"} <= set(resume_rules.state_fields(saved))
