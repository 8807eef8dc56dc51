"""Ensembles: K members trained at once, vmapped inside the per-device step.

Members are every (seed, learning rate) pair of `config.ensemble`, seed
major: seeds `seed + s` for `s < ensemble.size`, each with every rate of
`ensemble.learning_rates` (none: `optimizer.learning_rate`). Member
(seed + s, rate) derives its init key, step keys (dropout), data order and
augmentation keys from seed + s exactly as a single run with
`--config.seed=seed+s` at that rate does, so it trains that run's model (up
to the float rounding of batched kernels); `shared_data_order` gives every
member the data order and augmentation of `seed`.

Layout. Member-stacked values (the train state, per-member batch arguments,
per-member outputs) carry a leading member axis `[K, ...]`, K = 1 included.
`map_members` is the one place that knows K = 1: it runs one member's
function on member 0 and stacks its outputs (the arithmetic of a plain
single run, bit for bit), vmaps it for K > 1, or unrolls the members. The
step counter is shared (not stacked). Checkpoints written before this layout
(a single run without the axis) are read by zoo/checkpoint/store.py.
"""

import contextlib
import dataclasses
import os
from typing import Any, Callable, Iterator, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from zoo import errors
from zoo.config.spec import Members
from zoo.train.state import TrainState

# vmap axes of a member-stacked TrainState: every leaf but the shared step.
STATE_AXES = TrainState(params=0, model_state=0, opt_state=0, step=None,
                        rng=0, loss_scale=0)


def map_members(fn: Callable[..., Any], num_members: int, in_axes: Any,
                out_axes: Any, unrolled: bool = False) -> Callable[..., Any]:
  """`fn` (of one member) over all members: `jax.vmap(fn, in_axes,
  out_axes)`, or, with `unrolled=True` and for K = 1, `fn` called once per
  member in the traced program with its outputs stacked as vmap would
  stack them (K = 1: the single run's own arithmetic; XLA:CPU runs a
  vmapped convolution, a grouped one, 2-3x slower than K plain ones). In/out axes
  are 0 (member-stacked) or None (shared) per argument or per field of a
  NamedTuple such as `STATE_AXES`; out axes may also be 1 (stacked
  after a leading axis, e.g. steps); a shared output is member 0's.

  Inside a pmapped function, collectives over the pmap axis in `fn` act per
  member (a BatchNorm's cross-device statistics, the gradient's pmean).
  """
  if num_members > 1 and not unrolled:
    return jax.vmap(fn, in_axes=in_axes, out_axes=out_axes)

  def each(*args):
    outs = [fn(*_take(args, tuple(in_axes), i)) for i in range(num_members)]
    return _stack_outputs(outs, out_axes)

  return each


def _take(tree: Any, axes: Any, i: int) -> Any:
  """Member `i` of `tree` whose member axes (0 or None) are `axes`, a
  prefix of its structure (as vmap's in_axes)."""
  if axes is None:
    return tree
  if isinstance(axes, int):
    return jax.tree.map(lambda x: x[i], tree)
  parts = [_take(t, a, i) for t, a in zip(tree, axes)]
  return type(tree)(*parts) if hasattr(tree, "_fields") else type(tree)(parts)


def _stack_outputs(outs: list[Any], axes: Any) -> Any:
  """The members' outputs `outs` stacked where `axes` is 0 (member 0's
  where None), `axes` a prefix of their structure (as vmap's out_axes)."""
  if axes is None:
    return outs[0]
  if isinstance(axes, int):
    return jax.tree.map(lambda *xs: jnp.stack(xs, axis=axes), *outs)
  parts = [_stack_outputs([o[j] for o in outs], a) for j, a in enumerate(axes)]
  first = outs[0]
  return type(first)(*parts) if hasattr(first, "_fields") else type(first)(
      parts)


def stack(trees: Sequence[Any]) -> Any:
  """Leaves of `trees` stacked on a new leading member axis (numpy leaves
  stay numpy)."""
  return jax.tree.map(lambda *xs: (np.stack(xs) if isinstance(
      xs[0], np.ndarray) else jnp.stack(xs)), *trees)


