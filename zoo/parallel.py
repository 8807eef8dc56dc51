"""Moving pytrees between the host and the devices of a pmapped loop.

Replicated and sharded values carry a leading axis of size `num_devices`.
"""

from typing import Any, Sequence

import jax
import jax.numpy as jnp
from jax.sharding import Mesh, NamedSharding, PartitionSpec
import numpy as np

from zoo import errors

AXIS = "devices"  # The pmap axis name used by every collective.


def device_sharding(devices: Sequence[jax.Device]) -> NamedSharding:
  """Splits an array's leading axis over `devices`, as pmap expects."""
  return NamedSharding(Mesh(np.asarray(devices), (AXIS,)), PartitionSpec(AXIS))


def replicate(tree: Any, devices: Sequence[jax.Device]) -> Any:
  """Stacks `len(devices)` copies of every leaf, one on each device."""
  sharding = device_sharding(devices)
  n = len(devices)
  return jax.tree.map(
      lambda x: jax.device_put(jnp.broadcast_to(x, (n, *jnp.shape(x))),
                               sharding), tree)


def replicate_array(x: Any, devices: Sequence[jax.Device]) -> jax.Array:
  """One copy of array `x` per device, stacked: `[len(devices), *x.shape]`.

  Unlike `replicate`, never materialises the stacked array on one device
  (for large arrays such as a whole training split).
  """
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
    raise errors.ConfigError(
        f"config.train.batch_size={batch_size} does not divide evenly over "
        f"the {num_devices} devices. Use a multiple of {num_devices}, e.g. "
        f"--config.train.batch_size={lower} or {upper}.")


def max_steps_in_flight(devices: Sequence[jax.Device]) -> int:
  """How many pmapped steps may be queued before the host waits.

  Several multi-device CPU collectives queued asynchronously can deadlock
  ("Termination timeout for all reduce"), so on several CPU devices the host
  waits for each step. Elsewhere a short queue keeps the devices busy.
  """
  if len(devices) > 1 and devices[0].platform == "cpu":
    return 1
  return 8
