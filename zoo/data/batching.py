"""Batches of host arrays: shuffled train batches and padded eval batches.

Batch order and content depend only on the seed, the epoch and the global
batch size. With several processes every process computes the same global
batches and keeps only its `rows` (`zoo.parallel.process_rows`).
"""

from typing import Iterator

import numpy as np

from zoo.data.dataset import Split

Batch = dict[str, np.ndarray]


def epoch_permutation(num_examples: int, seed: int, epoch: int) -> np.ndarray:
  """The example order of one epoch, a function of (seed, epoch) only."""
  return np.random.default_rng([seed, epoch]).permutation(num_examples)


def train_batches(split: Split, batch_size: int, seed: int,
                  epoch: int, start_step: int = 0,
                  rows: slice = slice(None)) -> Iterator[Batch]:
  """Yields the epoch's full batches `{'inputs': [b, ...], 'labels': [b]}`.

  The last partial batch is dropped; the next epoch's shuffle uses it.
  Starts at batch `start_step` of the epoch (for resuming). `rows` keeps only
  those rows of each global batch of `batch_size` (this process's share), and
  only they are read.
  """
  order = epoch_permutation(len(split), seed, epoch)
  for step in range(start_step, len(split) // batch_size):
    idx = order[step * batch_size:(step + 1) * batch_size][rows]
    yield {"inputs": split.inputs[idx], "labels": split.labels[idx]}


def eval_batches(split: Split, batch_size: int,
                 rows: slice = slice(None)) -> Iterator[Batch]:
  """Yields every example once, in order, padding the last batch.

  Each batch has `mask` `[b]` (1.0 for real examples, 0.0 for padding), so
  every batch has the same shape and nothing recompiles. `rows` keeps only
  those rows of each padded global batch of `batch_size`.
  """
  n = len(split)
  for start in range(0, n, batch_size):
    inputs = split.inputs[start:start + batch_size]
    labels = split.labels[start:start + batch_size]
    real = labels.shape[0]
    pad = batch_size - real
    if pad:
      inputs = np.concatenate(
          [inputs, np.zeros((pad, *inputs.shape[1:]), inputs.dtype)])
      labels = np.concatenate([labels, np.zeros((pad,), labels.dtype)])
    mask = np.zeros((batch_size,), np.float32)
    mask[:real] = 1.0
    yield {"inputs": inputs[rows], "labels": labels[rows], "mask": mask[rows]}
