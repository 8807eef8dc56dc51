"""A user model for the interruption tests: the built-in MLP, slowed at will.

With ZOO_TEST_STEP_SLEEP=<seconds> set, every training forward pass sleeps
that long on the host, so that a test can signal or kill a subprocess while
it trains. Unset, it is the plain MLP: same parameters, same numbers.
"""

import os
import time

import jax

import zoo
from zoo.models import mlp


def _sleep() -> None:
  time.sleep(float(os.environ.get("ZOO_TEST_STEP_SLEEP") or 0))


@zoo.register_model("slow_mlp")
class SlowMLP(mlp.MLP):
  """`mlp.MLP` whose training forward pass calls `_sleep` on the host."""

  def __call__(self, x: jax.Array, is_training: bool) -> jax.Array:
    if is_training:
      jax.debug.callback(_sleep)
    return super().__call__(x, is_training)
