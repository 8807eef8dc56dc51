"""Datasets behind one `load(data_config, seed)`.

`data.name` picks the source:
  mnist   MNIST; from IDX files in `data.dir` if set, else TensorFlow Datasets,
          falling back to `digits` (with a warning) when TFDS is offline and
          `data.allow_fallback` is true.
  digits  scikit-learn's bundled 8x8 digits, split with the seed.
  csv     a CSV table (`data.path`): numeric features and a label column.
"""

import dataclasses
import difflib
from typing import Callable

from absl import logging
import ml_collections

from zoo import errors
from zoo.data.batching import eval_batches
from zoo.data.csv_table import load_csv
from zoo.data.dataset import Dataset, Split
from zoo.data.digits import load_digits
from zoo.data.idx import load_mnist_dir
from zoo.data import tfds_mnist

__all__ = ["Dataset", "Split", "eval_batches", "list_datasets", "load"]


def _load_mnist(cfg: ml_collections.ConfigDict, seed: int) -> Dataset:
  if cfg.dir:
    return load_mnist_dir(cfg.dir)
  try:
    return tfds_mnist.load_mnist(cfg.tfds_data_dir or None,
                                 cfg.download_timeout_s)
  except tfds_mnist.DataUnavailableError as e:
    if not cfg.allow_fallback:
      raise errors.DataError(
          f"{e} (data.allow_fallback=False, so no fallback dataset.)") from None
    warning = (
        f"FALLING BACK TO THE 8x8 'digits' DATASET: {e} Set "
        "--config.data.allow_fallback=False to make this an error.")
    logging.warning(warning)
    digits = _load_digits(cfg, seed)
    return dataclasses.replace(digits, warnings=digits.warnings + (warning,))


def _load_digits(cfg: ml_collections.ConfigDict, seed: int) -> Dataset:
  return load_digits(seed, cfg.test_fraction)


_SOURCES: dict[str, Callable[[ml_collections.ConfigDict, int], Dataset]] = {
    "mnist": _load_mnist,
    "digits": _load_digits,
    "csv": load_csv,
}


def list_datasets() -> list[str]:
  """Names accepted by `data.name`."""
  return sorted(_SOURCES)


def load(cfg: ml_collections.ConfigDict, seed: int) -> Dataset:
  """Loads the dataset named by `cfg.name` into host memory."""
  source = _SOURCES.get(cfg.name)
  if source is None:
    close = difflib.get_close_matches(cfg.name, _SOURCES, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise errors.ConfigError(
        f"Unknown dataset data.name={cfg.name!r}.{hint} Available: "
        f"{', '.join(list_datasets())}.")
  return source(cfg, seed)
