"""Chunks of train steps: many steps per compiled call, data on the devices.

Every step of training runs inside a chunk: one pmapped call that runs a
`lax.scan` of the per-device train step over `num_steps` steps, with the
state donated. The host sees the chunk's stacked metrics once, at its end.
`train.steps_per_call=1` is a chunk of one step.

The batch source is the one thing that varies inside a chunk. Today's,
`DeviceResidentBatches`, copies the training split once to every device and
gathers each step's batch by the epoch's example order, drawn on a device
(`batching.device_epoch_permutation`). Another source (a host-fed stream of
stacked batches, on-device augmentation) implements the same two methods,
`chunk_args` on the host and `batch` inside the compiled chunk.
"""

from typing import Any, Callable, Protocol, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from zoo.data import augment
from zoo.data import batching
from zoo.data.dataset import Split
from zoo.runtime import parallel
from zoo.train import chunk_plan
from zoo.train import ensemble
from zoo.train.state import TrainState

Batch = dict[str, jax.Array]
TrainStep = Callable[[TrainState, Batch], tuple[TrainState, Any]]


class BatchSource(Protocol):
  """Where a chunk's batches come from, for every ensemble member.

  `members_share_batches`: every member trains on the same batches (one
  member, or members of one data seed): `per_member` args then have no
  member axis, and each step's batch is read once for all members.
  """
  members_share_batches: bool

  def chunk_args(self, epoch: int, start: int, num_steps: int) -> Any:
    """`(shared, per_member)`: device arrays for batches `start .. start +
    num_steps - 1` of `epoch`, each leaf with a leading axis over this
    process's devices; `per_member` leaves are member-stacked after it
    (`[devices, K, ...]`, see zoo/train/ensemble.py) unless the members
    share batches."""

  def batch(self, args: Any, start: jax.Array, i: jax.Array,
            step: jax.Array) -> Batch:
    """Inside the chunk, per device and member: batch `start + i` of the
    epoch, `{'inputs': [b, *input_shape], 'labels': [b]}` with `b` the
    per-device batch. `args` is `(shared, per_member)` of this device and
    member; `step` is the train state's step (e.g. for augmentation
    keys)."""


class DeviceResidentBatches:
  """The training split on every device; step `s` of an epoch takes
  `order[s * batch_size + device * b:][:b]` on each device (`b` the
  per-device batch), where `order` is the member's permutation of the epoch,
  and augments it there if `augmentation` says so (keys from the member's
  data seed, step and device).

  Shapes per device (`n` training examples): inputs `[n, prod(input_shape)]`
  (flat: XLA:CPU copies a split with size-1 dimensions, e.g. MNIST's
  channel, into the loop on every call), labels `[n]`; per member: order
  `[n]` int32 and its data seed (int32).
  """

  def __init__(self, split: Split, devices: Sequence[jax.Device],
               batch_size: int, data_seeds: Sequence[int],
               augmentation: augment.Augmentation = augment.Augmentation()):
    self.devices, self.batch_size = list(devices), batch_size
    self.data_seeds = tuple(data_seeds)
    self.augmentation = augmentation
    self.per_device_batch = batch_size // len(self.devices)
    self.num_examples, self.input_shape = len(split), split.inputs.shape[1:]
    flat = split.inputs.reshape(self.num_examples, -1)
    self.inputs = parallel.replicate_array(flat, self.devices)
    self.labels = parallel.replicate_array(split.labels, self.devices)
    # Members of one data seed (a single run, a shared data order, a rate
    # sweep of one seed) read each batch once, for all of them.
    self.members_share_batches = len(set(self.data_seeds)) == 1
    self.seeds = parallel.replicate_array(
        self._per_member([np.int32(s) for s in self.data_seeds]),
        self.devices)
    self._order: tuple[int, jax.Array] = (-1, None)  # (epoch, order)

  def epoch_order(self, epoch: int) -> jax.Array:
    """The members' permutations of the epoch, `[local devices, (K,) n]`
    (one copy per device; member-stacked).

    Every process draws the same ones: each device of each process then
    takes its own rows of each global batch (`lax.axis_index` is global).
    """
    if self._order[0] != epoch:
      local = parallel.local_devices(self.devices)
      drawn = {s: np.asarray(batching.device_epoch_permutation(
          self.num_examples, s, epoch, local[0]))
               for s in dict.fromkeys(self.data_seeds)}
      order = self._per_member([drawn[s] for s in self.data_seeds])
      self._order = (epoch, parallel.replicate_array(order, self.devices))
    return self._order[1]

  def _per_member(self, values: list[Any]) -> Any:
    """Member-stacked `values`, or the one value members share."""
    return values[0] if self.members_share_batches else ensemble.stack(values)

  def chunk_args(self, epoch: int, start: int, num_steps: int) -> Any:
    del start, num_steps  # Every chunk of the epoch indexes the same arrays.
    return ((self.inputs, self.labels),
            {"order": self.epoch_order(epoch), "seed": self.seeds})

  def batch(self, args: Any, start: jax.Array, i: jax.Array,
            step: jax.Array) -> Batch:
    (inputs, labels), member = args
    b = self.per_device_batch
    device = jax.lax.axis_index(parallel.AXIS)
    offset = (start + i) * self.batch_size + device * b
    idx = jax.lax.dynamic_slice_in_dim(member["order"], offset, b)
    x = jnp.take(inputs, idx, axis=0, mode="clip").reshape(
        b, *self.input_shape)
    if self.augmentation.enabled:
      x = augment.apply(self.augmentation, x,
                        augment.key_for(member["seed"], step, device))
    return {"inputs": x,
            "labels": jnp.take(labels, idx, axis=0, mode="clip")}


