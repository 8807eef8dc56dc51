"""Reads CIFAR-10 from the official python version's pickled batches.

`cifar-10-python.tar.gz` (https://www.cs.toronto.edu/~kriz/cifar.html)
extracts to `cifar-10-batches-py/`: `data_batch_1` ... `data_batch_5` (the
50,000 training images), `test_batch` (10,000) and `batches.meta`. Each is a
pickled dict, read as the official page does (`pickle.load(f,
encoding="bytes")`, so keys are bytes; str keys are accepted too):
`b"data"`, uint8 `[n, 3072]`, each row channel-major (1,024 red, then 1,024
green, then 1,024 blue values, each plane row by row over 32x32 pixels), and
`b"labels"`, n ints in 0-9. `batches.meta` holds `b"label_names"`.

Unpickling runs code the file names: only point `data.dir` at files you trust.
"""

import os
import pickle
from typing import Any

import numpy as np

from zoo import errors
from zoo.data.dataset import Dataset, Split

TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"
META_FILE = "batches.meta"
FOLDER = "cifar-10-batches-py"
SIDE, CHANNELS, NUM_CLASSES = 32, 3, 10
_REDO = "extract cifar-10-python.tar.gz again"


def _unpickle(path: str) -> dict[Any, Any]:
  """The dict pickled in `path` (missing, unreadable or not a dict: error)."""
  try:
    with open(path, "rb") as f:
      content = pickle.load(f, encoding="bytes")
  except Exception as e:  # pylint: disable=broad-except  (pickle raises many)
    reason = f"{type(e).__name__}: {e}".replace("\n", " ")
    raise errors.DataError(
        f"Cannot unpickle {path} ({reason}): it is truncated or corrupt; "
        f"{_REDO}.") from None
  if not isinstance(content, dict):
    raise errors.DataError(
        f"{path} holds a {type(content).__name__}, not the dict of a CIFAR-10 "
        f"python batch; is it the right file? Else {_REDO}.")
  return content


def _entry(content: dict[Any, Any], key: str, path: str) -> Any:
  """`content[b"key"]`, or `content["key"]`; a DataError if neither."""
  for k in (key.encode(), key):
    if k in content:
      return content[k]
  keys = ", ".join(sorted(repr(k) for k in content)) or "none"
  raise errors.DataError(
      f"{path} has no {key!r} entry (its keys: {keys}); a CIFAR-10 python "
      f"batch has b'data' and b'labels', batches.meta b'label_names'. Is it "
      f"the right file? Else {_REDO}.")


def read_batch_uint8(path: str) -> tuple[np.ndarray, np.ndarray]:
  """One batch file: uint8 images NHWC `[n, 32, 32, 3]`, int32 labels `[n]`."""
  content = _unpickle(path)
  data = np.asarray(_entry(content, "data", path))
  labels = np.asarray(_entry(content, "labels", path))
  row = SIDE * SIDE * CHANNELS
  if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != row:
    raise errors.DataError(
        f"{path}: 'data' is a {data.dtype} array of shape {data.shape}; a "
        f"CIFAR-10 batch holds uint8 [n, {row}] (3 x 32 x 32 per image). "
        f"Is it the right file? Else {_REDO}.")
  if labels.ndim != 1 or labels.shape[0] != data.shape[0]:
    raise errors.DataError(
        f"{path}: 'labels' has shape {labels.shape} but 'data' holds "
        f"{data.shape[0]} images; there must be one label per image. "
        f"{_REDO.capitalize()}.")
  if not (np.issubdtype(labels.dtype, np.integer) and (
      not labels.size or 0 <= labels.min() <= labels.max() < NUM_CLASSES)):
    raise errors.DataError(
        f"{path}: 'labels' must be integers in 0-{NUM_CLASSES - 1}; found "
        f"{labels.dtype} values outside that. {_REDO.capitalize()}.")
  # [n, 3072] channel-major -> [n, 3, 32, 32] -> NHWC [n, 32, 32, 3].
  images = data.reshape(-1, CHANNELS, SIDE, SIDE).transpose(0, 2, 3, 1)
  return images, labels.astype(np.int32)


def _to_split(images: np.ndarray, labels: np.ndarray) -> Split:
  return Split(inputs=images.astype(np.float32) / 255.0, labels=labels)


def read_batch(path: str) -> Split:
  """One batch file as NHWC float32 `[n, 32, 32, 3]` in [0, 1] and labels."""
  return _to_split(*read_batch_uint8(path))


def read_label_names(path: str) -> tuple[str, ...]:
  """The ten class names in `batches.meta`, in label order."""
  names = _entry(_unpickle(path), "label_names", path)
  names = tuple(n.decode("utf-8") if isinstance(n, bytes) else n
                for n in names) if isinstance(names, (list, tuple)) else ()
  if len(names) != NUM_CLASSES or not all(isinstance(n, str) for n in names):
    raise errors.DataError(
        f"{path}: 'label_names' must list {NUM_CLASSES} class names; is it "
        f"the right file? Else {_REDO}.")
  return names


def _path(directory: str, name: str) -> str:
  path = os.path.join(directory, name)
  if os.path.isfile(path):
    return path
  nested = os.path.join(directory, FOLDER)
  hint = (f" It has a {FOLDER} folder: use --config.data.dir={nested}."
          if os.path.isdir(nested) else "")
  raise errors.DataError(
      f"Missing {name} in data.dir={directory!r}: it must be the {FOLDER} "
      f"folder that cifar-10-python.tar.gz extracts to (data_batch_1 ... "
      f"data_batch_5, test_batch, batches.meta).{hint}")


def load_cifar10_dir(directory: str) -> Dataset:
  """Loads CIFAR-10 from the official python batches in `directory`."""
  if not os.path.isdir(directory):
    raise errors.DataError(
        f"data.dir={directory!r} is not a directory. Point it at the {FOLDER} "
        "folder that cifar-10-python.tar.gz extracts to, or leave it empty "
        "to use TensorFlow Datasets.")
  paths = [_path(directory, n) for n in (*TRAIN_FILES, TEST_FILE, META_FILE)]
  class_names = read_label_names(paths[-1])
  batches = [read_batch_uint8(p) for p in paths[:len(TRAIN_FILES)]]
  train = _to_split(np.concatenate([images for images, _ in batches]),
                    np.concatenate([labels for _, labels in batches]))
  return Dataset(
      name="cifar10", train=train, test=read_batch(paths[len(TRAIN_FILES)]),
      num_classes=NUM_CLASSES, class_names=class_names,
      source=f"CIFAR-10 python batches in {os.path.abspath(directory)}")
