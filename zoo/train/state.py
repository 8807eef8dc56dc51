"""The train state: one pytree holding everything a step changes."""

from typing import Any, Callable, NamedTuple

import haiku as hk
import jax
import jax.numpy as jnp
import jmp
import optax


class TrainState(NamedTuple):
  """Params, model state (e.g. batch-norm statistics), optimizer state, the
  number of steps taken, the run's base PRNG key (never split in place:
  each step derives its own key from it, see `step.step_rng`) and the loss
  scale (zoo/train/loss_scale.py; `NoOpLossScale`, which holds no array,
  unless float16)."""
  params: hk.Params
  model_state: hk.State
  opt_state: optax.OptState
  step: jax.Array  # int32 scalar.
  rng: jax.Array  # Typed PRNG key.
  loss_scale: jmp.LossScale = jmp.NoOpLossScale()


def init_fn(forward: hk.TransformedWithState,
            optimizer: optax.GradientTransformation,
            input_shape: tuple[int, ...],
            loss_scale: jmp.LossScale = jmp.NoOpLossScale()
           ) -> Callable[[jax.Array], TrainState]:
  """`init(key) -> TrainState`: params from a dummy batch `[1, *input_shape]`
  (the key split into the init key and the run's base key); the state
  starts with `loss_scale` (`loss_scale.initial(precision)`)."""

  def init(key: jax.Array) -> TrainState:
    init_rng, base_rng = jax.random.split(key)
    dummy = jnp.zeros((1, *input_shape), jnp.float32)
    params, model_state = forward.init(init_rng, dummy, is_training=True)
    return TrainState(params=params, model_state=model_state,
                      opt_state=optimizer.init(params),
                      step=jnp.zeros((), jnp.int32), rng=base_rng,
                      loss_scale=loss_scale)

  return init


def init_state(forward: hk.TransformedWithState,
               optimizer: optax.GradientTransformation,
               input_shape: tuple[int, ...], seed: int,
               loss_scale: jmp.LossScale = jmp.NoOpLossScale()) -> TrainState:
  """One run's state from `seed` (`init_fn`), compiled as one XLA call (run
  op by op it costs dozens of tiny compiles)."""
  return jax.jit(init_fn(forward, optimizer, input_shape, loss_scale))(
      jax.random.key(seed))


def num_params(params: Any) -> int:
  """Total number of scalars in `params`."""
  return sum(int(x.size) for x in jax.tree.leaves(params))
