"""Each epoch's training order (drawn on a device) and padded eval batches.

The order and the batches depend only on the seed, the epoch and the global
batch size. With several processes every process computes the same global
batches and keeps only its `rows` (`zoo.runtime.parallel.process_rows`).

Each epoch's example order is `device_epoch_permutation(n, seed, epoch)`,
drawn with `jax.random` on a device, where the training chunks
(zoo/train/chunks.py) index the device-resident split with it.
"""

import functools
from typing import Iterator, Optional

import jax
import numpy as np

from zoo.data.dataset import Split

Batch = dict[str, np.ndarray]


# Mixed into the seed so the data order is independent of the model's keys.
_SHUFFLE_STREAM = 0x5EED


@functools.partial(jax.jit, static_argnums=0)
def _permutation(num_examples: int, key: jax.Array,
                 epoch: jax.Array) -> jax.Array:
  key = jax.random.fold_in(jax.random.fold_in(key, _SHUFFLE_STREAM), epoch)
  return jax.random.permutation(key, num_examples).astype(np.int32)


def device_epoch_permutation(num_examples: int, seed: int, epoch: int,
                             device: Optional[jax.Device] = None) -> jax.Array:
  """The example order `[num_examples]` int32 of one epoch, on `device`.

  A function of (num_examples, seed, epoch) only.
  """
  with jax.default_device(device or jax.local_devices()[0]):
    return _permutation(num_examples, jax.random.key(seed), np.int32(epoch))


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
