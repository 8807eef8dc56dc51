"""Image-classification datasets of TensorFlow Datasets, by name.

Read through TFDS's `data_source` (no TensorFlow needed). Any TFDS dataset
whose supervised keys are a fixed-shape uint8 image and a class label works
(`mnist`, `fashion_mnist`, `cifar10`, `kmnist`, `svhn_cropped`, ...).

TFDS alone retries an offline download for minutes. Before asking it to
download we check, in a few seconds, that a download host answers; if not
we raise `DataUnavailableError` at once.
"""

import contextlib
import logging
import os
import socket
from typing import Any, Iterator, Optional

import numpy as np

from zoo import errors
from zoo.data.dataset import Dataset, Split
from zoo.data.splits import stratified_split

# TFDS's own storage (its GCS bucket; MNIST's files are there too): when it
# does not answer we are offline.
DOWNLOAD_HOST = ("storage.googleapis.com", 443)
# Where TFDS fetches the files of datasets that live elsewhere.
DOWNLOAD_HOSTS = {
    "fashion_mnist": ("fashion-mnist.s3-website.eu-central-1.amazonaws.com",
                      80),
    "cifar10": ("www.cs.toronto.edu", 443),
}


class DataUnavailableError(errors.DataError):
  """The dataset is neither prepared locally nor downloadable right now."""


def host_reachable(address: tuple[str, int], timeout_s: float) -> bool:
  """Whether a TCP connection to `address` opens within `timeout_s`."""
  try:
    with socket.create_connection(address, timeout=timeout_s):
      return True
  except OSError:
    return False


class _MissingVariantFilter(logging.Filter):
  """Drops TFDS's "Variant folder X has no ..." warning if X does not exist.

  It then only means "not prepared", which `load_tfds_images` says itself.
  """

  def filter(self, record: logging.LogRecord) -> bool:
    if record.msg != "Variant folder %s has no %s" or not record.args:
      return True
    return os.path.exists(str(record.args[0]))


@contextlib.contextmanager
def _without_missing_variant_noise() -> Iterator[None]:
  """Filters TFDS's logger with `_MissingVariantFilter` inside the block."""
  absl_logger = logging.getLogger("absl")  # TFDS logs through absl.logging.
  noise = _MissingVariantFilter()
  absl_logger.addFilter(noise)
  try:
    yield
  finally:
    absl_logger.removeFilter(noise)


def _one_line(error: Exception, limit: int = 500) -> str:
  """`error`'s message with its whitespace collapsed, at most `limit` long."""
  text = " ".join(str(error).split())
  return text if len(text) <= limit else text[:limit - 3] + "..."


def known_names() -> Optional[list[str]]:
  """TFDS's dataset names (offline: no community ones); None without TFDS."""
  try:
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  except ImportError:
    return None
  return tfds.list_builders(with_community_datasets=False)


def base_name(name: str) -> str:
  """'emnist/letters:3.1.0' -> 'emnist' (the builder, without config)."""
  return name.split(":")[0].split("/")[0]


def image_label_keys(builder: Any, name: str) -> tuple[str, str]:
  """The (image, label) feature keys of `builder`'s examples.

  Raises ConfigError unless its supervised keys are a uint8 image of fixed
  shape and a class label.
  """
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  features = builder.info.features
  keys = builder.info.supervised_keys
  if not (isinstance(keys, tuple) and len(keys) == 2
          and all(isinstance(k, str) and k in features for k in keys)):
    keys = ("image", "label")
  image, label = (features[k] if k in features else None for k in keys)
  why, has = "", f"(its features: {', '.join(features.keys())})"
  if not isinstance(image, tfds.features.Image):
    why = f"it has no image feature {has}"
  elif not isinstance(label, tfds.features.ClassLabel):
    why = f"it has no class-label feature {has}"
  elif any(d is None for d in image.shape):
    why = f"its images have no fixed shape ({image.shape})"
  elif np.dtype(image.np_dtype) != np.uint8:
    why = f"its images are {np.dtype(image.np_dtype)}, not uint8"
  if why:
    raise errors.ConfigError(
        f"data.name={name!r} is a TensorFlow Datasets dataset but not one the "
        f"zoo can train on: {why}. TFDS names must be image-classification "
        "datasets with fixed-size images (e.g. kmnist, svhn_cropped).")
  return keys


def _to_split(source, keys: tuple[str, str] = ("image", "label")) -> Split:
  """All records of a TFDS data source as NHWC floats in [0, 1] and labels."""
  image_key, label_key = keys
  n = len(source)
  records = source.__getitems__(list(range(n)))
  images = np.stack([np.asarray(r[image_key]) for r in records])
  labels = np.asarray([int(r[label_key]) for r in records], dtype=np.int32)
  if images.ndim == 3:
    images = images[..., None]
  return Split(inputs=images.astype(np.float32) / 255.0, labels=labels)


def load_tfds_images(name: str, data_dir: Optional[str], timeout_s: float,
                     how_to_get: str, test_fraction: float,
                     seed: int) -> Dataset:
  """Loads TFDS dataset `name`, downloading it once if the network allows.

  Raises `DataUnavailableError` ending with `how_to_get` when it is neither
  prepared nor downloadable. Without a 'test' split, a stratified
  `test_fraction` of 'train' (drawn from `seed`) becomes the test split.
  """
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  data_dir = data_dir or None
  try:
    with _without_missing_variant_noise():
      builder = tfds.builder(name, data_dir=data_dir)
      prepared = builder.is_prepared()
  except (ValueError, AssertionError) as e:  # An unknown config or version.
    raise errors.ConfigError(
        f"TensorFlow Datasets cannot build data.name={name!r}: "
        f"{_one_line(e)} Fix data.name.") from None
  keys = image_label_keys(builder, name)
  host = DOWNLOAD_HOSTS.get(base_name(name), DOWNLOAD_HOST)
  if not prepared and not host_reachable(host, timeout_s):
    raise DataUnavailableError(
        f"{name} is not prepared in the TFDS data dir ({builder.data_dir}) "
        f"and the download host {host[0]} did not answer within "
        f"{timeout_s:g} s (offline?). To get {name}: run once with network "
        f"access, or {how_to_get}.")
  try:
    with _without_missing_variant_noise():
      sources = tfds.data_source(name, data_dir=data_dir,
                                 download=not prepared)
      train = _to_split(sources["train"], keys)
      test = _to_split(sources["test"], keys) if "test" in sources else None
      # Read after preparing: some builders (cifar10) learn names from files.
      label = tfds.builder(name, data_dir=data_dir).info.features[keys[1]]
  except Exception as e:  # TFDS raises many types; all mean "no data".
    raise DataUnavailableError(
        f"TensorFlow Datasets could not provide {name}: "
        f"{type(e).__name__}: {_one_line(e)}") from e
  source = f"tensorflow_datasets {name} in {builder.data_dir}"
  if test is None:
    rest, held_out = stratified_split(train.labels, test_fraction, seed)
    train, test = (Split(train.inputs[i], train.labels[i])
                   for i in (rest, held_out))
    source += f" (no test split: {test_fraction:g} of train held out)"
  return Dataset(
      name=name, train=train, test=test, num_classes=label.num_classes,
      class_names=tuple(label.names), source=source)
