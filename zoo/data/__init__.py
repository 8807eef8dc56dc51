"""Datasets behind one `load(data_spec)`.

`data.name` picks the source:
  mnist          MNIST; from IDX files in `data.dir` if set, else TensorFlow
                 Datasets, falling back to `digits` (with a warning) when
                 TFDS is offline and `data.allow_fallback` is true.
  fashion_mnist  Fashion-MNIST; IDX files in `data.dir`, else TFDS.
  cifar10        CIFAR-10; the official python batches in `data.dir`, else
                 TFDS.
  digits         scikit-learn's bundled 8x8 digits, split with the seed.
  csv            a CSV table (`data.path`): numeric features and a label column.
  other names    a TFDS image-classification dataset (`kmnist`, ...).

Images are float32 NHWC in [0, 1]; `data.image_normalization` may then
standardise their channels (see image_normalization.py).
"""

import dataclasses
import difflib
import functools
from typing import Any, Callable, Optional

from absl import logging
import numpy as np

from zoo import errors
from zoo.config.spec import DataSpec
from zoo.data import csv_table
from zoo.data import image_normalization
from zoo.data import splits
from zoo.data import tfds_images
from zoo.data.batching import eval_batches
from zoo.data.cifar10 import load_cifar10_dir
from zoo.data.dataset import Dataset, Split
from zoo.data.digits import load_digits
from zoo.data.idx import IDX_SETS, load_idx_dir

__all__ = ["Dataset", "Split", "apply_preprocessing", "eval_batches",
           "list_datasets", "load"]

Source = Callable[[DataSpec, int], Dataset]

# How to get a dataset when TFDS has not prepared it and we are offline.
_HOW_TO_GET = {
    name: (f"pass --config.data.dir=DIR with the four original {s.title} IDX "
           f".gz files (e.g. {s.example_dir})")
    for name, s in IDX_SETS.items()}
_HOW_TO_GET["cifar10"] = (
    "pass --config.data.dir=DIR, the cifar-10-batches-py folder extracted "
    "from https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz")


def _load_tfds(cfg: DataSpec, seed: int) -> Dataset:
  how_to_get = _HOW_TO_GET.get(cfg.name, (
      f"copy a TFDS data dir in which {cfg.name} is prepared and pass it as "
      "--config.data.tfds_data_dir=DIR"))
  return tfds_images.load_tfds_images(
      cfg.name, cfg.tfds_data_dir or None, cfg.download_timeout_s,
      how_to_get, cfg.test_fraction, seed)


def _load_mnist(cfg: DataSpec, seed: int) -> Dataset:
  if cfg.dir:
    return load_idx_dir(cfg.dir, "mnist")
  try:
    return _load_tfds(cfg, seed)
  except tfds_images.DataUnavailableError as e:
    if not cfg.allow_fallback:
      raise errors.DataError(
          f"{e} (data.allow_fallback=False, so no fallback dataset.)") from None
    warning = (
        f"FALLING BACK TO THE 8x8 'digits' DATASET: {e} Set "
        "--config.data.allow_fallback=False to make this an error.")
    logging.warning(warning)
    digits = _load_digits(cfg, seed)
    return dataclasses.replace(digits, warnings=digits.warnings + (warning,))


def _load_local_or_tfds(local: Callable[[str], Dataset],
                        cfg: DataSpec, seed: int) -> Dataset:
  return local(cfg.dir) if cfg.dir else _load_tfds(cfg, seed)


def _load_tfds_only(cfg: DataSpec, seed: int) -> Dataset:
  if cfg.dir:
    raise errors.ConfigError(
        f"config.data.dir={cfg.dir!r} is read only for "
        f"{', '.join(n for n in _SOURCES if n not in ('digits', 'csv'))}; "
        f"data.name={cfg.name!r} comes from TensorFlow Datasets. Leave "
        "data.dir empty (--config.data.dir=).")
  return _load_tfds(cfg, seed)


def _load_digits(cfg: DataSpec, seed: int) -> Dataset:
  return load_digits(seed, cfg.test_fraction)


_SOURCES: dict[str, Source] = {
    "mnist": _load_mnist,
    "fashion_mnist": functools.partial(
        _load_local_or_tfds,
        functools.partial(load_idx_dir, name="fashion_mnist")),
    "cifar10": functools.partial(_load_local_or_tfds, load_cifar10_dir),
    "digits": _load_digits,
    "csv": csv_table.load_csv,
}


def list_datasets() -> list[str]:
  """The zoo's own `data.name`s (any TFDS image-classification name works
  too)."""
  return sorted(_SOURCES)


def _source(name: str) -> Source:
  """The loader of `data.name`; ConfigError if neither the zoo nor TFDS has
  it."""
  if name in _SOURCES:
    return _SOURCES[name]
  tfds_names = tfds_images.known_names()
  if tfds_names is not None and tfds_images.base_name(name) in tfds_names:
    return _load_tfds_only
  close = difflib.get_close_matches(name, [*_SOURCES, *(tfds_names or ())],
                                    n=1)
  hint = f" Did you mean {close[0]!r}?" if close else ""
  raise errors.ConfigError(
      f"Unknown dataset data.name={name!r}.{hint} Available: "
      f"{', '.join(list_datasets())}, or the name of any TensorFlow Datasets "
      "image-classification dataset (e.g. kmnist, svhn_cropped).")


def load(cfg: DataSpec) -> Dataset:
  """Loads the dataset named by `cfg.name` into host memory; splits it
  (where the source has no split of its own) from `cfg.split_seed`.

  With `cfg.image_normalization` other than 'none', the validation split is
  carved here (as the loop would) so the statistics see the train split only.
  """
  seed = cfg.split_seed
  dataset = _source(cfg.name)(cfg, seed)
  if cfg.image_normalization == "none":
    return dataset
  if dataset.validation is None:
    dataset = splits.with_validation(dataset, cfg.validation_fraction, seed)
  preprocessing = image_normalization.fit(
      dataset, cfg.image_normalization, tuple(cfg.image_mean),
      tuple(cfg.image_std))
  return image_normalization.normalize(dataset, preprocessing)


def apply_preprocessing(inputs: np.ndarray,
                        preprocessing: Optional[dict[str, Any]]) -> np.ndarray:
  """Does to raw `inputs` `[b, ...]` what a run's saved `preprocessing` says.

  Raw inputs are what the source reads: images in [0, 1], or a CSV table's
  feature columns.
  """
  if not preprocessing:
    return inputs
  if "image_normalization" in preprocessing:
    return image_normalization.apply(inputs, preprocessing)
  if "mean" in preprocessing:
    return csv_table.standardize(inputs, preprocessing)
  return inputs
