"""Helpers shared by the data tests: IDX and CIFAR-10 files written in the
official formats, and one-line errors."""

import dataclasses
import gzip
import pickle
import struct

import numpy as np
import pytest

from zoo import data
from zoo.config import resolve
from zoo.config import spec
from zoo.data import cifar10
from zoo.data import idx


def load_data(data_config, seed: int = 0) -> data.Dataset:
  """`zoo.data.load` of a config's data section (a ConfigDict), its splits
  drawn from `seed` (as `data.split_seed`)."""
  values = resolve.upgrade({"data": data_config.to_dict()})["data"]
  return data.load(dataclasses.replace(
      resolve.section(spec.DataSpec, values), split_seed=seed))


def write_idx(path, array, magic):
  """Writes `array` as a gzipped IDX file with `magic`."""
  header = struct.pack(">I", magic) + b"".join(
      struct.pack(">I", d) for d in array.shape)
  with gzip.open(path, "wb") as f:
    f.write(header + array.astype(np.uint8).tobytes())


def fake_idx_dir(tmp_path, n_train=12, n_test=7):
  """The four MNIST-named IDX files of random 28x28 images in `tmp_path`."""
  rng = np.random.default_rng(0)
  for split, n in (("train", n_train), ("test", n_test)):
    images_name, labels_name = idx.FILES[split]
    write_idx(tmp_path / f"{images_name}.gz",
              rng.integers(0, 256, (n, 28, 28)), idx.IMAGES_MAGIC)
    write_idx(tmp_path / f"{labels_name}.gz", rng.integers(0, 10, (n,)),
              idx.LABELS_MAGIC)
  return tmp_path


def one_line(error: pytest.ExceptionInfo) -> str:
  """The error's message, asserted to be a single line."""
  message = str(error.value)
  assert "\n" not in message, message
  return message


CIFAR_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
               "horse", "ship", "truck")


def cifar_rows(n: int, seed: int) -> np.ndarray:
  """`n` random CIFAR rows `[n, 3072]` uint8 (channel-major)."""
  return np.random.default_rng(seed).integers(0, 256, (n, 3072), np.uint8)


def write_pickle(path, content):
  with open(path, "wb") as f:
    pickle.dump(content, f)


def fake_cifar_dir(tmp_path, n=3, n_test=4, str_keys=False):
  """The official layout: five train batches of `n`, a test batch, meta.

  Image i of train batch b has label (b * n + i) % 10; test image i has 9 - i.
  """
  key = (lambda k: k) if str_keys else (lambda k: k.encode())
  d = tmp_path / "cifar-10-batches-py"
  d.mkdir()
  for b, name in enumerate(cifar10.TRAIN_FILES):
    write_pickle(d / name, {
        key("batch_label"): b"training batch",
        key("data"): cifar_rows(n, b),
        key("labels"): [(b * n + i) % 10 for i in range(n)],
        key("filenames"): [b"x.png"] * n})
  write_pickle(d / "test_batch", {
      key("data"): cifar_rows(n_test, 99),
      key("labels"): [9 - i for i in range(n_test)]})
  names = CIFAR_NAMES if str_keys else [c.encode() for c in CIFAR_NAMES]
  write_pickle(d / "batches.meta", {key("label_names"): list(names),
                                    key("num_vis"): 3072})
  return d
