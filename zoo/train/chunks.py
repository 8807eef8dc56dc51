"""The fast path: many train steps per compiled call, data on the devices.

The training split is copied once to every device. Each epoch's example
order is drawn on a device (`batching.device_epoch_permutation`, the same
order the per-step path reads back to the host). A chunk of steps is one
pmapped call: a `lax.scan` of the per-device train step, each step slicing
its batch out of the device-resident split, with the state donated. The
host sees the chunk's stacked metrics once, at its end.

Shapes per device (`b = batch_size // num_devices`, `n` train examples):
  inputs `[n, prod(input_shape)]`, labels `[n]`, order `[n]` int32; step `i` of a
  chunk starting at batch `start` of the epoch takes
  `order[(start + i) * batch_size + device * b:][:b]`, exactly the rows
  `parallel.shard` gives that device in the per-step path.
"""

from typing import Any, Callable, Sequence

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np

from zoo.runtime import parallel
from zoo.data import batching
from zoo.data.dataset import Split
from zoo.train.state import TrainState

TrainStep = Callable[[TrainState, dict[str, jax.Array]], tuple[TrainState, Any]]


def make_chunk(train_step: TrainStep, per_device_batch: int, num_devices: int,
               num_steps: int, unroll: int,
               input_shape: tuple[int, ...]) -> Callable[..., Any]:
  """Returns `chunk(state, inputs, labels, order, start) -> (state, metrics)`.

  Per device: `inputs` `[n, prod(input_shape)]` (flat: XLA:CPU copies a
  split with size-1 dimensions, e.g. MNIST's channel, into the loop on every
  call); `metrics` leaves are stacked `[num_steps]`. `unroll` is
  `lax.scan`'s: 1 keeps a loop, `num_steps` unrolls it fully.
  """
  global_batch = per_device_batch * num_devices

  def chunk(state, inputs, labels, order, start):
    device = jax.lax.axis_index(parallel.AXIS)

    def body(state, i):
      offset = (start + i) * global_batch + device * per_device_batch
      idx = jax.lax.dynamic_slice_in_dim(order, offset, per_device_batch)
      x = jnp.take(inputs, idx, axis=0, mode="clip")
      batch = {"inputs": x.reshape(per_device_batch, *input_shape),
               "labels": jnp.take(labels, idx, axis=0, mode="clip")}
      return train_step(state, batch)

    return jax.lax.scan(body, state, jnp.arange(num_steps, dtype=jnp.int32),
                        unroll=unroll)

  return chunk


# Fully unrolled chunks compile in time linear in their length (CNN on 2
# cores: about 2.0 s for 5 steps, 3.0 s for 10). 10 steps trained the CNN
# 6.7 % faster than 5 (medians of 5 interleaved runs, 3,590 vs 3,364 ex/s,
# README "Performance"), so chunks of unrolled steps hold at most 10.
MAX_UNROLLED_STEPS = 10


