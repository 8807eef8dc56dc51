"""Mixed-precision policies: which dtype a model computes in
(`config.train.precision`), applied with `hk.mixed_precision` and jmp.

Every precision keeps parameters in float32 and returns float32 logits:

  float32   compute in float32 (the policies change no dtype: a no-op).
  bfloat16  compute in bfloat16; BatchNorm and LayerNorm in float32.
  float16   as bfloat16, in float16 (train it with dynamic loss scaling,
            zoo/train/loss_scale.py: float16 gradients underflow without).

Haiku looks policies up per module class, in a thread-local table, while a
module's method is traced. `policies` sets them for the duration of one
trace (inside the transformed function, `registry.build_forward`) and then
restores the table, so no policy outlives the forward pass that used it:
one run's bfloat16 never reaches a later float32 run in the same process.
"""

import contextlib
from typing import Any, Iterator

import haiku as hk
import jmp

from zoo import errors
from zoo.config.spec import PRECISIONS  # Listed once, in the field table.

# Normalisation layers compute in float32 under every policy (their
# statistics lose too much in 8 mantissa bits), as in Haiku's ImageNet
# example; they return the model's compute dtype.
FLOAT32_MODULES = (hk.BatchNorm, hk.LayerNorm)


def check(precision: str) -> None:
  """Raises ConfigError unless `precision` is one of `PRECISIONS`."""
  if precision not in PRECISIONS:
    raise errors.ConfigError(
        f"config.train.precision={precision!r} is invalid: choose one of "
        f"{', '.join(PRECISIONS)}. Fix it with --config.train.precision="
        "<value>.")


def model_policy(precision: str) -> jmp.Policy:
  """Params float32, compute in `precision`, outputs (logits) float32."""
  check(precision)
  return jmp.get_policy(
      f"params=float32,compute={precision},output=float32")


def float32_module_policy(precision: str) -> jmp.Policy:
  """For `FLOAT32_MODULES`: params and compute float32, output in
  `precision` (the dtype the layers around them compute in)."""
  check(precision)
  return jmp.get_policy(f"params=float32,compute=float32,output={precision}")


@contextlib.contextmanager
def policies(precision: str, model: Any) -> Iterator[None]:
  """Sets the policies for `model`'s class and `FLOAT32_MODULES` while
  active (call inside `hk.transform`, around the model's call).

  Raises ConfigError for a low precision and a model that is not an
  `hk.Module` (Haiku applies policies to module classes only).
  """
  if precision != "float32" and not isinstance(model, hk.Module):
    raise errors.ConfigError(
        f"config.train.precision={precision!r} needs a model that is an "
        f"hk.Module; the builder returned {type(model).__name__}. Use "
        "--config.train.precision=float32.")
  with contextlib.ExitStack() as stack:
    stack.enter_context(hk.mixed_precision.push_policy(
        type(model), model_policy(precision)))
    for cls in FLOAT32_MODULES:
      stack.enter_context(hk.mixed_precision.push_policy(
          cls, float32_module_policy(precision)))
    yield
