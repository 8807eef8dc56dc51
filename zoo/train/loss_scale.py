"""Loss scaling for low-precision training (jmp), one code path for all.

float16 gradients underflow (smallest normal ~6e-5) unless the loss is
scaled up before differentiation and the gradients scaled back down after.
`train.precision='float16'` uses `jmp.DynamicLossScale`: the scale (a
float32 scalar, first 2**15) doubles after `PERIOD` steps in a row with
finite gradients and halves (down to 1) at a step whose gradients are not
finite; such a step changes no parameter, model state or optimizer state
(it is skipped, and counted in the metrics as `skipped`). float32 and
bfloat16 (float32's exponent range) use `jmp.NoOpLossScale`: scaling is the
identity, no step is skipped, and the arithmetic is today's.

The loss scale lives in `TrainState.loss_scale` and is checkpointed with it
(`loss_scale.0`: the scale, float32; `loss_scale.1`: steps since it last
changed, int32). `NoOpLossScale` holds no array, so a float32 or bfloat16
state has exactly the arrays it had before loss scaling existed.
"""

from typing import Any, Optional, TypeVar

import jax
import jax.numpy as jnp
import jmp
import numpy as np

from zoo.models import precision as precision_lib

T = TypeVar("T")

INITIAL_SCALE = 2.0 ** 15  # jmp's and Haiku's ImageNet example's.
PERIOD = 2000  # Finite steps before the scale doubles (jmp's default).


def initial(precision: str, scale: Optional[float] = None,
            period: Optional[int] = None) -> jmp.LossScale:
  """The loss scale a run of `precision` starts with (float16: `scale`,
  default `INITIAL_SCALE`, adjusted every `period`, default `PERIOD`)."""
  precision_lib.check(precision)
  if precision != "float16":
    return jmp.NoOpLossScale()
  scale = INITIAL_SCALE if scale is None else scale
  return jmp.DynamicLossScale(np.float32(scale), np.zeros((), np.int32),
                              period=PERIOD if period is None else period)


def skips_nonfinite(loss_scale: jmp.LossScale) -> bool:
  """Whether steps with non-finite gradients are skipped (dynamic scale)."""
  return isinstance(loss_scale, jmp.DynamicLossScale)


def adjust(loss_scale: jmp.LossScale,
           grads: Any) -> tuple[jax.Array, jmp.LossScale]:
  """`(finite, next loss scale)` after a step with (unscaled) `grads`.

  `finite` is a bool scalar: every gradient is finite (always True without
  a dynamic scale). Pass gradients already averaged over the devices, so
  that every device takes the same decision.
  """
  if not skips_nonfinite(loss_scale):
    return jnp.array(True), loss_scale
  finite = jmp.all_finite(grads)
  return finite, loss_scale.adjust(finite)


def keep_if_finite(loss_scale: jmp.LossScale, finite: jax.Array,
                   new: T, old: T) -> T:
  """`new`, or `old` where a dynamic scale skips this step (not `finite`)."""
  if not skips_nonfinite(loss_scale):
    return new
  return jmp.select_tree(finite, new, old)


def metrics(loss_scale: jmp.LossScale,
            finite: jax.Array) -> dict[str, jax.Array]:
  """Per-step metrics: `skipped` (int32 0/1) and `loss_scale` (float32,
  after this step's adjustment; 1 without loss scaling)."""
  return {"skipped": jnp.logical_not(finite).astype(jnp.int32),
          "loss_scale": jnp.asarray(loss_scale.loss_scale, jnp.float32)}