def member(tree: Any, i: int, num_members: int) -> Any:
  """Member `i` of a member-stacked tree, e.g. a TrainState (its shared
  step stays as it is)."""
  if not 0 <= i < num_members:
    raise IndexError(f"member {i} of {num_members}")
  take = lambda t: jax.tree.map(lambda x: x[i], t)  # noqa: E731
  if isinstance(tree, TrainState):
    return tree._replace(**{f: take(getattr(tree, f)) for f in tree._fields
                            if f != "step"})
  return take(tree)


def init_members(init: Callable[[jax.Array], TrainState], members: Members,
                 set_rate: Callable[[Any, Any], Any]) -> TrainState:
  """The member-stacked initial state, compiled as one call.

  `init(key)` is one run's (`state.init_fn`); member i gets
  `init(jax.random.key(seeds[i]))`, as a single run of that seed does, then
  `set_rate(opt_state, learning_rates[i])` if rates live in the state.
  """

  def one(key: jax.Array, rate: jax.Array) -> TrainState:
    state = init(key)
    if members.rate_as_state:
      state = state._replace(opt_state=set_rate(state.opt_state, rate))
    return state

  k = members.size
  keys = stack([jax.random.key(s) for s in members.seeds])
  rates = stack([np.float32(r or 0.0)
                 for r in (members.learning_rates or (None,) * k)])
  return jax.jit(map_members(one, k, (0, 0), STATE_AXES))(keys, rates)


@contextlib.contextmanager
def out_of_memory_hint(members: Members) -> Iterator[None]:
  """Re-raises a device out-of-memory error of an ensemble (K > 1) as a
  one-line ConfigError naming `ensemble.size`."""
  try:
    yield
  except Exception as e:  # pylint: disable=broad-except
    k = members.size
    text = str(e)
    if k == 1 or not ("RESOURCE_EXHAUSTED" in text
                      or "out of memory" in text.lower()):
      raise
    first = text.strip().splitlines()[0][:200] if text.strip() else ""
    device = jax.local_devices()[0]
    available = device_memory_bytes(device)
    has = (f"; the device ({device.platform}) has {_mb(available)}"
           if available else "")
    raise errors.ConfigError(
        f"config.ensemble.size={k}: the {k} members and their activations "
        f"do not fit in the device memory{has} ({type(e).__name__}: "
        f"{first}). Train fewer at once with "
        f"--config.ensemble.size={max(1, k // 2)} (or a smaller "
        "train.batch_size).") from e


# A step holds, besides the state (params, optimizer moments, ...), its
# gradients and the optimizer's temporaries: about twice the state.
STEP_MEMORY_FACTOR = 2


def device_memory_bytes(device: jax.Device) -> Optional[int]:
  """What `device` can hold: its allocator's limit (GPU, TPU), or the
  host's physical memory for a CPU device; None if unknown."""
  try:  # A device of another process has none to give.
    stats = device.memory_stats()
  except Exception:  # pylint: disable=broad-except
    stats = None
  if stats and stats.get("bytes_limit"):
    return int(stats["bytes_limit"])
  if device.platform == "cpu":
    try:
      return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
      return None
  return None


def check_fits(num_members: int, init: Callable[[jax.Array], TrainState],
               device: jax.Device) -> None:
  """Stops, before anything is allocated, an ensemble whose members' states
  (one is `init(key)`'s, of which only the shapes are traced) times
  `STEP_MEMORY_FACTOR` exceed the device's memory, naming `ensemble.size`,
  one member's need and the device's memory."""
  if num_members == 1:
    return  # A single run meets the device's own out-of-memory error.
  member_state_bytes = sum(
      x.size * x.dtype.itemsize
      for x in jax.tree.leaves(jax.eval_shape(init, jax.random.key(0)))
      if not jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key))
  available = device_memory_bytes(device)
  need = num_members * member_state_bytes * STEP_MEMORY_FACTOR
  if available is None or need <= available:
    return
  fits = max(1, available // (member_state_bytes * STEP_MEMORY_FACTOR))
  raise errors.ConfigError(
      f"config.ensemble.size={num_members}: each member needs about "
      f"{_mb(member_state_bytes * STEP_MEMORY_FACTOR)} for its parameters, "
      f"optimizer state and gradients ({_mb(need)} for {num_members}), "
      f"activations not counted; the device ({device.platform}) has "
      f"{_mb(available)}. Train at most {fits} at once: "
      f"--config.ensemble.size={fits}.")


def _mb(num_bytes: int) -> str:
  return f"{num_bytes / 2**20:,.0f} MB"
