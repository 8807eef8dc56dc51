"""MNIST through TensorFlow Datasets' `data_source` (no TensorFlow needed).

TFDS alone retries an offline download for minutes. Before asking it to
download we check, in a few seconds, that its download host answers; if not
we raise `DataUnavailableError` at once.
"""

import contextlib
import logging
import os
import socket
from typing import Iterator, Optional

import numpy as np

from zoo import errors
from zoo.data.dataset import Dataset, Split

DOWNLOAD_HOST = ("storage.googleapis.com", 443)  # Where TFDS fetches MNIST.


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

  It then only means "not prepared", which `load_mnist`'s own error says.
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


def _to_split(source) -> Split:
  n = len(source)
  records = source.__getitems__(list(range(n)))
  images = np.stack([np.asarray(r["image"]) for r in records])
  labels = np.asarray([int(r["label"]) for r in records], dtype=np.int32)
  if images.ndim == 3:
    images = images[..., None]
  return Split(inputs=images.astype(np.float32) / 255.0, labels=labels)


def load_mnist(data_dir: Optional[str], timeout_s: float) -> Dataset:
  """Loads MNIST via TFDS, downloading it once if the network allows."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  with _without_missing_variant_noise():
    builder = tfds.builder("mnist", data_dir=data_dir or None)
    prepared = builder.is_prepared()
  if not prepared and not host_reachable(DOWNLOAD_HOST, timeout_s):
    raise DataUnavailableError(
        f"MNIST is not prepared in the TFDS data dir ({builder.data_dir}) "
        f"and the download host {DOWNLOAD_HOST[0]} did not answer within "
        f"{timeout_s:g} s (offline?). To get MNIST: run once with network "
        "access, or pass --config.data.dir=DIR with the four original MNIST "
        "IDX .gz files (e.g. ../shared/data/mnist-5k).")
  try:
    with _without_missing_variant_noise():
      sources = tfds.data_source("mnist", data_dir=data_dir or None,
                                 download=not prepared)
    train, test = _to_split(sources["train"]), _to_split(sources["test"])
  except Exception as e:  # TFDS raises many types; all mean "no data".
    raise DataUnavailableError(
        f"TensorFlow Datasets could not provide MNIST: "
        f"{type(e).__name__}: {e}") from e
  return Dataset(
      name="mnist", train=train, test=test, num_classes=10,
      class_names=tuple(str(i) for i in range(10)),
      source=f"tensorflow_datasets mnist in {builder.data_dir}")
