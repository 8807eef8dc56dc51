"""Moving pytrees between the host and the devices of a pmapped loop.

Replicated and sharded values carry a leading axis of size `num_devices`.

With several processes (see zoo/runtime/distributed.py) the pmap runs over
the devices of every process, `global_devices()`, grouped by process; each process holds
and feeds only its own devices: `replicate` places a tree on them and
`process_rows` says which rows of each global batch are its share.
"""

from typing import Any, Sequence

import jax
from jax.experimental import multihost_utils
import jax.numpy as jnp
from jax.sharding import Mesh, NamedSharding, PartitionSpec
import numpy as np

from zoo import errors

AXIS = "devices"  # The pmap axis name used by every collective.


def global_devices() -> tuple[jax.Device, ...]:
  """Every device of every process, grouped by process: pmap's device order."""
  return tuple(d for p in range(jax.process_count())
               for d in jax.local_devices(process_index=p))


def local_devices(devices: Sequence[jax.Device]) -> list[jax.Device]:
  """The devices of `devices` that belong to this process, in order."""
  if not devices:
    return []
  mine = set(jax.local_devices(backend=devices[0].platform))
  return [d for d in devices if d in mine]


def process_rows(global_batch: int, devices: Sequence[jax.Device]) -> slice:
  """This process's rows of a `[global_batch, ...]` batch pmapped on `devices`.

  pmap gives the i-th device of `devices` rows `[i * b, (i + 1) * b)` with
  `b = global_batch // len(devices)`, so a process whose devices are
  contiguous in `devices` feeds one contiguous block of rows.
  """
  check_divisible(global_batch, len(devices))
  owners = [d.process_index for d in devices]
  mine = set(local_devices(devices))
  positions = [i for i, d in enumerate(devices) if d in mine]
  if (owners != sorted(owners) or not positions
      or positions[-1] - positions[0] + 1 != len(positions)):
    raise ValueError(f"Devices must be grouped by process, got owners {owners}")
  per_device = global_batch // len(devices)
  return slice(positions[0] * per_device, (positions[-1] + 1) * per_device)


def gather_rows(local: np.ndarray) -> np.ndarray:
  """Joins every process's rows `[batches, rows, ...]` in process order.

  Returns `[batches, process_count * rows, ...]`: batch by batch, the rows of
  process 0, then those of process 1, ... (all processes must call it).
  """
  if jax.process_count() == 1:
    return np.asarray(local)
  stacked = np.asarray(multihost_utils.process_allgather(local))
  stacked = np.moveaxis(stacked, 0, 1)  # [batches, processes, rows, ...]
  return stacked.reshape(stacked.shape[0], -1, *stacked.shape[3:])


def device_sharding(devices: Sequence[jax.Device]) -> NamedSharding:
  """Splits an array's leading axis over `devices`, as pmap expects."""
  return NamedSharding(Mesh(np.asarray(devices), (AXIS,)), PartitionSpec(AXIS))


def replicate(tree: Any, devices: Sequence[jax.Device]) -> Any:
  """Stacks one copy of every leaf on each of this process's `devices`.

  Single-process that is every device; with several processes, only the
  local ones (what pmap expects from each process).
  """
  devices = local_devices(devices)
  sharding = device_sharding(devices)
  n = len(devices)
  return jax.tree.map(
      lambda x: jax.device_put(jnp.broadcast_to(x, (n, *jnp.shape(x))),
                               sharding), tree)


def replicate_array(x: Any, devices: Sequence[jax.Device]) -> jax.Array:
  """One copy of array `x` on each of this process's `devices`, stacked.

  Like `replicate` (`[local devices, *x.shape]`), but never materialises
  the stacked array on one device (for large arrays: a whole split).
  """
  devices = local_devices(devices)
  shards = [jax.device_put(x[None], d) for d in devices]
  return jax.make_array_from_single_device_arrays(
      (len(devices), *np.shape(x)), device_sharding(devices), shards)


def unreplicate(tree: Any) -> Any:
  """The first device's copy of every leaf of a replicated tree."""
  return jax.tree.map(lambda x: x[0], tree)


def shard(batch: dict[str, np.ndarray], num_devices: int) -> dict[str, Any]:
  """Reshapes each `[global_batch, ...]` array to `[devices, per_device, ...]`."""
  def split(x):
    if x.shape[0] % num_devices:
      raise errors.ConfigError(
          f"A batch of {x.shape[0]} examples cannot be split evenly over "
          f"{num_devices} devices.")
    return x.reshape(num_devices, x.shape[0] // num_devices, *x.shape[1:])
  return jax.tree.map(split, batch)


def check_divisible(batch_size: int, num_devices: int) -> None:
  """Raises ConfigError unless the global batch splits evenly over devices."""
  if batch_size % num_devices:
    lower = max(num_devices, batch_size // num_devices * num_devices)
    upper = (batch_size // num_devices + 1) * num_devices
    where = (f" of all {jax.process_count()} processes"
             if jax.process_count() > 1 else "")
    raise errors.ConfigError(
        f"config.train.batch_size={batch_size} does not divide evenly over "
        f"the {num_devices} devices{where}. Use a multiple of {num_devices}, "
        f"e.g. --config.train.batch_size={lower} or {upper}.")
