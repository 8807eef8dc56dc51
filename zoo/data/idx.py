"""Reads MNIST from its original IDX files (gzipped or not).

Format (big-endian): 2 zero bytes, a type byte (0x08 = uint8), a rank byte,
then one uint32 per dimension, then the data. Images have rank 3
(magic 0x00000803 = 2051), labels rank 1 (0x00000801 = 2049).
"""

import gzip
import os
import zlib

import numpy as np

from zoo import errors
from zoo.data.dataset import Dataset, Split

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def read_idx(path: str, expected_magic: int) -> np.ndarray:
  """Returns the uint8 array stored in one IDX file, validating its header."""
  opener = gzip.open if path.endswith(".gz") else open
  try:
    with opener(path, "rb") as f:
      raw = f.read()
  except (OSError, EOFError, zlib.error) as e:
    raise errors.DataError(
        f"Cannot read IDX file {path}: {e}. Download the original MNIST "
        "file again.") from None
  if len(raw) < 4:
    raise errors.DataError(f"{path} is {len(raw)} bytes: not an IDX file.")
  magic = int.from_bytes(raw[:4], "big")
  if magic != expected_magic:
    raise errors.DataError(
        f"{path} has magic number {magic} (0x{magic:08x}); an IDX "
        f"{'image' if expected_magic == IMAGES_MAGIC else 'label'} file "
        f"starts with {expected_magic} (0x{expected_magic:08x}). Is it the "
        "right file, or swapped with another?")
  rank = expected_magic & 0xFF
  header = 4 + 4 * rank
  if len(raw) < header:
    raise errors.DataError(f"{path} is truncated inside its header.")
  shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big")
                for i in range(rank))
  expected = int(np.prod(shape))
  if len(raw) - header != expected:
    raise errors.DataError(
        f"{path} header says shape {shape} ({expected} bytes of data) but "
        f"the file holds {len(raw) - header}: it is truncated or corrupt. "
        "Download it again.")
  return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _find(directory: str, stem: str) -> str:
  for name in (stem + ".gz", stem):
    path = os.path.join(directory, name)
    if os.path.isfile(path):
      return path
  raise errors.DataError(
      f"Missing {stem}.gz in data.dir={directory!r}. That directory must "
      f"hold the four original MNIST files: "
      f"{', '.join(s + '.gz' for pair in FILES.values() for s in pair)}.")


def _read_split(directory: str, split: str) -> Split:
  images_path = _find(directory, FILES[split][0])
  labels_path = _find(directory, FILES[split][1])
  images = read_idx(images_path, IMAGES_MAGIC)
  labels = read_idx(labels_path, LABELS_MAGIC)
  if images.shape[0] != labels.shape[0]:
    raise errors.DataError(
        f"{images_path} holds {images.shape[0]} images but {labels_path} "
        f"holds {labels.shape[0]} labels; they must match.")
  if labels.size and labels.max() > 9:
    raise errors.DataError(
        f"{labels_path} has label {labels.max()}; MNIST labels are 0-9.")
  inputs = (images.astype(np.float32) / 255.0)[..., None]  # NHWC in [0, 1].
  return Split(inputs=inputs, labels=labels.astype(np.int32))


def load_mnist_dir(directory: str) -> Dataset:
  """Loads MNIST from the four IDX files in `directory`."""
  if not os.path.isdir(directory):
    raise errors.DataError(
        f"data.dir={directory!r} is not a directory. Point it at a folder "
        "holding the four MNIST IDX .gz files, or leave it empty to use "
        "TensorFlow Datasets.")
  train = _read_split(directory, "train")
  test = _read_split(directory, "test")
  if train.inputs.shape[1:] != test.inputs.shape[1:]:
    raise errors.DataError(
        f"Train images are {train.inputs.shape[1:3]} but test images are "
        f"{test.inputs.shape[1:3]} in {directory}.")
  return Dataset(
      name="mnist", train=train, test=test, num_classes=10,
      class_names=tuple(str(i) for i in range(10)),
      source=f"IDX files in {os.path.abspath(directory)}")