class ChunkRunner:
  """Runs chunks of train steps over a split held on every device.

  `unroll`: see `choose_unroll` (0 = fully unrolled). Chunks hold
  `self.steps_per_call` steps (`chunk_length`) and never cross an epoch.
  """

  def __init__(self, train_step: TrainStep, split: Split,
               devices: Sequence[jax.Device], batch_size: int, seed: int,
               unroll: int, steps_per_epoch: int, steps_per_call: int):
    self.train_step, self.devices = train_step, list(devices)
    self.batch_size, self.seed, self.unroll = batch_size, seed, unroll
    self.steps_per_epoch = steps_per_epoch
    if unroll == 0:
      steps_per_call = min(steps_per_call, MAX_UNROLLED_STEPS)
    self.steps_per_call = chunk_length(steps_per_epoch, steps_per_call)
    self.num_examples, self.input_shape = len(split), split.inputs.shape[1:]
    flat = split.inputs.reshape(self.num_examples, -1)
    self.inputs = parallel.replicate_array(flat, self.devices)
    self.labels = parallel.replicate_array(split.labels, self.devices)
    self._compiled: dict[int, Callable[..., Any]] = {}

  def epoch_order(self, epoch: int) -> jax.Array:
    """The epoch's permutation, `[local devices, n]` (one copy per device).

    Every process draws the same one: each device of each process then
    takes its own rows of each global batch (`lax.axis_index` is global).
    """
    local = parallel.local_devices(self.devices)
    order = batching.device_epoch_permutation(self.num_examples, self.seed,
                                              epoch, local[0])
    return parallel.replicate_array(order, self.devices)

  def chunk_sizes(self, start: int) -> list[int]:
    """The chunks that cover batches `start ..` of an epoch."""
    return chunk_sizes(start, self.steps_per_epoch, self.steps_per_call)

  def run(self, state: TrainState, order: jax.Array, start: int,
          num_steps: int) -> tuple[TrainState, Any]:
    """Steps `start .. start + num_steps - 1` of the epoch `order` is for.

    `state` (replicated) is donated. Returns the new state and the metrics,
    leaves `[devices, num_steps]`, still on the devices.
    """
    fn = self._compiled.get(num_steps)
    if fn is None:
      n = len(self.devices)
      unroll = num_steps if self.unroll == 0 else min(self.unroll, num_steps)
      fn = jax.pmap(
          make_chunk(self.train_step, self.batch_size // n, n, num_steps,
                     unroll, self.input_shape),
          axis_name=parallel.AXIS, devices=self.devices,
          in_axes=(0, 0, 0, 0, None), donate_argnums=(0,))
      self._compiled[num_steps] = fn
    return fn(state, self.inputs, self.labels, order, np.int32(start))


def chunk_length(steps_per_epoch: int, steps_per_call: int) -> int:
  """Steps per chunk: `steps_per_call`, or less where that splits the epoch
  evenly (one compiled chunk size instead of two), within a factor of 2.

  E.g. 35 steps per epoch: at most 10 per call -> 7; at most 50 -> 35.
  """
  limit = min(steps_per_call, steps_per_epoch)
  for length in range(limit, (limit - 1) // 2, -1):
    if steps_per_epoch % length == 0:
      return length
  return limit


def chunk_sizes(start: int, steps_per_epoch: int, steps_per_call: int
                ) -> list[int]:
  """Chunk lengths covering batches `start .. steps_per_epoch - 1`.

  Chunks end at multiples of `steps_per_call` within the epoch (or at its
  end), so a run resumed from any chunk end compiles the same sizes.
  """
  sizes = []
  while start < steps_per_epoch:
    size = min(steps_per_call - start % steps_per_call,
               steps_per_epoch - start)
    sizes.append(size)
    start += size
  return sizes


def has_convolution(forward: hk.TransformedWithState, params: Any,
                    model_state: Any, input_shape: tuple[int, ...]) -> bool:
  """Whether the model's forward pass contains a convolution."""
  dummy = jax.ShapeDtypeStruct((1, *input_shape), jnp.float32)
  jaxpr = jax.make_jaxpr(
      lambda x: forward.apply(params, model_state, jax.random.key(0), x,
                              is_training=True))(dummy)
  return "conv_general_dilated" in str(jaxpr)  # Nested jaxprs included.


def choose_unroll(scan_unroll: int, has_conv: bool, platform: str) -> int:
  """`lax.scan`'s unroll for a chunk; 0 means fully unrolled.

  `scan_unroll` > 0 is used as given. 0 (auto): fully unrolled where the
  model has convolutions and runs on CPU (XLA:CPU runs convolution
  gradients inside a loop body far slower, see README "Performance"),
  else 1 (a loop: compiles in constant time).
  """
  if scan_unroll > 0:
    return scan_unroll
  return 0 if (has_conv and platform == "cpu") else 1