def make_chunk(train_step: TrainStep, batches: BatchSource, num_steps: int,
               unroll: int, num_members: int = 1,
               unrolled_members: bool = False) -> Callable[..., Any]:
  """Returns `chunk(state, args, start) -> (state, metrics)` (per device).

  `train_step` is one member's; it runs for each of the `num_members`
  members of the member-stacked `state` on that member's batches
  (`ensemble.map_members`), read once for all where the members share them
  (`batches.members_share_batches`). `metrics` leaves are
  `[num_steps, K]`.
  `unroll` is `lax.scan`'s: 1 keeps a loop, `num_steps` unrolls it fully;
  `unrolled_members`: each member's steps in the program one after the
  other, not vmapped (`ensemble.map_members`).
  """

  def member_chunk(member_state, member_args, shared, start):
    """One member's `num_steps` steps (`member_args`: its own, or every
    member's where they share batches)."""

    def body(state, i):
      batch = batches.batch((shared, member_args), start, i, state.step)
      return train_step(state, batch)

    return jax.lax.scan(body, member_state,
                        jnp.arange(num_steps, dtype=jnp.int32), unroll=unroll)

  def chunk(state, args, start):
    shared, per_member = args
    # The member map wraps the whole chunk: vmapped, its loop steps every
    # member at once (vmap of a scan is a scan of the vmapped step) and a
    # shared batch, independent of the member, is read once; unrolled (and
    # for K = 1), each member's steps are its own scan, a single run's
    # program exactly, with no member axis inside the loop.
    member_axes = None if batches.members_share_batches else 0
    return ensemble.map_members(
        member_chunk, num_members,
        in_axes=(ensemble.STATE_AXES, member_axes, None, None),
        out_axes=(ensemble.STATE_AXES, 1),
        unrolled=unrolled_members)(state, per_member, shared, start)

  return chunk


class ChunkRunner:
  """Runs chunks of train steps from a batch source; chunks never cross an
  epoch and hold at most `self.steps_per_call` steps, as `chunk_plan.plan`
  lays them out (`unroll`: see `chunk_plan.choose_unroll`, 0 = fully
  unrolled).
  """

  def __init__(self, train_step: TrainStep, batches: BatchSource,
               devices: Sequence[jax.Device], unroll: int,
               steps_per_epoch: int, steps_per_call: int,
               num_members: int = 1):
    self.train_step, self.batches = train_step, batches
    self.num_members = num_members
    self.devices, self.unroll = list(devices), unroll
    self.steps_per_epoch = steps_per_epoch
    self.plan = chunk_plan.plan(steps_per_epoch, steps_per_call, unroll,
                                num_members)
    self._compiled: dict[int, Callable[..., Any]] = {}

  @property
  def steps_per_call(self) -> int:
    return self.plan.steps_per_call

  @property
  def unrolled_members(self) -> bool:
    return self.plan.unrolled_members

  def chunk_sizes(self, start: int) -> list[int]:
    """The chunks that cover batches `start ..` of an epoch."""
    return chunk_plan.chunk_sizes(start, self.steps_per_epoch,
                                  self.plan.steps_per_call,
                                  self.plan.min_chunk)

  def run(self, state: TrainState, epoch: int, start: int,
          num_steps: int) -> tuple[TrainState, Any]:
    """Batches `start .. start + num_steps - 1` of `epoch`.

    `state` (replicated) is donated. Returns the new state and the metrics,
    leaves `[local devices, num_steps, K]`, still on the devices.
    """
    fn = self._compiled.get(num_steps)
    if fn is None:
      # True: no loop at all (a scan of one step with unroll=1 keeps one).
      unroll = True if self.unroll == 0 else min(self.unroll, num_steps)
      fn = jax.pmap(make_chunk(self.train_step, self.batches, num_steps,
                               unroll, self.num_members,
                               self.unrolled_members),
                    axis_name=parallel.AXIS, devices=self.devices,
                    in_axes=(0, 0, None), donate_argnums=(0,))
      self._compiled[num_steps] = fn
    args = self.batches.chunk_args(epoch, start, num_steps)
    return fn(state, args, np.int32(start))
