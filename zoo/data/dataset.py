"""In-memory datasets: every split is a pair of numpy arrays."""

import dataclasses
from typing import Any, Optional

import numpy as np


@dataclasses.dataclass(frozen=True)
class Split:
  """One split. `inputs`: float32 `[n, *input_shape]`; `labels`: int32 `[n]`."""
  inputs: np.ndarray
  labels: np.ndarray

  def __post_init__(self):
    if self.inputs.shape[0] != self.labels.shape[0] or self.labels.ndim != 1:
      raise ValueError(
          f"Split needs inputs [n, ...] and labels [n]; got inputs "
          f"{self.inputs.shape} and labels {self.labels.shape}.")

  def __len__(self) -> int:
    return int(self.labels.shape[0])


@dataclasses.dataclass(frozen=True)
class Dataset:
  """A classification dataset held in host memory.

  Attributes:
    name: the dataset actually loaded (e.g. 'mnist', or 'digits' after a
      fallback), recorded in results.json.
    train, test: the splits; `validation` is optional.
    num_classes: labels are ints in [0, num_classes).
    class_names: a readable name per class.
    source: where the data came from, for logs and results.json.
    warnings: things the user must know (e.g. that a fallback was used).
    preprocessing: what was fitted on the train split and must be applied the
      same way to new inputs (e.g. a CSV's feature columns, standardisation
      statistics and label mapping); JSON-serialisable, saved by the loop as
      `workdir/preprocessing.json`. None when there is nothing to save.
  """
  name: str
  train: Split
  test: Split
  num_classes: int
  class_names: tuple[str, ...]
  source: str
  validation: Optional[Split] = None
  warnings: tuple[str, ...] = ()
  preprocessing: Optional[dict[str, Any]] = None

  @property
  def input_shape(self) -> tuple[int, ...]:
    """The shape of one example, e.g. (28, 28, 1)."""
    return tuple(self.train.inputs.shape[1:])
