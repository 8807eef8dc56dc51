"""How training steps are cut into chunks: the chunk lengths of an epoch and
whether a chunk's steps (and an ensemble's members) are unrolled. Pure
functions of sizes and the platform; `chunks.ChunkRunner` applies them."""

from typing import Any, NamedTuple

import haiku as hk
import jax
import jax.numpy as jnp

# Fully unrolled chunks compile in time linear in their length (CNN on 2
# cores: about 2.0 s for 5 steps, 3.0 s for 10). 10 steps trained the CNN
# 6.7 % faster than 5 (medians of 5 interleaved runs, 3,590 vs 3,364 ex/s,
# docs/performance.md), so chunks of unrolled steps hold at most 10.
MAX_UNROLLED_STEPS = 10
# Nor fewer than 2 where the epoch allows: a fully unrolled chunk of one CNN
# step ran 20x slower (XLA:CPU kept its weight-gradient convolutions in a
# slow layout), so a 1-step epoch tail (Fashion-MNIST's 421 steps in 10s)
# joins the chunk before it.
MIN_UNROLLED_STEPS = 2
# An ensemble of a convolutional model on CPU: vmapped members run grouped
# convolutions, 2-3x slower on XLA:CPU than plain ones, so up to this many
# members are unrolled (one step per member in the chunk; more would compile
# too long), in chunks of at least `MIN_UNROLLED_STEPS` steps.
MAX_UNROLLED_MEMBERS = 16


def unrolls_members(unroll: int, num_members: int) -> bool:
  """Whether a chunk of `unroll` (0: fully unrolled) runs each of its
  `num_members` members' steps on its own instead of vmapping them."""
  return unroll == 0 and num_members <= MAX_UNROLLED_MEMBERS  # K = 1 too.


class Plan(NamedTuple):
  """How an epoch's steps are cut: chunks of `steps_per_call` steps (a
  shorter one may end the epoch, never below `min_chunk` where the epoch has
  that many: a shorter remainder joins the chunk before it);
  `unrolled_members`: an ensemble's members run one by one inside each step
  instead of vmapped."""
  steps_per_call: int
  min_chunk: int
  unrolled_members: bool


def plan(steps_per_epoch: int, steps_per_call: int, unroll: int,
         num_members: int) -> Plan:
  """The chunks for `steps_per_call` (the config's limit) and `unroll`
  (`choose_unroll`'s, 0 = fully unrolled): unrolled chunks hold at most
  `MAX_UNROLLED_STEPS` steps, `MAX_UNROLLED_STEPS // K` with K unrolled
  members (at least `MIN_UNROLLED_STEPS`), and no unrolled chunk is shorter
  than `MIN_UNROLLED_STEPS` (unless `steps_per_call` asks for less, e.g. 1
  step per call): an epoch's short tail joins the chunk before it."""
  unrolled_members = unrolls_members(unroll, num_members)
  if unrolled_members:
    steps_per_call = min(steps_per_call, max(
        MIN_UNROLLED_STEPS, MAX_UNROLLED_STEPS // num_members))
  elif unroll == 0:
    steps_per_call = min(steps_per_call, MAX_UNROLLED_STEPS)
  min_chunk = min(MIN_UNROLLED_STEPS, steps_per_call) if unroll == 0 else 1
  return Plan(chunk_length(steps_per_epoch, steps_per_call, min_chunk),
              min_chunk, unrolled_members)


def chunk_length(steps_per_epoch: int, steps_per_call: int,
                 min_length: int = 1) -> int:
  """Steps per chunk: `steps_per_call`, or less where that splits the epoch
  evenly (one compiled chunk size instead of two), within a factor of 2 and
  not below `min_length`.

  E.g. 35 steps per epoch: at most 10 per call -> 7; at most 50 -> 35.
  """
  limit = min(steps_per_call, steps_per_epoch)
  for length in range(limit, max((limit - 1) // 2, min_length - 1), -1):
    if steps_per_epoch % length == 0:
      return length
  return limit


def chunk_sizes(start: int, steps_per_epoch: int, steps_per_call: int,
                min_size: int = 1) -> list[int]:
  """Chunk lengths covering batches `start .. steps_per_epoch - 1`.

  Chunks end at multiples of `steps_per_call` within the epoch (or at its
  end), so a run resumed from any chunk end compiles the same sizes. A
  remainder shorter than `min_size` joins the chunk before it.
  """
  sizes = []
  while start < steps_per_epoch:
    size = min(steps_per_call - start % steps_per_call,
               steps_per_epoch - start)
    rest = steps_per_epoch - start - size
    if 0 < rest < min_size:
      size += rest
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
  gradients inside a loop body far slower, see docs/performance.md; an
  ensemble's members are then unrolled too, as it runs vmapped, i.e.
  grouped, convolutions slower), else 1 (a loop: compiles in constant
  time).
  """
  if scan_unroll > 0:
    return scan_unroll
  return 0 if (has_conv and platform == "cpu") else 1
