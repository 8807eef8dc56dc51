"""Reads MNIST-layout datasets (MNIST, Fashion-MNIST) from their IDX files.

Format (big-endian): 2 zero bytes, a type byte (0x08 = uint8), a rank byte,
then one uint32 per dimension, then the data. Images have rank 3
(magic 0x00000803 = 2051), labels rank 1 (0x00000801 = 2049). Files may be
gzipped (`.gz`, the original names) or not.
"""

import dataclasses
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


@dataclasses.dataclass(frozen=True)
class IdxSet:
  """A dataset published as the four IDX files named in `FILES`."""
  name: str  # Its `data.name`.
  title: str  # Its name in messages, e.g. 'Fashion-MNIST'.
  class_names: tuple[str, ...]  # One per label, in label order.
  example_dir: str  # A folder holding the files, for messages.


IDX_SETS = {s.name: s for s in (
    IdxSet("mnist", "MNIST", tuple(str(i) for i in range(10)),
           "../shared/data/mnist-5k"),
    IdxSet("fashion_mnist", "Fashion-MNIST",
           ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
            "Shirt", "Sneaker", "Bag", "Ankle boot"),
           "../shared/data/fashion-mnist"),
)}


def read_idx(path: str, expected_magic: int) -> np.ndarray:
  """Returns the uint8 array stored in one IDX file, validating its header."""
  opener = gzip.open if path.endswith(".gz") else open
  try:
    with opener(path, "rb") as f:
      raw = f.read()
  except (OSError, EOFError, zlib.error) as e:
    raise errors.DataError(
        f"Cannot read IDX file {path}: {e}. Download the original file "
        "again.") from None
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


def _find(directory: str, stem: str, spec: IdxSet) -> str:
  for name in (stem + ".gz", stem):
    path = os.path.join(directory, name)
    if os.path.isfile(path):
      return path
  raise errors.DataError(
      f"Missing {stem}.gz in data.dir={directory!r}. That directory must "
      f"hold the four original {spec.title} files: "
      f"{', '.join(s + '.gz' for pair in FILES.values() for s in pair)}.")


def _read_split(directory: str, split: str, spec: IdxSet) -> Split:
  images_path = _find(directory, FILES[split][0], spec)
  labels_path = _find(directory, FILES[split][1], spec)
  images = read_idx(images_path, IMAGES_MAGIC)
  labels = read_idx(labels_path, LABELS_MAGIC)
  if images.shape[0] != labels.shape[0]:
    raise errors.DataError(
        f"{images_path} holds {images.shape[0]} images but {labels_path} "
        f"holds {labels.shape[0]} labels; they must match.")
  num_classes = len(spec.class_names)
  if labels.size and labels.max() >= num_classes:
    raise errors.DataError(
        f"{labels_path} has label {labels.max()}; {spec.title} labels are "
        f"0-{num_classes - 1}. Is it the right file?")
  inputs = (images.astype(np.float32) / 255.0)[..., None]  # NHWC in [0, 1].
  return Split(inputs=inputs, labels=labels.astype(np.int32))


def load_idx_dir(directory: str, name: str = "mnist") -> Dataset:
  """Loads `IDX_SETS[name]` from the four IDX files in `directory`.

  Images become float32 `[n, 28, 28, 1]` in [0, 1], labels int32 `[n]`.
  """
  spec = IDX_SETS[name]
  if not os.path.isdir(directory):
    raise errors.DataError(
        f"data.dir={directory!r} is not a directory. Point it at a folder "
        f"holding the four {spec.title} IDX .gz files (e.g. "
        f"{spec.example_dir}), or leave it empty to use TensorFlow Datasets.")
  train = _read_split(directory, "train", spec)
  test = _read_split(directory, "test", spec)
  if train.inputs.shape[1:] != test.inputs.shape[1:]:
    raise errors.DataError(
        f"Train images are {train.inputs.shape[1:3]} but test images are "
        f"{test.inputs.shape[1:3]} in {directory}.")
  return Dataset(
      name=spec.name, train=train, test=test,
      num_classes=len(spec.class_names), class_names=spec.class_names,
      source=f"IDX files in {os.path.abspath(directory)}")


def load_mnist_dir(directory: str) -> Dataset:
  """Loads MNIST from the four IDX files in `directory`."""
  return load_idx_dir(directory, "mnist")
